/**
 * The suppression list of each business in the single table: `SUPP#<wabaId>#<to>` / `SUPP`,
 * listed through GSI1 `SUPPS#<wabaId>#<shard>` (sharded by user: a broadcast whose every MARKETING
 * send fails with 131050 adds users at its own rate). A list kept under a number (its id in place of
 * the WABA's: before lists were per WABA, or where the WABA is not known) has the same form. A Put is conditional, so the
 * first reason and time are kept; a Delete is idempotent.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Suppression, SuppressionReason, SuppressionStore } from '../domain/suppressions.ts';
import { keys } from './dynamodb-keys.ts';
import { gatherPage, getItems } from './dynamodb-lists.ts';
import { DynamoDbTable } from './dynamodb-table.ts';

const toSuppression = (i: Record<string, any>): Suppression => ({
  // Kept before lists were per WABA: under a number, as `phoneNumberId`.
  wabaId: i.wabaId ?? i.phoneNumberId,
  to: i.to,
  reason: i.reason,
  createdAt: i.createdAt,
  ...(i.wabaId !== undefined && i.phoneNumberId !== undefined && { phoneNumberId: i.phoneNumberId }),
});

export class DynamoDbSuppressions extends DynamoDbTable implements SuppressionStore {
  async add(listId: string, to: string, reason: SuppressionReason, atMs: number, phoneNumberId?: string): Promise<{ created: boolean; suppression: Suppression }> {
    const createdAt = new Date(atMs).toISOString();
    const item = {
      ...keys.suppression(listId, to),
      entity: 'suppression',
      wabaId: listId,
      to,
      reason,
      createdAt,
      ...(phoneNumberId !== undefined && { phoneNumberId }),
      GSI1PK: keys.suppressions(listId, to),
      GSI1SK: `${createdAt}#${to}`,
    };
    try {
      await this.doc.send(new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(PK)' }));
      return { created: true, suppression: toSuppression(item) };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException) && (err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
      const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.suppression(listId, to), ConsistentRead: true }));
      // Removed again in between: what was asked for is what holds now.
      return { created: false, suppression: toSuppression(out.Item ?? item) };
    }
  }

  async onAny(listIds: readonly string[], to: string): Promise<boolean> {
    const found = await getItems(this.doc, this.tableName, listIds.map((id) => keys.suppression(id, to)), { consistent: true });
    return found.size > 0;
  }

  async remove(listIds: readonly string[], to: string): Promise<boolean> {
    const removed = await Promise.all(
      [...new Set(listIds)].map(async (id) => {
        const out = await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: keys.suppression(id, to), ReturnValues: 'ALL_OLD' }));
        return out.Attributes !== undefined;
      }),
    );
    return removed.includes(true);
  }

  async list(listIds: readonly string[], opts: { limit: number; cursor?: string }): Promise<{ items: Suppression[]; nextCursor: string | null }> {
    const ids = [...new Set(listIds)];
    const page = await gatherPage<Record<string, any>>(
      this.doc,
      this.tableName,
      { id: `suppressions:${ids.join(',')}`, index: 'GSI1', keys: ids.flatMap((id) => keys.suppressionsShards(id)) },
      { limit: opts.limit, ...(opts.cursor !== undefined && { cursor: opts.cursor }), newestFirst: true },
    );
    return { items: page.items.map(toSuppression), nextCursor: page.nextCursor };
  }
}
