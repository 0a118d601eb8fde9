/**
 * Broadcasts in the single table, and the pacer of each business number. Keys in their own section
 * (`broadcastKeys`), every one scoped by broadcast or number and sharded where it takes a write
 * per send, so that no partition sees more than a fraction of a number's rate:
 *
 * - broadcast `BCAST#<id>` / `BCAST`: what to send, its state (written a few times in its life);
 * - counters `BCAST#<id>#C#<shard>` / `COUNT`: recipients per state, `shard = seq % SHARDS`;
 * - recipient `BCAST#<id>#R#<to>` / `RCPT`, listed through GSI1 `BCASTR#<id>#<shard>` / `<to>`;
 * - pacer `PACE#<phoneNumberId>#<shard>` / `PACE`: the next free send slot of one shard of the
 *   number's rate (generic cell rate algorithm, kept with conditional writes only);
 * - pair `PAIR#<phoneNumberId>#<to>` / `PAIR`: the next time this user may get a message from this
 *   number (WhatsApp's pair rate), with a TTL;
 * - status marker `BCAST#<id>#S#<messageId>#<status>` / `STATUS`: a status already counted, so a
 *   redelivered status counts once (with a TTL).
 * Counters carry, besides recipients per state, messages per WhatsApp status (`st_<status>`) and
 * failures per code (`fc_<code>`): commutative `ADD`s, each guarded by a conditional write.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { RECIPIENT_STATES, type Broadcast, type BroadcastDefinition, type Recipient, type RecipientState } from '../domain/broadcasts.ts';
import { ValidationError } from '../domain/errors.ts';
import { MAX_REJECT_SAMPLES, REJECT_REASONS, type PageTally, type RejectReason } from '../domain/broadcast-uploads.ts';
import { counterName } from '../domain/broadcast-counters.ts';
import type { BroadcastStore, MessagingLimits, Pacer, PacerSlot, PairGate, SendPermit, TierGate } from '../ports/broadcasts.ts';
import { keys } from './dynamodb-keys.ts';
import { getItems, itemsOf, keyId } from './dynamodb-lists.ts';
import { BROADCAST_QUEUE } from '../resource-spec.ts';
import { DynamoDbTable } from './dynamodb-table.ts';

/** Shards of a broadcast's recipient listing. */
export const BROADCAST_SHARDS = 16;
/**
 * Shards of a broadcast's counters: every recipient moves them about 5 times (claimed, sent, and a
 * count per status), each in a transaction. Reads sum every shard, so the count may be raised.
 */
export const COUNTER_SHARDS = 64;
/**
 * Recipients added in one transaction with their counts' `ADD` (DynamoDB takes 100 actions a
 * transaction): one request for 99, not 99.
 */
export const RECIPIENTS_PER_WRITE = 99;
/** Sends per second one pacer shard takes at most: a number gets `ceil(rate / this)` shards. */
export const PACER_SHARD_RATE = 25;

export const broadcastKeys = {
  broadcast: (id: string) => ({ PK: `BCAST#${id}`, SK: 'BCAST' }),
  counter: (id: string, shard: number) => ({ PK: `BCAST#${id}#C#${shard}`, SK: 'COUNT' }),
  recipient: (id: string, to: string) => ({ PK: `BCAST#${id}#R#${to}`, SK: 'RCPT' }),
  pacer: (phoneNumberId: string, shard: number) => ({ PK: `PACE#${phoneNumberId}#${shard}`, SK: 'PACE' }),
  /** A loaded page of an uploaded list: written once, so a retried page counts nothing twice. */
  page: (id: string, offset: number) => ({ PK: `BCAST#${id}#L#${offset}`, SK: 'PAGE' }),
  pair: (phoneNumberId: string, to: string) => ({ PK: `PAIR#${phoneNumberId}#${to}`, SK: 'PAIR' }),
  statusMarker: (id: string, messageId: string, status: string) => ({ PK: `BCAST#${id}#S#${messageId}#${status}`, SK: 'STATUS' }),
  /** The messaging limit: a user counted in the last 24 hours, a ring of slots and its cursor per shard. */
  tierUser: (to: string) => ({ PK: `TIERU#${to}`, SK: 'TIER' }),
  /** The messaging limit Meta last reported for a WABA: one item per WABA, written when Meta changes it. */
  messagingLimit: (wabaId: string) => ({ PK: `LIMIT#${wabaId}`, SK: 'LIMIT' }),
  tierRing: (shard: number) => ({ PK: `TIERRING#${shard}`, SK: 'TIER' }),
  tierSlot: (shard: number, slot: number) => ({ PK: `TIERSLOT#${shard}#${slot}`, SK: 'TIER' }),
} as const;

/** Shards of the messaging-limit ring: each takes at most 25 new users a second, and holds at least 10 slots. */
export const tierShards = (tier: number, ratePerSecond: number) => Math.max(1, Math.min(Math.ceil(ratePerSecond / PACER_SHARD_RATE), Math.floor(tier / 10)));
const DAY_MS = 24 * 3600 * 1000;

/** Pacer shards of a number at `ratePerSecond`: each takes at most `PACER_SHARD_RATE` slots a second. */
export const pacerShards = (ratePerSecond: number) => Math.max(1, Math.ceil(ratePerSecond / PACER_SHARD_RATE));
/** A job's pacer shard: its seq (or a hash of its key) modulo the shards. */
const shardOf = (shardKey: string, shards: number) => Math.abs(Number.parseInt(shardKey, 10) || hashOf(shardKey)) % shards;
/** Send permits of one pacer shard: `floor(messagesPerSecond)` spread over the shards (at least one each). */
export const permitsOf = (messagesPerSecond: number, shards: number, shard: number) => {
  const total = Math.max(shards, Math.floor(messagesPerSecond));
  return Math.floor(total / shards) + (shard < total % shards ? 1 : 0);
};
/**
 * How long a permit whose send never reported back stays taken: a send that may still arrive runs
 * in the broadcast function, which ends by its timeout.
 */
export const PERMIT_LEASE_MS = BROADCAST_QUEUE.handlerTimeoutSeconds * 1000 + 1000;
/**
 * How far ahead a send may take its slot: it waits for it in the broadcast function, whose timeout
 * must also hold its wait for a permit (`PERMIT_WAIT_MS`) and its work. A job that would wait longer
 * takes no slot and comes back later.
 */
export const SLOT_HORIZON_MS = 20_000;
/**
 * The share of a number's messages per second its slots are spaced at: the permits (which free a
 * second after each answer) cap the number; slots a little sparser spare senders waiting on them.
 * Measured side by side (1,000 recipients at a sandbox cap of 5): 0.97 reached 0.978 of the cap,
 * 0.99 reached 0.992, both with no send over the cap.
 */
export const PACING_SHARE = 0.99;
/** How long a pair item and a status marker are kept (the TTL removes them later). */
const PAIR_TTL_S = 24 * 3600;
const MARKER_TTL_S = 30 * 24 * 3600;
const epochSeconds = (ms: number) => Math.floor(ms / 1000);


type Item = Record<string, any>;
/** A conditional write (or a transaction's condition) that DynamoDB refused: someone else got there. */
export const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException ||
  (err as { name?: string }).name === 'ConditionalCheckFailedException' ||
  ((err as { name?: string }).name === 'TransactionCanceledException' &&
    ((err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed'));

const toDefinition = (i: Item): BroadcastDefinition => ({
  id: i.id,
  state: i.state,
  phoneNumberId: i.phoneNumberId,
  template: JSON.parse(i.templateJson),
  total: i.total,
  createdAt: i.createdAt,
  ...(i.category !== undefined && { category: i.category }),
  ...(i.uploadId !== undefined && {
    upload: {
      id: i.uploadId,
      size: i.uploadSize,
      loading: i.loading === true,
      rows: Number(i.rows ?? 0),
      rejected: Number(i.rejected ?? 0),
      rejectedBy: Object.fromEntries(REJECT_REASONS.filter((r) => i[`rejected_${r}`]).map((r) => [r, Number(i[`rejected_${r}`])])),
      samples: i.rejectSamples ?? [],
    },
  }),
});

const toRecipient = (i: Item): Recipient => ({
  to: i.to,
  seq: i.seq,
  state: i.state,
  ...(i.parametersJson !== undefined && { parameters: JSON.parse(i.parametersJson) }),
  ...(i.messageId !== undefined && { messageId: i.messageId }),
  ...(i.error !== undefined && { error: i.error }),
  ...(i.attemptAtMs !== undefined && { attemptAtMs: i.attemptAtMs }),
  ...(i.attempt !== undefined && { attempt: i.attempt }),
});

export class DynamoDbBroadcasts extends DynamoDbTable implements BroadcastStore, MessagingLimits, Pacer, PairGate, TierGate {
  /** Sends a conditional write: false when DynamoDB refused its condition (someone else got there). */
  private async conditional(command: PutCommand | UpdateCommand | TransactWriteCommand): Promise<boolean> {
    try {
      // One call for the three kinds: the client's overloads do not take their union.
      await this.doc.send(command as UpdateCommand);
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async create(b: Broadcast): Promise<boolean> {
    return this.conditional(
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
          ...(b.category !== undefined && { category: b.category }),
          ...(b.upload && { uploadId: b.upload.id, uploadSize: b.upload.size, loading: b.upload.loading, rows: 0, rejected: 0 }),
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
  }

  /** The broadcast and its counters in one consistent BatchGet (the item and every counter shard). */
  async get(id: string): Promise<Broadcast | undefined> {
    const head = broadcastKeys.broadcast(id);
    const found = await getItems(this.doc, this.tableName, [head, ...Array.from({ length: COUNTER_SHARDS }, (_, s) => broadcastKeys.counter(id, s))], { consistent: true });
    const items = [...found.values()];
    const i = found.get(keyId(head));
    if (!i) return undefined;
    const counts = Object.fromEntries(RECIPIENT_STATES.map((s) => [s, 0])) as Record<RecipientState, number>;
    const statuses: Record<string, number> = {};
    const failures: Record<string, number> = {};
    for (const c of items) {
      if (c === i) continue;
      for (const s of RECIPIENT_STATES) counts[s] += Number(c[s] ?? 0);
      for (const [k, v] of Object.entries(c)) {
        const into = k.startsWith('st_') ? statuses : k.startsWith('fc_') ? failures : undefined;
        if (into) into[k.slice(3)] = (into[k.slice(3)] ?? 0) + Number(v);
      }
    }
    const nonZero = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([, v]) => v !== 0));
    return { ...toDefinition(i), counts, statuses: nonZero(statuses), failures: nonZero(failures) };
  }

  async definition(id: string): Promise<BroadcastDefinition | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: broadcastKeys.broadcast(id), ConsistentRead: true }));
    return out.Item ? toDefinition(out.Item) : undefined;
  }

  /**
   * Adds recipients with their counts, RECIPIENTS_PER_WRITE to a transaction: each recipient's put
   * (if absent) and one `ADD` of the chunk's counts, so a retry of the create or a page counts nobody
   * twice. A chunk that finds one of its recipients there already (a retry) is added one by one, to
   * tell which ones were there.
   */
  async addRecipients(broadcastId: string, recipients: readonly Recipient[]): Promise<{ to: string; seq: number }[]> {
    const existing: { to: string; seq: number }[] = [];
    // At most 99 a chunk, and well under a transaction's 4 MB whatever their parameters.
    const chunks: Recipient[][] = [];
    let bytes = 0;
    for (const r of recipients) {
      const size = 200 + (r.parameters ? JSON.stringify(r.parameters).length : 0);
      const last = chunks.at(-1);
      if (!last || last.length >= RECIPIENTS_PER_WRITE || bytes + size > 1024 * 1024) {
        chunks.push([r]);
        bytes = size;
      } else {
        last.push(r);
        bytes += size;
      }
    }
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        const distinct = new Set(chunk.map((r) => r.to)).size === chunk.length;
        if (distinct && (await this.addTogether(broadcastId, chunk))) continue;
        existing.push(...(await this.addEach(broadcastId, chunk)));
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, chunks.length) }, worker));
    return existing;
  }

  private recipientPut(broadcastId: string, r: Recipient) {
    return {
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
          GSI1PK: keys.broadcastRecipients(broadcastId, r.seq % BROADCAST_SHARDS),
          GSI1SK: r.to,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    };
  }

  /** The chunk's counts by state, on the counter shard of its first recipient (the shards are summed). */
  private countsAdd(broadcastId: string, chunk: readonly Recipient[]) {
    const byState = new Map<RecipientState, number>();
    for (const r of chunk) byState.set(r.state, (byState.get(r.state) ?? 0) + 1);
    const states = [...byState];
    return {
      Update: {
        TableName: this.tableName,
        Key: broadcastKeys.counter(broadcastId, chunk[0]!.seq % COUNTER_SHARDS),
        UpdateExpression: `ADD ${states.map((_, i) => `#s${i} :n${i}`).join(', ')}`,
        ExpressionAttributeNames: Object.fromEntries(states.map(([state], i) => [`#s${i}`, state])),
        ExpressionAttributeValues: Object.fromEntries(states.map(([, n], i) => [`:n${i}`, n])),
      },
    };
  }

  /** The chunk in one transaction; false when one of its recipients was there already (nothing written). */
  private async addTogether(broadcastId: string, chunk: readonly Recipient[]): Promise<boolean> {
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: [...chunk.map((r) => this.recipientPut(broadcastId, r)), this.countsAdd(broadcastId, chunk)] }));
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /** Each recipient with its count; the ones there already, with the seq they were added with. */
  private async addEach(broadcastId: string, chunk: readonly Recipient[]): Promise<{ to: string; seq: number }[]> {
    const existing: { to: string; seq: number }[] = [];
    for (const r of chunk) {
      try {
        await this.doc.send(new TransactWriteCommand({ TransactItems: [this.recipientPut(broadcastId, r), this.countsAdd(broadcastId, [r])] }));
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
        const old = (err as { CancellationReasons?: { Item?: Item }[] }).CancellationReasons?.[0]?.Item;
        existing.push({ to: r.to, seq: old?.seq !== undefined ? Number(unwrap(old.seq)) : -1 });
      }
    }
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

  async transition(
    broadcastId: string,
    to: string,
    from: RecipientState,
    next: RecipientState,
    fields: Partial<Recipient> = {},
    opts: { messageId?: string; attempt?: number; counters?: Record<string, number>; seq?: number; whileSending?: boolean } = {},
  ): Promise<boolean> {
    let seq = opts.seq;
    if (seq === undefined) {
      const current = await this.getRecipient(broadcastId, to);
      if (!current) return false;
      seq = current.seq;
    }
    const shard = seq % COUNTER_SHARDS;
    const sets = ['#state = :next'];
    const values: Record<string, unknown> = { ':next': next, ':from': from };
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      sets.push(`#${k} = :${k}`);
      values[`:${k}`] = v;
    }
    const names: Record<string, string> = { '#state': 'state', ...Object.fromEntries(Object.keys(fields).map((k) => [`#${k}`, k])) };
    let condition = '#state = :from';
    if (opts.messageId !== undefined) {
      condition += ' AND #mid = :mid';
      names['#mid'] = 'messageId';
      values[':mid'] = opts.messageId;
    }
    if (opts.attempt !== undefined) {
      // A first attempt has no `attempt` yet.
      condition += opts.attempt === 0 ? ' AND (attribute_not_exists(#att) OR #att = :att)' : ' AND #att = :att';
      names['#att'] = 'attempt';
      values[':att'] = opts.attempt;
    }
    const counterNames: Record<string, string> = { '#from': from, '#next': next };
    const counterValues: Record<string, unknown> = { ':minus': -1, ':one': 1 };
    const adds = ['#from :minus', '#next :one'];
    Object.entries(opts.counters ?? {}).forEach(([name, by], i) => {
      adds.push(`#c${i} :c${i}`);
      counterNames[`#c${i}`] = name;
      counterValues[`:c${i}`] = by;
    });
    try {
      // Conditioned on the state it leaves (and the attempt's message), so of two attempts only one
      // moves it; the counts move with it.
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.tableName,
                Key: broadcastKeys.recipient(broadcastId, to),
                UpdateExpression: `SET ${sets.join(', ')}`,
                ConditionExpression: condition,
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: values,
              },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: broadcastKeys.counter(broadcastId, shard),
                UpdateExpression: `ADD ${adds.join(', ')}`,
                ExpressionAttributeNames: counterNames,
                ExpressionAttributeValues: counterValues,
              },
            },
            ...(opts.whileSending
              ? [
                  {
                    ConditionCheck: {
                      TableName: this.tableName,
                      Key: broadcastKeys.broadcast(broadcastId),
                      ConditionExpression: '#state IN (:queued, :running)',
                      ExpressionAttributeNames: { '#state': 'state' },
                      ExpressionAttributeValues: { ':queued': 'queued', ':running': 'running' },
                    },
                  },
                ]
              : []),
          ],
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /**
   * Counts a WhatsApp status of the recipient's current message once: a marker per (message,
   * status) written if absent, the recipient still on that message, and the counter's `ADD`, in one
   * transaction. False when it was counted already or the message is not the recipient's any more.
   * `seq` is the recipient's (it picks the counter shard and never changes).
   */
  async countStatus(broadcastId: string, to: string, seq: number, messageId: string, status: string, failureCode?: string): Promise<boolean> {
    const names: Record<string, string> = { '#st': counterName('st', status) };
    const values: Record<string, unknown> = { ':one': 1 };
    let add = '#st :one';
    if (failureCode !== undefined) {
      names['#fc'] = counterName('fc', failureCode);
      add += ', #fc :one';
    }
    return this.conditional(
      new TransactWriteCommand({
        TransactItems: [
          {
            ConditionCheck: {
              TableName: this.tableName,
              Key: broadcastKeys.recipient(broadcastId, to),
              ConditionExpression: 'messageId = :mid',
              ExpressionAttributeValues: { ':mid': messageId },
            },
          },
          {
            Put: {
              TableName: this.tableName,
              Item: { ...broadcastKeys.statusMarker(broadcastId, messageId, status), entity: 'broadcastStatus', ttl: epochSeconds(Date.now()) + MARKER_TTL_S },
              ConditionExpression: 'attribute_not_exists(PK)',
            },
          },
          {
            Update: {
              TableName: this.tableName,
              Key: broadcastKeys.counter(broadcastId, seq % COUNTER_SHARDS),
              UpdateExpression: `ADD ${add}`,
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            },
          },
        ],
      }),
    );
  }

  async setState(id: string, from: readonly Broadcast['state'][], next: Broadcast['state']): Promise<boolean> {
    const values: Record<string, unknown> = { ':next': next };
    from.forEach((s, i) => (values[`:f${i}`] = s));
    return this.conditional(
      new UpdateCommand({
        TableName: this.tableName,
        Key: broadcastKeys.broadcast(id),
        UpdateExpression: 'SET #state = :next',
        ConditionExpression: `#state IN (${from.map((_, i) => `:f${i}`).join(', ')})`,
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: values,
      }),
    );
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
          ExpressionAttributeValues: { ':pk': keys.broadcastRecipients(broadcastId, shard) },
          Limit: opts.limit - items.length,
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      // The index holds keys only: the recipients come from the table, and their state with them.
      const found = await itemsOf<Item>(this.doc, this.tableName, out.Items ?? []);
      items.push(...found.filter((i) => opts.state === undefined || i.state === opts.state).map(toRecipient));
      start = out.LastEvaluatedKey;
      if (!start) shard++;
    }
    const more = shard < BROADCAST_SHARDS;
    const nextCursor = more ? Buffer.from(JSON.stringify({ shard, ...(start && { key: start }) })).toString('base64url') : null;
    return { items, nextCursor };
  }

  /**
   * GCRA over `pacerShards(messagesPerSecond)` shards: each shard spaces its slots
   * `shards / (messagesPerSecond × PACING_SHARE)` seconds apart. `tat` (the shard's next free
   * slot) moves forward with a conditional write only: on an idle shard (`tat` in the past) the
   * slot is now; on a busy one, the slot after the last, unless that is over `SLOT_HORIZON_MS`
   * ahead: then no slot is taken, and the answer says when one can be (`laterMs`). Each slot also
   * takes the shard's next ticket (`ticket`), the send permit it asks for first (`acquire`).
   */
  async reserve(phoneNumberId: string, messagesPerSecond: number, shardKey: string, nowMs: number): Promise<PacerSlot | { laterMs: number }> {
    const shards = pacerShards(messagesPerSecond);
    const shard = shardOf(shardKey, shards);
    const interval = (shards * 1000) / (messagesPerSecond * PACING_SHARE);
    const key = broadcastKeys.pacer(phoneNumberId, shard);
    const slot = (atMs: number, next: Item | undefined) => ({ phoneNumberId, shard, permits: permitsOf(messagesPerSecond, shards, shard), ticket: Number(next?.ticket) - 1, atMs });
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const out = await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: 'SET tat = tat + :i, ticket = if_not_exists(ticket, :zero) + :one',
            ConditionExpression: 'tat >= :now AND tat <= :latest',
            ExpressionAttributeValues: { ':i': interval, ':now': nowMs, ':latest': nowMs + SLOT_HORIZON_MS, ':zero': 0, ':one': 1 },
            ReturnValues: 'UPDATED_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return slot(Number(out.Attributes!.tat) - interval, out.Attributes);
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
        const tat = Number(unwrap((err as { Item?: Item }).Item?.tat) ?? Number.NaN);
        if (tat > nowMs + SLOT_HORIZON_MS) return { laterMs: tat - SLOT_HORIZON_MS };
      }
      try {
        const out = await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: 'SET tat = :next, entity = :entity, ticket = if_not_exists(ticket, :zero) + :one',
            ConditionExpression: 'attribute_not_exists(tat) OR tat < :now',
            ExpressionAttributeValues: { ':next': nowMs + interval, ':now': nowMs, ':entity': 'pacer', ':zero': 0, ':one': 1 },
            ReturnValues: 'UPDATED_NEW',
          }),
        );
        return slot(nowMs, out.Attributes);
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    }
    throw new Error('pacer: could not reserve a slot');
  }

  /**
   * Holds the number back until `untilMs`: every shard's next slot and its permits move to at
   * least then (conditional writes, never backwards, so holds from several statuses commute).
   */
  async hold(phoneNumberId: string, messagesPerSecond: number, untilMs: number): Promise<void> {
    const holdOf = (shard: number, attribute: string) =>
      this.conditional(
        new UpdateCommand({
          TableName: this.tableName,
          Key: broadcastKeys.pacer(phoneNumberId, shard),
          UpdateExpression: 'SET #a = :until, entity = :entity',
          ConditionExpression: 'attribute_not_exists(#a) OR #a < :until',
          ExpressionAttributeNames: { '#a': attribute },
          ExpressionAttributeValues: { ':until': untilMs, ':entity': 'pacer' },
        }),
      );
    await Promise.all(Array.from({ length: pacerShards(messagesPerSecond) }, (_, shard) => Promise.all([holdOf(shard, 'tat'), holdOf(shard, 'heldUntil')])));
  }

  /**
   * The send permits of a pacer shard (`permitsOf`, together `floor(messagesPerSecond)`), in the
   * shard's item: `permit<i>` is when permit `i` is free again (a second after the answer of the
   * send that held it, `release`), `held<i>` whether a send holds it now, `holder<i>` the ticket
   * of the slot that took it last. A slot takes any permit free by its time (`slot.atMs`, or now if
   * later) while the number is not held back: a conditional write on the permit its ticket names
   * (so that senders seldom race for one); refused, on a permit the refused write's item shows free
   * then, or else on one of those free soonest, from when it is (taken ahead: the send waits for it).
   * Every permit's send still out, it answers when to ask again (`busy`). No order among senders:
   * a waiting sender keeps its slot and is never sent to the back. Never released (a crash), a
   * permit frees when its lease ends.
   */
  async acquire(slot: PacerSlot, nowMs: number): Promise<{ permit: SendPermit } | { askAtMs: number; notBeforeMs: number; busy: boolean }> {
    let fromMs = Math.max(nowMs, slot.atMs);
    let index = slot.ticket % slot.permits;
    for (let attempt = 0; attempt <= slot.permits; attempt++) {
      const leaseUntilMs = fromMs + PERMIT_LEASE_MS;
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: broadcastKeys.pacer(slot.phoneNumberId, slot.shard),
            UpdateExpression: 'SET #p = :lease, #t = :ticket, #held = :true',
            ConditionExpression: '(attribute_not_exists(#p) OR #p <= :from) AND (attribute_not_exists(#h) OR #h <= :from)',
            ExpressionAttributeNames: { '#p': `permit${index}`, '#t': `holder${index}`, '#held': `held${index}`, '#h': 'heldUntil' },
            ExpressionAttributeValues: { ':lease': leaseUntilMs, ':ticket': slot.ticket, ':from': fromMs, ':true': true },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return { permit: { phoneNumberId: slot.phoneNumberId, shard: slot.shard, index, ticket: slot.ticket, fromMs, leaseUntilMs } };
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
        const old = (err as { Item?: Item }).Item ?? {};
        // Each permit: when it is free again, or (`out`: its send not answered yet) when its lease ends.
        const permits = Array.from({ length: slot.permits }, (_, i) => {
          const freeAt = Number(unwrap(old[`permit${i}`]) ?? 0);
          return { i, freeAt, out: unwrapBool(old[`held${i}`]) && freeAt > nowMs };
        });
        const idle = permits.filter((p) => !p.out);
        if (idle.length === 0) {
          // Each send frees its permit a second after its answer, which may have come (its release
          // on its way): asked again a second after the first was taken.
          return { askAtMs: Math.min(...permits.map((p) => p.freeAt - PERMIT_LEASE_MS)) + 1000, notBeforeMs: fromMs, busy: true };
        }
        fromMs = Math.max(fromMs, Number(unwrap(old.heldUntil) ?? 0));
        const free = idle.filter((p) => p.freeAt <= fromMs);
        if (free.length > 0) {
          // Taken by another sender a moment ago: one that is free, spread by this slot's ticket.
          index = free[(slot.ticket + attempt) % free.length]!.i;
        } else {
          // The soonest free; among those free within a tenth of a second of it, spread by ticket,
          // so that senders refused together do not all ask for the same one.
          const soonest = Math.min(...idle.map((p) => p.freeAt));
          const near = idle.filter((p) => p.freeAt <= soonest + 100);
          const pick = near[(slot.ticket + attempt) % near.length]!;
          [index, fromMs] = [pick.i, Math.max(fromMs, pick.freeAt)];
        }
      }
    }
    // Every try lost to another sender: ask again a moment later (spread by ticket), not at once.
    return { askAtMs: nowMs + 20 + (slot.ticket % 5) * 10, notBeforeMs: fromMs, busy: false };
  }

  async release(permit: SendPermit, answeredAtMs: number): Promise<void> {
    // Only while this send holds it (not once its lease ran out and another took it).
    await this.conditional(
      new UpdateCommand({
        TableName: this.tableName,
        Key: broadcastKeys.pacer(permit.phoneNumberId, permit.shard),
        UpdateExpression: 'SET #p = :free, #held = :false',
        ConditionExpression: '#t = :ticket AND #p = :lease',
        ExpressionAttributeNames: { '#p': `permit${permit.index}`, '#t': `holder${permit.index}`, '#held': `held${permit.index}` },
        ExpressionAttributeValues: { ':free': answeredAtMs + 1000, ':lease': permit.leaseUntilMs, ':ticket': permit.ticket, ':false': false },
      }),
    );
  }

  /**
   * Takes the pair's next slot: granted (answers `nowMs`, and the next one is `intervalMs` later)
   * when the last message to this user from this number was long enough ago; else answers when
   * the user may get the next one.
   */
  async reservePair(phoneNumberId: string, to: string, nowMs: number, intervalMs: number): Promise<number> {
    const key = broadcastKeys.pair(phoneNumberId, to);
    const granted = await this.conditional(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'SET nextAt = :next, entity = :entity, #ttl = :ttl',
        ConditionExpression: 'attribute_not_exists(nextAt) OR nextAt <= :now',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':next': nowMs + intervalMs, ':now': nowMs, ':entity': 'pair', ':ttl': epochSeconds(nowMs) + PAIR_TTL_S },
      }),
    );
    if (granted) return nowMs;
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return Math.max(nowMs + 1, Number(out.Item?.nextAt ?? nowMs + 1));
  }

  /** Holds the pair back until `untilMs` (never backwards). */
  async holdPair(phoneNumberId: string, to: string, untilMs: number): Promise<void> {
    await this.conditional(
      new UpdateCommand({
        TableName: this.tableName,
        Key: broadcastKeys.pair(phoneNumberId, to),
        UpdateExpression: 'SET nextAt = :until, entity = :entity, #ttl = :ttl',
        ConditionExpression: 'attribute_not_exists(nextAt) OR nextAt < :until',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':until': untilMs, ':entity': 'pair', ':ttl': epochSeconds(untilMs) + PAIR_TTL_S },
      }),
    );
  }

  async reportLimit(wabaId: string, limit: number, atMs: number): Promise<void> {
    // A later report wins whatever the order of arrival; a redelivery writes nothing.
    await this.conditional(
      new UpdateCommand({
        TableName: this.tableName,
        Key: broadcastKeys.messagingLimit(wabaId),
        UpdateExpression: 'SET entity = :entity, #limit = :limit, atMs = :at',
        ConditionExpression: 'attribute_not_exists(atMs) OR atMs < :at',
        ExpressionAttributeNames: { '#limit': 'limit' },
        ExpressionAttributeValues: { ':entity': 'messagingLimit', ':limit': Number.isFinite(limit) ? limit : 'UNLIMITED', ':at': atMs },
      }),
    );
  }

  async reportedLimit(wabaId: string): Promise<number | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: broadcastKeys.messagingLimit(wabaId), ConsistentRead: true }));
    const limit = out.Item?.limit;
    if (limit === undefined) return undefined;
    return limit === 'UNLIMITED' ? Number.POSITIVE_INFINITY : Number(limit);
  }

  /**
   * The messaging limit (unique users in a rolling 24 hours): a user counted in the last 24 hours
   * passes; another takes the next slot of its shard's ring (`tier / shards` slots, taken in turn,
   * so the slot at the cursor is the oldest): free when its 24 hours are over, else the business is
   * at its limit until then. The cursor and the slot move in one transaction conditioned on both,
   * so two senders never take one slot. Answers `nowMs` when admitted, else when to try again.
   */
  async admitUser(to: string, tier: number, ratePerSecond: number, nowMs: number): Promise<number> {
    const user = broadcastKeys.tierUser(to);
    const seen = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: user, ConsistentRead: true }));
    if (Number(seen.Item?.until ?? 0) > nowMs) return nowMs;
    const shards = tierShards(tier, ratePerSecond);
    const shard = Math.abs(hashOf(to)) % shards;
    // The tier split over the shards, the remainder one each to the first: together exactly the tier.
    const size = Math.max(1, Math.floor(tier / shards) + (shard < tier % shards ? 1 : 0));
    for (let attempt = 0; attempt < 20; attempt++) {
      const ring = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: broadcastKeys.tierRing(shard), ConsistentRead: true }));
      const cursor = Number(ring.Item?.cursor ?? 0);
      const slot = broadcastKeys.tierSlot(shard, cursor % size);
      try {
        await this.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.tableName,
                  Key: broadcastKeys.tierRing(shard),
                  UpdateExpression: 'SET #c = :next, entity = :entity',
                  ConditionExpression: cursor === 0 ? 'attribute_not_exists(#c) OR #c = :c' : '#c = :c',
                  ExpressionAttributeNames: { '#c': 'cursor' },
                  ExpressionAttributeValues: { ':next': cursor + 1, ':c': cursor, ':entity': 'tierRing' },
                },
              },
              {
                Update: {
                  TableName: this.tableName,
                  Key: slot,
                  UpdateExpression: 'SET #u = :until, entity = :entity, #ttl = :ttl',
                  ConditionExpression: 'attribute_not_exists(#u) OR #u <= :now',
                  ExpressionAttributeNames: { '#u': 'until', '#ttl': 'ttl' },
                  ExpressionAttributeValues: { ':until': nowMs + DAY_MS, ':now': nowMs, ':entity': 'tierSlot', ':ttl': epochSeconds(nowMs + DAY_MS) + PAIR_TTL_S },
                },
              },
            ],
          }),
        );
      } catch (err) {
        const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
        if (!isConditionFailure(err)) throw err;
        if (reasons[1]?.Code === 'ConditionalCheckFailed' && reasons[0]?.Code !== 'ConditionalCheckFailed') {
          // The oldest slot of the ring is still within its 24 hours: the limit is reached until then.
          const taken = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: slot, ConsistentRead: true }));
          return Math.max(nowMs + 1, Number(taken.Item?.until ?? nowMs + 1));
        }
        continue;
      }
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: user,
          UpdateExpression: 'SET #u = :until, entity = :entity, #ttl = :ttl',
          ExpressionAttributeNames: { '#u': 'until', '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':until': nowMs + DAY_MS, ':entity': 'tierUser', ':ttl': epochSeconds(nowMs + DAY_MS) + PAIR_TTL_S },
        }),
      );
      return nowMs;
    }
    throw new Error('messaging limit: could not take a slot');
  }
}

/** A boolean attribute of an item DynamoDB returned unmarshalled or as `{BOOL: …}`. */
const unwrapBool = (v: unknown): boolean => (v && typeof v === 'object' && 'BOOL' in v ? (v as { BOOL: boolean }).BOOL : v === true);

/** An attribute of an item DynamoDB returned unmarshalled (lib-dynamodb) or as `{N: '…'}`. */
const unwrap = (v: unknown): unknown => (v && typeof v === 'object' && 'N' in v ? (v as { N: string }).N : v);

function hashOf(s: string): number {
  let h = 0;
  for (const ch of s) h = (h * 31 + ch.charCodeAt(0)) | 0;
  return h;
}
