/**
 * The suppression list of each business number in the single table: `SUPP#<phoneNumberId>#<to>` /
 * `SUPP`, listed through GSI1 `SUPPS#<phoneNumberId>#<shard>` (sharded by user: a broadcast whose
 * every MARKETING send fails with 131050 adds users at its own rate). A Put is conditional, so the
 * first reason and time are kept; a Delete is idempotent.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Suppression, SuppressionReason, SuppressionStore } from '../domain/suppressions.ts';
import { keys } from './dynamodb-keys.ts';
import { gatherPage } from './dynamodb-lists.ts';
import { DynamoDbTable } from './dynamodb-table.ts';

const toSuppression = (i: Record<string, any>): Suppression => ({ phoneNumberId: i.phoneNumberId, to: i.to, reason: i.reason, createdAt: i.createdAt });

export class DynamoDbSuppressions extends DynamoDbTable implements SuppressionStore {
  async add(phoneNumberId: string, to: string, reason: SuppressionReason, atMs: number): Promise<{ created: boolean; suppression: Suppression }> {
    const createdAt = new Date(atMs).toISOString();
    const item = {
      ...keys.suppression(phoneNumberId, to),
      entity: 'suppression',
      phoneNumberId,
      to,
      reason,
      createdAt,
      GSI1PK: keys.suppressions(phoneNumberId, to),
      GSI1SK: `${createdAt}#${to}`,
    };
    try {
      await this.doc.send(new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(PK)' }));
      return { created: true, suppression: toSuppression(item) };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException) && (err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
      return { created: false, suppression: (await this.get(phoneNumberId, to))! };
    }
  }

  async get(phoneNumberId: string, to: string): Promise<Suppression | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.suppression(phoneNumberId, to), ConsistentRead: true }));
    return out.Item ? toSuppression(out.Item) : undefined;
  }

  async remove(phoneNumberId: string, to: string): Promise<boolean> {
    const out = await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: keys.suppression(phoneNumberId, to), ReturnValues: 'ALL_OLD' }));
    return out.Attributes !== undefined;
  }

  async list(phoneNumberId: string, opts: { limit: number; cursor?: string }): Promise<{ items: Suppression[]; nextCursor: string | null }> {
    const page = await gatherPage<Record<string, any>>(
      this.doc,
      this.tableName,
      { id: `suppressions:${phoneNumberId}`, index: 'GSI1', keys: keys.suppressionsShards(phoneNumberId) },
      { limit: opts.limit, ...(opts.cursor !== undefined && { cursor: opts.cursor }), newestFirst: true },
    );
    return { items: page.items.map(toSuppression), nextCursor: page.nextCursor };
  }
}
