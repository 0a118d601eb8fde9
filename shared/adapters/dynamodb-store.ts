/**
 * DynamoDB adapter of the single table (docs/data-model.md). Every write is conditional or
 * commutative; the one read on the inbound path (is this message stored already?) only spares the
 * writes of a redelivery, never decides what a write does.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AccountEvent, InboundMessage, QuarantinedEvent, StatusUpdate } from '../domain/types.ts';
import { accountEventKind } from '../domain/account-events.ts';
import { messageIdFromAwsMessageId, messageIdFromWamid, messageIdOfSendStatuses } from '../domain/ids.ts';
import { retryTransactionConflicts } from './dynamodb-conflicts.ts';
import { keys, statusAttribute } from './dynamodb-keys.ts';
import { PermanentWriteError, type EventStore, type QuarantineRecords, type QuarantineReplay, type StoredQuarantinedEvent } from '../ports/event-store.ts';
import { eventContentOf } from '../domain/parse-event.ts';
import { DynamoDbTable } from './dynamodb-table.ts';
import { TABLE_KEYS } from '../resource-spec.ts';

/** Quarantined raw bodies are cut here (UTF-8 bytes) so the item stays under DynamoDB's 400 KB limit. */
export const QUARANTINE_RAW_MAX = 300_000;

/** The first `max` UTF-8 bytes of a string (a character cut in two is dropped). */
function cutToBytes(s: string, max: number): string {
  const bytes = Buffer.from(s, 'utf8');
  return bytes.length <= max ? s : bytes.subarray(0, max).toString('utf8').replace(/\uFFFD$/, '');
}

const iso = (ms: number) => new Date(ms).toISOString();
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export { keys, statusAttribute } from './dynamodb-keys.ts';

/**
 * How many of its last counted messages a conversation remembers (`r0` … `r7`, newest first), so
 * that a retry after a crash between a message's two writes does not count it again. A message is
 * counted twice only if its handler died between them and more than this many newer messages of
 * the same conversation were counted before its retry.
 */
export const RECENT_SLOTS = 8;
/** A message's token in its conversation's `recent` slots: 12 hex digits of a hash of its id. */
const recentToken = (id: string) => sha256(id).slice(0, 12);

/** DynamoDB's limits on one item: 400 KB, and maps and lists nested at most 32 deep. */
const ITEM_MAX_BYTES = 400 * 1024;
const MAX_DEPTH = 32;

/**
 * Refuses, as DynamoDB would (PermanentWriteError), an item too large or too deeply nested to be
 * stored: the size counted as DynamoDB does, by attribute names and UTF-8 values.
 */
export function assertStorable(item: Record<string, unknown>): void {
  const sizeOf = (v: unknown, depth: number): number => {
    if (depth > MAX_DEPTH) throw new PermanentWriteError(`store inbound message: nested deeper than ${MAX_DEPTH} levels`);
    if (v === undefined || v === null) return 1;
    if (typeof v === 'string') return Buffer.byteLength(v);
    if (typeof v === 'number' || typeof v === 'bigint') return 21;
    if (typeof v === 'boolean') return 1;
    if (Array.isArray(v)) return 3 + v.reduce((n: number, x) => n + 1 + sizeOf(x, depth + 1), 0);
    if (typeof v === 'object') {
      return 3 + Object.entries(v).reduce((n, [k, x]) => (x === undefined ? n : n + 1 + Buffer.byteLength(k) + sizeOf(x, depth + 1)), 0);
    }
    return Buffer.byteLength(String(v));
  };
  const bytes = Object.entries(item).reduce((n, [k, v]) => (v === undefined ? n : n + Buffer.byteLength(k) + sizeOf(v, 1)), 0);
  if (bytes > ITEM_MAX_BYTES) throw new PermanentWriteError(`store inbound message: item of about ${bytes} bytes, over DynamoDB's 400 KB`);
}

/**
 * A write DynamoDB refused for what it holds (too large, invalid), which no retry can fix. A single
 * write says so with ValidationException; TransactWriteItems says so with a cancellation whose
 * reason for the bad item is `ValidationError`.
 */
function isValidationError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'ValidationException') return true;
  return err instanceof TransactionCanceledException && (err.CancellationReasons ?? []).some((r) => r.Code === 'ValidationError');
}

/**
 * Runs a write: a race with a transaction on the same item is retried in place; a refused write
 * becomes PermanentWriteError; anything else (throttling, network) is rethrown for the queue to retry.
 */
async function write<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await retryTransactionConflicts(op);
  } catch (err) {
    if (isValidationError(err)) throw new PermanentWriteError(`${what}: ${(err as Error).message}`, { cause: err });
    throw err;
  }
}

export class DynamoDbStore extends DynamoDbTable implements EventStore, QuarantineRecords {
  /**
   * The write plan of an inbound message (docs/data-model.md, "Writes on the inbound path"): one
   * read, then the conversation (window, activity, count) and then the message, each one write,
   * no transaction. A message older than its conversation's newest inbound one, which is rare,
   * costs a transaction that stores and counts it together.
   */
  async recordInbound(m: InboundMessage): Promise<{ inserted: boolean }> {
    const conv = keys.conversation(m.business.phoneNumberId, m.contactId);
    // A redelivery (an SQS retry, SNS publishing again, Meta's own retries for days) is told by a
    // read of half a read unit, a tenth of the price of the write units its refused writes would be
    // billed. The writes below stay conditional, so a read that has not yet seen a message written
    // a moment ago only costs those refused writes; it never records anything twice.
    const seen = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.message(m.id), ProjectionExpression: 'PK' }));
    if (seen?.Item) return { inserted: false };
    const item = this.inboundItem(m);
    // DynamoDB refuses an item it cannot hold (too large, too deep) only once the window has moved
    // and counted it: tell it before writing anything.
    assertStorable(item);
    // (1) Open the window first, then make the message visible: whatever a reader sees of the
    // message, the window it opened is already open (a client replying at once never gets
    // window_closed). The same write counts the message.
    const counted = await this.advanceConversation(m, conv);
    if (m.contact.waId !== undefined && m.contact.userId !== undefined) await this.putAlias(m);
    // (2) The message, once.
    if (counted) {
      try {
        await write('store inbound message', () =>
          this.doc.send(new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(PK)' })),
        );
        return { inserted: true };
      } catch (err) {
        if (err instanceof ConditionalCheckFailedException) return { inserted: false };
        // Refused for its content after all: take back the count this message added, so the
        // count stays the length of the list. Then the event goes to quarantine.
        if (err instanceof PermanentWriteError) await this.uncount(conv, recentToken(m.id));
        throw err;
      }
    }
    // A late message (older than the conversation's newest inbound one): stored and counted in
    // one transaction, which a redelivery cancels whole.
    try {
      await write('store late inbound message', () =>
        this.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(PK)' } },
              { Update: { TableName: this.tableName, Key: conv, UpdateExpression: 'ADD messageCount :one', ExpressionAttributeValues: { ':one': 1 } } },
            ],
          }),
        ),
      );
      return { inserted: true };
    } catch (err) {
      if (err instanceof TransactionCanceledException && err.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') return { inserted: false };
      throw err;
    }
  }

  private inboundItem(m: InboundMessage): Record<string, unknown> {
    const at = iso(m.timestampMs);
    return {
      ...keys.message(m.id),
      entity: 'message',
      id: m.id,
      wamid: m.wamid,
      direction: 'inbound',
      phoneNumberId: m.business.phoneNumberId,
      metaPhoneNumberId: m.business.metaPhoneNumberId,
      wabaId: m.business.wabaId,
      contactId: m.contactId,
      contact: m.contact,
      contactMismatch: m.contactMismatch,
      type: m.type,
      content: m.content,
      context: m.context,
      referral: m.referral,
      errors: m.errors,
      media: m.media ? { ...m.media, state: 'pending' } : undefined,
      timestamp: at,
      ttl: this.expiresAt(m.timestampMs),
      // Its conversation's timeline. No wamid key: an inbound message's id is derived from its
      // wamid, so a lookup by wamid reads it by id.
      GSI1PK: keys.timeline(m.business.phoneNumberId, m.contactId),
      GSI1SK: `${at}#${m.id}`,
    };
  }

  /** A user who shows both ids lets a send addressed by BSUID find the phone number; last write wins. */
  private async putAlias(m: InboundMessage): Promise<void> {
    await write('store contact alias', () =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.alias(m.business.phoneNumberId, m.contact.userId!),
            entity: 'alias',
            waId: m.contact.waId,
            phoneNumberId: m.business.phoneNumberId,
            userId: m.contact.userId,
            ttl: this.expiresAt(m.timestampMs),
          },
        }),
      ),
    );
  }

  /**
   * Moves the conversation's window and activity forward (never back) and counts the message, in
   * one write, when the message is the conversation's newest inbound one; answers whether the
   * message is counted. The write names the conversation, since it may create it, and keeps the
   * message's token in the slots `r0`… (the last RECENT_SLOTS counted this way): a retry after a
   * crash between this write and the message's finds its token and does not count it again. A message older than the newest inbound one is not counted here (false): the
   * caller stores and counts it in one transaction.
   */
  private async advanceConversation(m: InboundMessage, conv: Record<string, string>): Promise<boolean> {
    const at = iso(m.timestampMs);
    const key = `${at}#${m.wamid}`;
    const token = recentToken(m.id);
    const shift = Array.from({ length: RECENT_SLOTS - 1 }, (_, i) => `r${i + 1} = if_not_exists(r${i}, :none)`).join(', ');
    const inbound = {
      set: `lastInboundKey = :k, lastInboundAt = :at, contact = :contact, entity = :conv, phoneNumberId = :pn, contactId = :cid, ${shift}, r0 = :token`,
      values: {
        ':k': key,
        ':at': at,
        ':contact': m.contact,
        ':conv': 'conversation',
        ':pn': m.business.phoneNumberId,
        ':cid': m.contactId,
        ':token': token,
        ':none': '',
        ':one': 1,
      },
      cond: '(attribute_not_exists(lastInboundKey) OR lastInboundKey < :k)',
    };
    const update = (expression: string, condition: string, values: Record<string, unknown>) =>
      write('advance conversation', () =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: conv,
            UpdateExpression: expression,
            ConditionExpression: condition,
            ExpressionAttributeValues: values,
            // `ttl` is a reserved word.
            ...(expression.includes('#ttl') && { ExpressionAttributeNames: { '#ttl': TABLE_KEYS.ttlAttribute } }),
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
          }),
        ),
      );
    // Counted by an earlier try of this message: its token is in the slots (a count taken back
    // for a refused item clears it, so a later replay counts the message again).
    const countedAlready = (old: Record<string, unknown>) => Array.from({ length: RECENT_SLOTS }, (_, i) => old[`r${i}`]).includes(token);
    try {
      // The newest message of the conversation: the window, the activity (its place in its
      // number's list, `GSI1SK`) and the count. Its `ttl` follows its last message: a conversation
      // outlives every message it lists.
      await update(
        `SET ${inbound.set}, lastMessageKey = :k, lastMessageAt = :at, #ttl = :ttl, GSI1PK = :g1, GSI1SK = :k ADD messageCount :one`,
        `${inbound.cond} AND (attribute_not_exists(lastMessageKey) OR lastMessageKey < :k)`,
        { ...inbound.values, ':ttl': this.expiresAt(m.timestampMs), ':g1': keys.conversationsOf(m.business.phoneNumberId, m.contactId) },
      );
      return true;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      let old = err.Item ? unmarshall(err.Item) : {};
      for (let attempt = 0; ; attempt++) {
        if (countedAlready(old)) return true;
        if (typeof old.lastInboundKey === 'string' && old.lastInboundKey >= key) return false;
        // The newest inbound message, but a newer outbound one exists: the window and the count
        // alone; the activity stays with the newer message.
        try {
          await update(`SET ${inbound.set} ADD messageCount :one`, inbound.cond, inbound.values);
          return true;
        } catch (again) {
          if (!(again instanceof ConditionalCheckFailedException) || attempt >= 3) throw again;
          old = again.Item ? unmarshall(again.Item) : {};
        }
      }
    }
  }

  /**
   * Takes back the count of a message whose item DynamoDB refused after its conversation counted
   * it: the slot holding its token is cleared in the same write, so this happens once however
   * often it is tried.
   */
  private async uncount(conv: Record<string, string>, token: string): Promise<void> {
    for (let attempt = 0; attempt < 4; attempt++) {
      const { Item: c } = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: conv, ConsistentRead: true }));
      const slot = Array.from({ length: RECENT_SLOTS }, (_, i) => `r${i}`).find((name) => c?.[name] === token);
      if (!slot) return;
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: conv,
            UpdateExpression: `SET ${slot} = :none ADD messageCount :minus`,
            ConditionExpression: `${slot} = :token`,
            ExpressionAttributeValues: { ':none': '', ':minus': -1, ':token': token },
          }),
        );
        return;
      } catch (err) {
        // A newer message shifted the slots meanwhile: look again.
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
    }
  }

  async recordStatus(s: StatusUpdate): Promise<void> {
    // The send put our id in the callback data: its statuses go to the item beside the record (an
    // id derived from the record's, `recordId` naming the record), a small item one write unit
    // rewrites, where the record with its content is over 1 KB. AWS's own statuses (accepted,
    // retries exhausted) carry no id, only the AWS send id in the envelope: they go under an id
    // derived from it, which the read side finds from the send record's awsMessageId. Anything else
    // is kept under its wamid.
    const id =
      s.messageId !== undefined
        ? messageIdOfSendStatuses(s.messageId)
        : s.awsMessageId !== undefined
          ? messageIdFromAwsMessageId(s.awsMessageId)
          : messageIdFromWamid(s.wamid);
    const entry = {
      status: s.status,
      timestamp: iso(s.timestampMs),
      errors: s.errors,
      pricing: s.pricing,
      conversation: s.conversation,
      participantId: s.participantId,
      identityKeyHash: s.identityKeyHash,
    };
    const optional: Array<[string, unknown]> = [
      ['recordId', s.messageId],
      ['recipientId', s.recipientId],
      ['callbackData', s.callbackData],
      ['awsMessageId', s.awsMessageId],
    ];
    const present = optional.filter(([, v]) => v !== undefined);
    await write('record status', () =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.message(id),
          UpdateExpression: [
            'SET #st = if_not_exists(#st, :entry)',
            // A status-only item expires like a message (a record has its own `ttl` already).
            '#ttl = if_not_exists(#ttl, :ttl)',
            'entity = :entity',
            'id = if_not_exists(id, :id)',
            'wamid = :wamid',
            'direction = if_not_exists(direction, :outbound)',
            'phoneNumberId = if_not_exists(phoneNumberId, :pn)',
            'GSI2PK = :g2',
            'GSI2SK = :msg',
            ...present.map(([name]) => `${name} = if_not_exists(${name}, :${name})`),
          ].join(', '),
          ExpressionAttributeNames: { '#st': statusAttribute(s.status, s.participantId), '#ttl': TABLE_KEYS.ttlAttribute },
          ExpressionAttributeValues: {
            ':entry': entry,
            ':entity': 'message',
            ':ttl': this.expiresAt(s.timestampMs),
            ':id': id,
            ':wamid': s.wamid,
            ':outbound': 'outbound',
            ':pn': s.business.phoneNumberId,
            ':g2': keys.wamid(s.wamid),
            ':msg': 'MSG',
            ...Object.fromEntries(present.map(([name, v]) => [`:${name}`, v])),
          },
        }),
      ),
    );
  }

  async recordAccountEvent(e: AccountEvent): Promise<void> {
    const body = JSON.stringify(e.value) ?? 'null';
    const at = iso(e.receivedAtMs);
    // The envelope's own time tells a repeated event (FLAGGED again) from a redelivery of the same
    // one. Without it, the SNS notification id stands in (SNS and SQS retries keep it; a second
    // publish of the same value is kept as a second event, since it may be one), then the SQS time.
    const hash = sha256(`${e.field}\n${e.eventTimestamp ?? e.snsMessageId ?? at}\n${body}`);
    await this.putOnce('record account event', {
      ...keys.accountEvent(e.wabaId, e.field, at, hash),
      entity: 'accountEvent',
      wabaId: e.wabaId,
      field: e.field,
      kind: accountEventKind(e.field),
      value: e.value,
      receivedAt: at,
      eventTimestamp: e.eventTimestamp,
      GSI1PK: keys.accountEvents(hash),
      GSI1SK: `${at}#${hash}`,
    });
  }

  async quarantine(q: QuarantinedEvent): Promise<void> {
    // Over the event, not the SQS body: the same envelope published twice is one item.
    const hash = sha256(eventContentOf(q.raw));
    const at = iso(q.receivedAtMs);
    const truncated = Buffer.byteLength(q.raw) > QUARANTINE_RAW_MAX;
    await this.putOnce('quarantine event', {
      ...keys.quarantined(hash),
      entity: 'quarantine',
      id: hash,
      raw: truncated ? cutToBytes(q.raw, QUARANTINE_RAW_MAX) : q.raw,
      rawTruncated: truncated || undefined,
      rawLength: q.raw.length,
      reason: q.reason,
      source: q.source,
      receivedAt: at,
      GSI1PK: keys.quarantine(hash),
      GSI1SK: `${at}#${hash}`,
    });
  }

  async getQuarantined(id: string): Promise<StoredQuarantinedEvent | undefined> {
    const { Item: item } = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.quarantined(id), ConsistentRead: true }));
    if (!item) return undefined;
    return {
      id: item.id as string,
      raw: item.raw as string,
      reason: item.reason as string,
      receivedAtMs: Date.parse(item.receivedAt as string),
      ...(item.source !== undefined && { source: item.source as string }),
      ...(item.rawTruncated === true && { rawTruncated: true }),
      ...(item.replay !== undefined && { replay: item.replay as QuarantineReplay }),
    };
  }

  async markReplayed(id: string, replay: QuarantineReplay): Promise<{ kept: QuarantineReplay; won: boolean }> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.quarantined(id),
          UpdateExpression: 'SET replay = :replay, replayedAt = :at',
          ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(replay)',
          ExpressionAttributeValues: { ':replay': replay, ':at': replay.replayedAt },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { kept: replay, won: true };
    } catch (err) {
      const kept = err instanceof ConditionalCheckFailedException && err.Item ? (unmarshall(err.Item).replay as QuarantineReplay | undefined) : undefined;
      if (kept) return { kept, won: false };
      throw err;
    }
  }

  /** A Put that happens once: a redelivery of the same content is a no-op. */
  private async putOnce(what: string, item: Record<string, unknown>): Promise<void> {
    try {
      await write(what, () =>
        this.doc.send(
          new PutCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(PK)' }),
        ),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }
}
