/**
 * Reading lists of the single table: cursors, and pages of a list spread over several partition
 * key values (`LISTS` in dynamodb-keys.ts), gathered from every shard and merged in order.
 */
import { BatchGetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { storeBusy, ValidationError } from '../domain/errors.ts';
import { TABLE_KEYS } from '../resource-spec.ts';

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

/** BatchGetItem takes at most this many keys. */
const BATCH_GET_MAX = 100;
const BATCH_GET_ATTEMPTS = 5;

/** One string per table key (`PK` and `SK`), for maps of items. */
export const keyId = (k: Item) => `${String(k[TABLE_KEYS.partitionKey])}\u0000${String(k[TABLE_KEYS.sortKey])}`;

/**
 * The items of these table keys, by BatchGetItem (100 keys a request, in parallel; keys left
 * unprocessed are asked again), in a map by `PK` and `SK`. An item deleted meanwhile is absent.
 * `consistent`: strongly consistent reads (twice the read units).
 */
export async function getItems(
  doc: DynamoDBDocumentClient,
  tableName: string,
  tableKeys: readonly Item[],
  { consistent = false }: { consistent?: boolean } = {},
): Promise<Map<string, Item>> {
  const found = new Map<string, Item>();
  const seen = new Set<string>();
  const unique = tableKeys.filter((k) => {
    const id = keyId(k);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  const chunks = Array.from({ length: Math.ceil(unique.length / BATCH_GET_MAX) }, (_, i) => unique.slice(i * BATCH_GET_MAX, (i + 1) * BATCH_GET_MAX));
  await Promise.all(
    chunks.map(async (chunk) => {
      let pending: Item[] = chunk.map((k) => ({ [TABLE_KEYS.partitionKey]: k[TABLE_KEYS.partitionKey], [TABLE_KEYS.sortKey]: k[TABLE_KEYS.sortKey] }));
      for (let attempt = 1; pending.length; attempt++) {
        const out = await doc.send(new BatchGetCommand({ RequestItems: { [tableName]: { Keys: pending, ...(consistent && { ConsistentRead: true }) } } }));
        for (const item of out.Responses?.[tableName] ?? []) found.set(keyId(item), item);
        pending = out.UnprocessedKeys?.[tableName]?.Keys ?? [];
        if (!pending.length) break;
        // Keys left unprocessed again and again mean the table is throttling: busy, not broken.
        if (attempt >= BATCH_GET_ATTEMPTS) throw storeBusy();
        await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
      }
    }),
  );
  return found;
}

/**
 * The whole items of index entries, in the entries' order. The indexes project keys only
 * (docs/data-model.md: an update that changes no key then writes no index), so a list reads its
 * page's keys from the index and the items from the table. An entry whose item is gone meanwhile
 * (deleted, expired) is left out.
 */
export async function itemsOf<T = Item>(doc: DynamoDBDocumentClient, tableName: string, entries: readonly Item[]): Promise<T[]> {
  if (!entries.length) return [];
  const found = await getItems(doc, tableName, entries);
  return entries.map((e) => found.get(keyId(e))).filter((i): i is Item => i !== undefined) as T[];
}

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
  return { items: await itemsOf<T>(doc, tableName, items), nextCursor: more && last ? encodeCursor({ list: list.id, after: sortKey(last) }) : null };
}
