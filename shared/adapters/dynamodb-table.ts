import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../domain/errors.ts';
import { DEFAULT_RETENTION_DAYS } from '../resource-spec.ts';
import { decodeCursor, encodeCursor, itemsOf } from './dynamodb-lists.ts';

/** Options of a table adapter. */
export interface TableOptions {
  /** Days messages and conversations are kept after their time (`ttl`). @default DEFAULT_RETENTION_DAYS */
  readonly retentionDays?: number;
}

/** What every adapter of the single table holds: the document client and the table's name. */
export abstract class DynamoDbTable {
  protected readonly doc: DynamoDBDocumentClient;
  protected readonly tableName: string;
  protected readonly retentionDays: number;
  constructor(doc: DynamoDBDocumentClient, tableName: string, options: TableOptions = {}) {
    this.doc = doc;
    this.tableName = tableName;
    this.retentionDays = options.retentionDays ?? DEFAULT_RETENTION_DAYS;
    if (!Number.isInteger(this.retentionDays) || this.retentionDays < 1) {
      throw new Error(`retentionDays must be a whole number of days ≥ 1, got ${this.retentionDays}`);
    }
  }

  /** The `ttl` (epoch seconds) of an item whose time is `timestampMs`: kept `retentionDays` after it. */
  protected expiresAt(timestampMs: number): number {
    return Math.floor(timestampMs / 1000) + this.retentionDays * 86_400;
  }

  /**
   * Every item of a GSI1 partition (optionally those whose sort key begins with `skPrefix`), all
   * pages: for short lists read whole (webhooks, a WABA's templates).
   */
  protected async queryAll(pk: string, skPrefix?: string): Promise<Record<string, any>[]> {
    const items: Record<string, any>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'GSI1',
          KeyConditionExpression: skPrefix === undefined ? 'GSI1PK = :pk' : 'GSI1PK = :pk AND begins_with(GSI1SK, :prefix)',
          ExpressionAttributeValues: { ':pk': pk, ...(skPrefix !== undefined && { ':prefix': skPrefix }) },
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return itemsOf(this.doc, this.tableName, items);
  }

  /** One page of a GSI partition, newest first, from a cursor of the same partition (keyset pagination). */
  protected async page<T>(
    index: 'GSI1' | 'GSI2',
    pk: string,
    limit: number,
    cursor: string | undefined,
  ): Promise<{ items: T[]; nextCursor: string | null }> {
    const p = `${index}PK`;
    const s = `${index}SK`;
    const startKey = decodeCursor(cursor, ['PK', 'SK', p, s]);
    // A cursor of another list (another conversation, or the quarantine) would be refused by
    // DynamoDB: it is the caller's mistake.
    if (startKey && (startKey[p] !== pk || Object.values(startKey).some((v) => v === ''))) {
      throw new ValidationError('cursor belongs to another list; start again without it', { path: 'cursor' });
    }
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: index,
        KeyConditionExpression: `${p} = :pk`,
        ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    );
    return { items: await itemsOf<T>(this.doc, this.tableName, out.Items ?? []), nextCursor: encodeCursor(out.LastEvaluatedKey) };
  }
}
