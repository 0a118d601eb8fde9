/**
 * Reading lists of the single table: cursors, and pages of a list spread over several partition
 * key values (`LISTS` in dynamodb-keys.ts), gathered from every shard and merged in order.
 */
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../domain/errors.ts';

export function encodeCursor(key: Record<string, unknown> | undefined): string | null {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : null;
}

/** Decodes a cursor made by `encodeCursor`; anything else is a 400 naming the parameter. */
export function decodeCursor(cursor: string | undefined, expectedKeys: readonly string[]): Record<string, string> | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const ok =
    typeof value === 'object' &&
    value !== null &&
    expectedKeys.every((k) => typeof (value as Record<string, unknown>)[k] === 'string') &&
    Object.keys(value).length === expectedKeys.length;
  if (!ok) throw new ValidationError('cursor is not one this API returned; start again without it', { path: 'cursor' });
  return value as Record<string, string>;
}

/** A list spread over several partition key values of an index. */
export interface ShardedListQuery {
  /** Names the list in its cursors, so that a cursor of another list is refused. */
  id: string;
  /** The index holding the list. */
  index: 'GSI1' | 'GSI2';
  /** Every partition key value of the list. */
  keys: readonly string[];
}

type Item = Record<string, unknown>;

/**
 * One page of a sharded list, newest first (or oldest first): every shard is asked for its first
 * `limit` items after the cursor, in parallel, and the first `limit` of them all make the page.
 * Each item of the page is among its own shard's first `limit`, so none is missed. Sort keys are
 * unique within a list (they end in the item's id or hash), so the cursor is the last sort key
 * given and the list it belongs to.
 */
export async function gatherPage<T = Item>(
  doc: DynamoDBDocumentClient,
  tableName: string,
  list: ShardedListQuery,
  opts: { limit: number; cursor?: string; newestFirst: boolean },
): Promise<{ items: T[]; nextCursor: string | null }> {
  const p = `${list.index}PK`;
  const s = `${list.index}SK`;
  const start = decodeCursor(opts.cursor, ['list', 'after']);
  if (start && (start.list !== list.id || start.after === '')) {
    throw new ValidationError('cursor belongs to another list; start again without it', { path: 'cursor' });
  }
  const pages = await Promise.all(
    list.keys.map((pk) =>
      doc.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: list.index,
          KeyConditionExpression: start ? `#p = :pk AND #s ${opts.newestFirst ? '<' : '>'} :after` : '#p = :pk',
          ExpressionAttributeNames: { '#p': p, ...(start && { '#s': s }) },
          ExpressionAttributeValues: { ':pk': pk, ...(start && { ':after': start.after }) },
          ScanIndexForward: !opts.newestFirst,
          Limit: opts.limit,
        }),
      ),
    ),
  );
  const sortKey = (i: Item) => String(i[s]);
  const order = opts.newestFirst ? -1 : 1;
  const all = pages.flatMap((o) => o.Items ?? []).sort((a, b) => (sortKey(a) < sortKey(b) ? -order : sortKey(a) > sortKey(b) ? order : 0));
  const items = all.slice(0, opts.limit);
  const more = all.length > opts.limit || pages.some((o) => o.LastEvaluatedKey !== undefined);
  const last = items.at(-1);
  return { items: items as T[], nextCursor: more && last ? encodeCursor({ list: list.id, after: sortKey(last) }) : null };
}
