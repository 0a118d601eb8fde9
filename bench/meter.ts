/**
 * Meters for the bench: every request an SDK client sends, by service and command, and the write
 * and read units DynamoDB bills for it. Write units come from `ReturnConsumedCapacity: INDEXES`
 * (added to every request); a write refused by its condition reports none, yet AWS bills it, so it
 * is counted by hand: a failed conditional write as the size of the item it named (at least 1
 * unit), a cancelled transaction as twice the units of each of its items.
 */
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';

export interface Meter {
  /** `<service> <command>` → requests. */
  requests: Map<string, number>;
  wcu: number;
  rcu: number;
  /** Of `wcu`: units of refused writes, counted by hand. */
  failedWcu: number;
  /** `wcu` by where DynamoDB spent it: `table`, each index by name, `refused` (counted by hand). */
  wcuBy: Map<string, number>;
}

export const newMeter = (): Meter => ({ requests: new Map(), wcu: 0, rcu: 0, failedWcu: 0, wcuBy: new Map() });

export function snapshot(m: Meter): Meter {
  return { requests: new Map(m.requests), wcu: m.wcu, rcu: m.rcu, failedWcu: m.failedWcu, wcuBy: new Map(m.wcuBy) };
}

const minus = (now: Map<string, number>, before: Map<string, number>) => {
  const out = new Map<string, number>();
  for (const [k, v] of now) if (v - (before.get(k) ?? 0) > 0) out.set(k, v - (before.get(k) ?? 0));
  return out;
};

/** What happened between two snapshots. */
export function since(now: Meter, before: Meter): Meter {
  return {
    requests: minus(now.requests, before.requests),
    wcu: now.wcu - before.wcu,
    rcu: now.rcu - before.rcu,
    failedWcu: now.failedWcu - before.failedWcu,
    wcuBy: minus(now.wcuBy, before.wcuBy),
  };
}

const add = (m: Map<string, number>, k: string, v: number) => v && m.set(k, (m.get(k) ?? 0) + v);

/** Write units of an answer by table and index (an answer that gives only the total counts as `table`). */
function writeUnitsBy(c: ConsumedCapacity | ConsumedCapacity[] | undefined, into: Map<string, number>): void {
  for (const x of Array.isArray(c) ? c : c ? [c] : []) {
    const indexes = Object.entries(x.GlobalSecondaryIndexes ?? {});
    const table = x.Table?.WriteCapacityUnits ?? x.Table?.CapacityUnits ?? 0;
    const parts = table + indexes.reduce((a, [, i]) => a + (i.WriteCapacityUnits ?? i.CapacityUnits ?? 0), 0);
    if (!parts) {
      add(into, 'table', x.WriteCapacityUnits ?? x.CapacityUnits ?? 0);
      continue;
    }
    add(into, 'table', table);
    for (const [name, i] of indexes) add(into, name, i.WriteCapacityUnits ?? i.CapacityUnits ?? 0);
  }
}

/** Requests of one service in a meter. */
export const requestsOf = (m: Meter, service: string) =>
  [...m.requests].filter(([k]) => k.startsWith(`${service} `)).reduce((a, [, v]) => a + v, 0);

/** DynamoDB's item size: attribute names plus values (numbers about 1 byte per 2 digits). */
export function itemBytes(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number' || typeof value === 'bigint') return Math.ceil(String(value).length / 2) + 1;
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set) return [...value].reduce((a: number, v) => a + itemBytes(v), 0);
  if (Array.isArray(value)) return 3 + value.reduce((a: number, v) => a + itemBytes(v) + 1, 0);
  return 3 + Object.entries(value as Record<string, unknown>).reduce((a, [k, v]) => a + Buffer.byteLength(k) + itemBytes(v) + 1, 0);
}

const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

/** What AWS bills for a write its condition refused (DynamoDB reports no consumed capacity for it). */
export function billedForRefusal(command: string, input: Record<string, any>, err: { name?: string; Item?: unknown; CancellationReasons?: unknown[] }): number {
  if (err.name === 'ConditionalCheckFailedException') {
    if (command === 'PutItemCommand') return writeUnits(itemBytes(input.Item));
    return writeUnits(err.Item ? itemBytes(err.Item) : 0);
  }
  if (err.name === 'TransactionCanceledException' && Array.isArray(input.TransactItems)) {
    return 2 * input.TransactItems.reduce((a: number, t: Record<string, any>) => a + writeUnits(t.Put ? itemBytes(t.Put.Item) : 0), 0);
  }
  return 0;
}

const sum = (c: ConsumedCapacity | ConsumedCapacity[] | undefined, field: 'WriteCapacityUnits' | 'ReadCapacityUnits') =>
  (Array.isArray(c) ? c : c ? [c] : []).reduce((a, x) => {
    const table = x.Table?.[field] ?? 0;
    const indexes = Object.values(x.GlobalSecondaryIndexes ?? {}).reduce((b, i) => b + (i[field] ?? 0), 0);
    // Some answers give only the total.
    return a + (table + indexes || (field === 'WriteCapacityUnits' ? x.WriteCapacityUnits : x.ReadCapacityUnits) || (x.CapacityUnits ?? 0));
  }, 0);

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand', 'BatchWriteItemCommand']);

type Stack = { add(mw: (next: any, ctx: any) => (args: any) => Promise<any>, opts: { step: 'initialize'; name: string }): void };

/** Counts every request of a client; for DynamoDB, the units each one is billed too. */
export function metered<C extends { middlewareStack: unknown; config: unknown }>(client: C, service: string, m: Meter): C {
  (client.middlewareStack as Stack).add(
    (next, ctx) => async (args) => {
      const command = String(ctx.commandName);
      const key = `${service} ${command.replace(/Command$/, '')}`;
      m.requests.set(key, (m.requests.get(key) ?? 0) + 1);
      if (service !== 'DynamoDB') return next(args);
      args.input.ReturnConsumedCapacity = 'INDEXES';
      try {
        const out = await next(args);
        const consumed = out.output?.ConsumedCapacity as ConsumedCapacity | ConsumedCapacity[] | undefined;
        if (WRITES.has(command)) {
          m.wcu += sum(consumed, 'WriteCapacityUnits');
          writeUnitsBy(consumed, m.wcuBy);
        } else m.rcu += sum(consumed, 'ReadCapacityUnits');
        return out;
      } catch (err) {
        const billed = billedForRefusal(command, args.input, err as never);
        m.wcu += billed;
        m.failedWcu += billed;
        add(m.wcuBy, 'refused', billed);
        throw err;
      }
    },
    { step: 'initialize', name: `benchMeter${service}` },
  );
  return client;
}
