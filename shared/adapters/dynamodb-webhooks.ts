/**
 * Webhooks in the single table: `WEBHOOK#<id>` / `WEBHOOK` (listed through GSI1 `WEBHOOKS`), their
 * delivery attempts `WHDLV#<id>#<shard>` / `<time>#<event id>#<attempt>` (GSI1 the same, kept 7
 * days) and parked jobs `WHPARKED#<id>#<shard>` / `PARKED#<event id>` (GSI1 by time, kept 30
 * days). Attempts and parked jobs grow with traffic, so they are sharded by event id
 * (dynamodb-keys.ts) and read from every shard.
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbTable } from './dynamodb-table.ts';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { batchWriteAll } from './dynamodb-batch-write.ts';
import { keys } from './dynamodb-keys.ts';
import { gatherPage } from './dynamodb-lists.ts';
import type { Delivery, DeliveryJob, StoredWebhook } from '../domain/webhooks.ts';
import type { WebhookStore } from '../ports/webhooks.ts';

const DAY_S = 86_400;
const hookKey = keys.webhook;
type Item = Record<string, any>;

/** A parked job: under its sharded key, listed by time in GSI1 under the same shard. */
function parkedItem(j: DeliveryJob, at: string, atMs: number): Item {
  const k = keys.webhookParked(j.webhookId, j.event.id);
  return { ...k, entity: 'webhookParked', jobJson: JSON.stringify(j), parkedAt: at, GSI1PK: k.PK, GSI1SK: `${at}#${j.event.id}`, ttl: Math.floor(atMs / 1000) + 30 * DAY_S };
}

const toWebhook = (i: Item): StoredWebhook & { previousSecretCiphertext?: string; previousUntilMs?: number } => ({
  id: i.id,
  url: i.url,
  events: i.events,
  description: i.description ?? null,
  createdAt: i.createdAt,
  secretCiphertext: i.secretCiphertext,
  ...(i.previousSecretCiphertext && { previousSecretCiphertext: i.previousSecretCiphertext, previousUntilMs: i.previousUntilMs }),
});

export class DynamoDbWebhooks extends DynamoDbTable implements WebhookStore {
  async create(w: StoredWebhook): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...hookKey(w.id), entity: 'webhook', ...w, GSI1PK: keys.webhookList, GSI1SK: `${w.createdAt}#${w.id}` },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
  }

  async get(id: string): Promise<StoredWebhook | undefined> {
    // Consistent: a webhook deleted a moment ago gets nothing more.
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: hookKey(id), ConsistentRead: true }));
    return out.Item ? toWebhook(out.Item) : undefined;
  }

  /** Every webhook, oldest first: the list is short (registered by hand), so it is read whole. */
  async list(): Promise<StoredWebhook[]> {
    return (await this.queryAll(keys.webhookList)).map(toWebhook);
  }

  async delete(id: string): Promise<boolean> {
    try {
      await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: hookKey(id), ConditionExpression: 'attribute_exists(PK)' }));
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async rotateSecret(id: string, secretCiphertext: string, previousUntilMs: number): Promise<StoredWebhook | undefined> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: hookKey(id),
          UpdateExpression: 'SET previousSecretCiphertext = secretCiphertext, previousUntilMs = :until, secretCiphertext = :s',
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeValues: { ':s': secretCiphertext, ':until': previousUntilMs },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes ? toWebhook(out.Attributes) : undefined;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }

  async recordDeliveries(deliveries: ReadonlyArray<Delivery & { webhookId: string }>): Promise<void> {
    await this.writeAll(
      deliveries.map(({ webhookId, ...d }) => {
        const sk = `${d.at}#${d.eventId}#${d.attempt}`;
        const k = keys.webhookDelivery(webhookId, d.eventId, sk);
        return { PutRequest: { Item: { ...k, entity: 'webhookDelivery', ...d, GSI1PK: k.PK, GSI1SK: sk, ttl: Math.floor(Date.parse(d.at) / 1000) + 7 * DAY_S } } };
      }),
    );
  }

  async listDeliveries(id: string, limit: number, cursor?: string): Promise<{ items: Delivery[]; nextCursor: string | null }> {
    const list = { id: `WHDLV#${id}`, index: 'GSI1' as const, keys: keys.webhookDeliveriesShards(id) };
    const { items, nextCursor } = await gatherPage<Item>(this.doc, this.tableName, list, { limit, ...(cursor !== undefined && { cursor }), newestFirst: true });
    return { items: items.map((i) => ({
      eventId: i.eventId,
      eventType: i.eventType,
      attempt: i.attempt,
      at: i.at,
      outcome: i.outcome,
      ...(i.httpStatus !== undefined && { httpStatus: i.httpStatus }),
      ...(i.error !== undefined && { error: i.error }),
      ...(i.nextAttemptAt !== undefined && { nextAttemptAt: i.nextAttemptAt }),
    })), nextCursor };
  }

  async park(jobs: readonly DeliveryJob[], atMs: number): Promise<void> {
    const at = new Date(atMs).toISOString();
    await this.writeAll(
      jobs.map((j) => ({
        PutRequest: { Item: parkedItem(j, at, atMs) },
      })),
    );
  }

  async parked(id: string, limit: number): Promise<DeliveryJob[]> {
    const list = { id: `WHPARKED#${id}`, index: 'GSI1' as const, keys: keys.webhookParkedShards(id) };
    const { items } = await gatherPage<Item>(this.doc, this.tableName, list, { limit, newestFirst: false });
    return items.map((i) => JSON.parse(String(i.jobJson)) as DeliveryJob);
  }

  async unpark(id: string, eventIds: readonly string[]): Promise<void> {
    // One DeleteItem each: replays are rare, and the API function does not batch-write.
    await Promise.all(eventIds.map((e) => this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: keys.webhookParked(id, e) }))));
  }

  private writeAll(requests: Array<Record<string, unknown>>): Promise<void> {
    return batchWriteAll(this.doc, this.tableName, requests, 'webhook');
  }
}
