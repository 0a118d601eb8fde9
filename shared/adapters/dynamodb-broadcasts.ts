/**
 * Broadcasts in the single table, and the pacer of each business number. Keys in their own section
 * (`broadcastKeys`), every one scoped by broadcast or number and sharded where it takes a write
 * per send, so that no partition sees more than a fraction of a number's rate:
 *
 * - broadcast `BCAST#<id>` / `BCAST`: what to send, its state (written a few times in its life);
 * - counters `BCAST#<id>#C#<shard>` / `COUNT`: recipients per state, `shard = seq % SHARDS`;
 * - recipient `BCAST#<id>#R#<to>` / `RCPT`, listed through GSI1 `BCASTR#<id>#<shard>` / `<to>`;
 * - pacer `PACE#<phoneNumberId>#<shard>` / `PACE`: the next free send slot of one shard of the
 *   number's rate (generic cell rate algorithm, kept with conditional writes only).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { RECIPIENT_STATES, type Broadcast, type Recipient, type RecipientState } from '../domain/broadcasts.ts';
import { ValidationError } from '../domain/errors.ts';
import { MAX_REJECT_SAMPLES, REJECT_REASONS, type PageTally, type RejectReason } from '../domain/broadcast-uploads.ts';
import type { BroadcastStore, Pacer } from '../ports/broadcasts.ts';
import { keys } from './dynamodb-keys.ts';
import { DynamoDbTable } from './dynamodb-table.ts';

/** Shards of a broadcast's counters and recipient listing. */
export const BROADCAST_SHARDS = 16;
/** Sends per second one pacer shard takes at most: a number gets `ceil(rate / this)` shards. */
export const PACER_SHARD_RATE = 25;

export const broadcastKeys = {
  broadcast: (id: string) => ({ PK: `BCAST#${id}`, SK: 'BCAST' }),
  counter: (id: string, shard: number) => ({ PK: `BCAST#${id}#C#${shard}`, SK: 'COUNT' }),
  recipient: (id: string, to: string) => ({ PK: `BCAST#${id}#R#${to}`, SK: 'RCPT' }),
  pacer: (phoneNumberId: string, shard: number) => ({ PK: `PACE#${phoneNumberId}#${shard}`, SK: 'PACE' }),
  /** A loaded page of an uploaded list: written once, so a retried page counts nothing twice. */
  page: (id: string, offset: number) => ({ PK: `BCAST#${id}#L#${offset}`, SK: 'PAGE' }),
} as const;

type Item = Record<string, any>;
/** A conditional write (or a transaction's condition) that DynamoDB refused: someone else got there. */
export const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException ||
  (err as { name?: string }).name === 'ConditionalCheckFailedException' ||
  ((err as { name?: string }).name === 'TransactionCanceledException' &&
    ((err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed'));

const toRecipient = (i: Item): Recipient => ({
  to: i.to,
  seq: i.seq,
  state: i.state,
  ...(i.parametersJson !== undefined && { parameters: JSON.parse(i.parametersJson) }),
  ...(i.messageId !== undefined && { messageId: i.messageId }),
  ...(i.error !== undefined && { error: i.error }),
  ...(i.attemptAtMs !== undefined && { attemptAtMs: i.attemptAtMs }),
});

export class DynamoDbBroadcasts extends DynamoDbTable implements BroadcastStore, Pacer {

  async create(b: Broadcast): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...broadcastKeys.broadcast(b.id),
            entity: 'broadcast',
            id: b.id,
            state: b.state,
            phoneNumberId: b.phoneNumberId,
            templateJson: JSON.stringify(b.template),
            total: b.total,
            createdAt: b.createdAt,
            ...(b.upload && { uploadId: b.upload.id, uploadSize: b.upload.size, loading: b.upload.loading, rows: 0, rejected: 0 }),
          },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async get(id: string): Promise<Broadcast | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: broadcastKeys.broadcast(id), ConsistentRead: true }));
    const i = out.Item;
    if (!i) return undefined;
    const counts = Object.fromEntries(RECIPIENT_STATES.map((s) => [s, 0])) as Record<RecipientState, number>;
    const counterKeys = Array.from({ length: BROADCAST_SHARDS }, (_, s) => broadcastKeys.counter(id, s));
    const got = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: counterKeys, ConsistentRead: true } } }));
    let items = got.Responses?.[this.tableName] ?? [];
    let unprocessed = got.UnprocessedKeys?.[this.tableName]?.Keys;
    while (unprocessed?.length) {
      const more = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: unprocessed, ConsistentRead: true } } }));
      items = [...items, ...(more.Responses?.[this.tableName] ?? [])];
      unprocessed = more.UnprocessedKeys?.[this.tableName]?.Keys;
    }
    for (const c of items) for (const s of RECIPIENT_STATES) counts[s] += Number(c[s] ?? 0);
    const upload: Broadcast['upload'] =
      i.uploadId === undefined
        ? undefined
        : {
            id: i.uploadId,
            size: i.uploadSize,
            loading: i.loading === true,
            rows: Number(i.rows ?? 0),
            rejected: Number(i.rejected ?? 0),
            rejectedBy: Object.fromEntries(REJECT_REASONS.filter((r) => i[`rejected_${r}`]).map((r) => [r, Number(i[`rejected_${r}`])])),
            samples: i.rejectSamples ?? [],
          };
    return { id, state: i.state, phoneNumberId: i.phoneNumberId, template: JSON.parse(i.templateJson), total: i.total, createdAt: i.createdAt, counts, ...(upload && { upload }) };
  }

  async addRecipients(broadcastId: string, recipients: readonly Recipient[]): Promise<{ to: string; seq: number }[]> {
    const existing: { to: string; seq: number }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < recipients.length) {
        const r = recipients[next++]!;
        const shard = r.seq % BROADCAST_SHARDS;
        try {
          // The recipient and its count together: a retry of the create counts nobody twice.
          await this.doc.send(
            new TransactWriteCommand({
              TransactItems: [
                {
                  Put: {
                    TableName: this.tableName,
                    Item: {
                      ...broadcastKeys.recipient(broadcastId, r.to),
                      entity: 'broadcastRecipient',
                      broadcastId,
                      to: r.to,
                      seq: r.seq,
                      state: r.state,
                      ...(r.parameters && { parametersJson: JSON.stringify(r.parameters) }),
                      GSI1PK: keys.broadcastRecipients(broadcastId, shard),
                      GSI1SK: r.to,
                    },
                    ConditionExpression: 'attribute_not_exists(PK)',
                    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                  },
                },
                {
                  Update: {
                    TableName: this.tableName,
                    Key: broadcastKeys.counter(broadcastId, shard),
                    UpdateExpression: 'ADD #s :one',
                    ExpressionAttributeNames: { '#s': r.state },
                    ExpressionAttributeValues: { ':one': 1 },
                  },
                },
              ],
            }),
          );
        } catch (err) {
          if (!isConditionFailure(err)) throw err;
          const old = (err as { CancellationReasons?: { Item?: Item }[] }).CancellationReasons?.[0]?.Item;
          existing.push({ to: r.to, seq: old?.seq !== undefined ? Number(unwrap(old.seq)) : -1 });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, recipients.length) }, worker));
    return existing;
  }

  async recordPage(broadcastId: string, offset: number, tally: PageTally, samples: { line: number; reason: RejectReason }[]): Promise<boolean> {
    const rejected = Object.values(tally.rejectedBy).reduce((a, b) => a + (b ?? 0), 0);
    const adds = ['#total :accepted', '#rows :rows', 'rejected :rejected'];
    const values: Record<string, unknown> = { ':accepted': tally.accepted, ':rows': tally.rows, ':rejected': rejected };
    for (const [reason, n] of Object.entries(tally.rejectedBy)) {
      adds.push(`rejected_${reason} :r_${reason}`);
      values[`:r_${reason}`] = n;
    }
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.tableName, Item: { ...broadcastKeys.page(broadcastId, offset), entity: 'broadcastPage', ...tally, queued: false }, ConditionExpression: 'attribute_not_exists(PK)' } },
            {
              Update: {
                TableName: this.tableName,
                Key: broadcastKeys.broadcast(broadcastId),
                UpdateExpression: `ADD ${adds.join(', ')}${tally.last ? ' SET loading = :false' : ''}`,
                ExpressionAttributeNames: { '#rows': 'rows', '#total': 'total' },
                ExpressionAttributeValues: { ...values, ...(tally.last && { ':false': false }) },
              },
            },
          ],
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
    if (samples.length) {
      // Examples only: kept while the list is short; a lost one (a crash here) loses no count.
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: broadcastKeys.broadcast(broadcastId),
            UpdateExpression: 'SET rejectSamples = list_append(if_not_exists(rejectSamples, :empty), :samples)',
            ConditionExpression: 'attribute_not_exists(rejectSamples) OR size(rejectSamples) < :cap',
            ExpressionAttributeValues: { ':empty': [], ':samples': samples, ':cap': MAX_REJECT_SAMPLES },
          }),
        );
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    }
    return true;
  }

  async pageQueued(broadcastId: string, offset: number): Promise<boolean> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: broadcastKeys.page(broadcastId, offset), ConsistentRead: true }));
    return out.Item?.queued === true;
  }

  async markPageQueued(broadcastId: string, offset: number): Promise<void> {
    await this.doc.send(new UpdateCommand({ TableName: this.tableName, Key: broadcastKeys.page(broadcastId, offset), UpdateExpression: 'SET queued = :t', ExpressionAttributeValues: { ':t': true } }));
  }

  async getRecipient(broadcastId: string, to: string): Promise<Recipient | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: broadcastKeys.recipient(broadcastId, to), ConsistentRead: true }));
    return out.Item ? toRecipient(out.Item) : undefined;
  }

  async transition(broadcastId: string, to: string, from: RecipientState, next: RecipientState, fields: Partial<Recipient> = {}): Promise<boolean> {
    const current = await this.getRecipient(broadcastId, to);
    if (!current) return false;
    const shard = current.seq % BROADCAST_SHARDS;
    const sets = ['#state = :next'];
    const values: Record<string, unknown> = { ':next': next, ':from': from };
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      sets.push(`#${k} = :${k}`);
      values[`:${k}`] = v;
    }
    const names: Record<string, string> = { '#state': 'state', ...Object.fromEntries(Object.keys(fields).map((k) => [`#${k}`, k])) };
    try {
      // Conditioned on the state it leaves, so of two attempts only one moves it; the count moves with it.
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: broadcastKeys.recipient(broadcastId, to),
                UpdateExpression: `SET ${sets.join(', ')}`,
                ConditionExpression: '#state = :from',
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: values,
              },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: broadcastKeys.counter(broadcastId, shard),
                UpdateExpression: 'ADD #from :minus, #next :one',
                ExpressionAttributeNames: { '#from': from, '#next': next },
                ExpressionAttributeValues: { ':minus': -1, ':one': 1 },
              },
            },
          ],
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async setState(id: string, from: readonly Broadcast['state'][], next: Broadcast['state']): Promise<boolean> {
    const values: Record<string, unknown> = { ':next': next };
    from.forEach((s, i) => (values[`:f${i}`] = s));
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: broadcastKeys.broadcast(id),
          UpdateExpression: 'SET #state = :next',
          ConditionExpression: `#state IN (${from.map((_, i) => `:f${i}`).join(', ')})`,
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async listRecipients(broadcastId: string, opts: { state?: RecipientState; limit: number; cursor?: string }): Promise<{ items: Recipient[]; nextCursor: string | null }> {
    let shard = 0;
    let start: Record<string, unknown> | undefined;
    if (opts.cursor) {
      let c: { shard?: unknown; key?: unknown } | undefined;
      try {
        c = JSON.parse(Buffer.from(opts.cursor, 'base64url').toString('utf8'));
      } catch {
        c = undefined;
      }
      if (!c || typeof c.shard !== 'number' || !Number.isInteger(c.shard) || c.shard < 0 || c.shard >= BROADCAST_SHARDS || (c.key !== undefined && typeof c.key !== 'object')) {
        throw new ValidationError('cursor is not one this API returned; start again without it', { path: 'cursor' });
      }
      shard = c.shard;
      start = c.key as Record<string, unknown> | undefined;
      if (start && (start as Item).GSI1PK !== keys.broadcastRecipients(broadcastId, shard)) {
        throw new ValidationError('cursor belongs to another list; start again without it', { path: 'cursor' });
      }
    }
    const items: Recipient[] = [];
    while (shard < BROADCAST_SHARDS && items.length < opts.limit) {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'GSI1',
          KeyConditionExpression: 'GSI1PK = :pk',
          ExpressionAttributeValues: { ':pk': keys.broadcastRecipients(broadcastId, shard), ...(opts.state && { ':state': opts.state }) },
          ...(opts.state && { FilterExpression: '#state = :state', ExpressionAttributeNames: { '#state': 'state' } }),
          Limit: opts.limit - items.length,
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      items.push(...(out.Items ?? []).map(toRecipient));
      start = out.LastEvaluatedKey;
      if (!start) shard++;
    }
    const more = shard < BROADCAST_SHARDS;
    const nextCursor = more ? Buffer.from(JSON.stringify({ shard, ...(start && { key: start }) })).toString('base64url') : null;
    return { items, nextCursor };
  }

  /**
   * GCRA over `ceil(rate / PACER_SHARD_RATE)` shards: each shard spaces its slots `shards / rate`
   * seconds apart, so the number never gets more than `rate` sends in a second, with no burst.
   * `tat` (the shard's next free slot) moves forward with a conditional write only: on an idle
   * shard (`tat` in the past) the slot is now; on a busy one, the slot after the last.
   */
  async reserve(phoneNumberId: string, ratePerSecond: number, shardKey: string, nowMs: number): Promise<number> {
    const shards = Math.max(1, Math.ceil(ratePerSecond / PACER_SHARD_RATE));
    const shard = Math.abs(Number.parseInt(shardKey, 10) || hashOf(shardKey)) % shards;
    const interval = (shards * 1000) / ratePerSecond;
    const key = broadcastKeys.pacer(phoneNumberId, shard);
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const out = await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: 'SET tat = tat + :i',
            ConditionExpression: 'tat >= :now',
            ExpressionAttributeValues: { ':i': interval, ':now': nowMs },
            ReturnValues: 'UPDATED_NEW',
          }),
        );
        return Number(out.Attributes!.tat) - interval;
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: 'SET tat = :next, entity = :entity',
            ConditionExpression: 'attribute_not_exists(tat) OR tat < :now',
            ExpressionAttributeValues: { ':next': nowMs + interval, ':now': nowMs, ':entity': 'pacer' },
          }),
        );
        return nowMs;
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    }
    throw new Error('pacer: could not reserve a slot');
  }
}

/** An attribute of an item DynamoDB returned unmarshalled (lib-dynamodb) or as `{N: '…'}`. */
const unwrap = (v: unknown): unknown => (v && typeof v === 'object' && 'N' in v ? (v as { N: string }).N : v);

function hashOf(s: string): number {
  let h = 0;
  for (const ch of s) h = (h * 31 + ch.charCodeAt(0)) | 0;
  return h;
}
