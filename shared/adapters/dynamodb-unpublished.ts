/**
 * Events that could not be published, parked whole in the table (`UNPUB#<event id>`), listed
 * oldest first through GSI1 (`UNPUBLISHED#<shard>`, gathered from every shard). The stream sees
 * these items too; the events mapping ignores their entity.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbTable } from './dynamodb-table.ts';
import { keys } from './dynamodb-keys.ts';
import { gatherPage } from './dynamodb-lists.ts';
import { batchWriteAll } from './dynamodb-batch-write.ts';
import type { DomainEvent } from '../domain/events.ts';
import type { UnpublishedEvents } from '../ports/events.ts';

const key = keys.unpublishedEvent;

export class DynamoDbUnpublishedEvents extends DynamoDbTable implements UnpublishedEvents {
  private readonly now: () => number;
  constructor(doc: DynamoDBDocumentClient, tableName: string, now: () => number = Date.now) {
    super(doc, tableName);
    this.now = now;
  }

  async park(events: readonly DomainEvent[], reason: string): Promise<void> {
    const at = new Date(this.now()).toISOString();
    await this.writeAll(
      events.map((e) => ({
        PutRequest: {
          // The same event parked twice is the same item: a Put of equal content.
          Item: { ...key(e.id), entity: 'unpublishedEvent', eventId: e.id, type: e.type, reason, eventJson: JSON.stringify(e), parkedAt: at, GSI1PK: keys.unpublished(e.id), GSI1SK: `${e.time}#${e.id}` },
        },
      })),
    );
  }

  async list(limit: number): Promise<DomainEvent[]> {
    const list = { id: 'UNPUBLISHED', index: 'GSI1' as const, keys: keys.unpublishedShards() };
    const { items } = await gatherPage(this.doc, this.tableName, list, { limit, newestFirst: false });
    return items.map((i) => JSON.parse(String(i.eventJson)) as DomainEvent);
  }

  async remove(ids: readonly string[]): Promise<void> {
    await this.writeAll(ids.map((id) => ({ DeleteRequest: { Key: key(id) } })));
  }

  private writeAll(requests: Array<Record<string, unknown>>): Promise<void> {
    return batchWriteAll(this.doc, this.tableName, requests, 'parked-event');
  }
}
