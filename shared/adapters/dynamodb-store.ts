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
import { messageIdFromAwsMessageId, messageIdFromWamid } from '../domain/ids.ts';
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
  async recordInbound(m: InboundMessage): Promise<{ inserted: boolean }> {
    const at = iso(m.timestampMs);
    const conv = keys.conversation(m.business.phoneNumberId, m.contactId);
    // A redelivery (an SQS retry, SNS publishing again, Meta's own retries for days) is told by a
    // read of half a read unit, a tenth of the price of the write units its refused writes would be
    // billed. The writes below stay conditional, so a read that has not yet seen a message written
    // a moment ago only costs those refused writes; it never records anything twice.
    const seen = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.message(m.id), ProjectionExpression: 'PK' }));
    if (seen?.Item) return { inserted: false };
    let inserted = true;
    // (1) Open the window first, then make the message visible: whatever a reader sees of the
    // message, the window it opened is already open (a client replying at once never gets
    // window_closed). A crash between the two only opens the window early for a message whose
    // event is then retried; a redelivery finds the window already there and moves nothing.
    await this.advanceConversation(m, conv);
    // A user who shows both ids lets a send addressed by BSUID find the phone number. Written with
    // the message, so it costs no request of its own; last write wins.
    const alias =
      m.contact.waId !== undefined && m.contact.userId !== undefined
        ? [
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  ...keys.alias(m.business.phoneNumberId, m.contact.userId),
                  entity: 'alias',
                  waId: m.contact.waId,
                  phoneNumberId: m.business.phoneNumberId,
                  userId: m.contact.userId,
                  ttl: this.expiresAt(m.timestampMs),
                },
              },
            },
          ]
        : [];
    // (2) The message, once, and the conversation's count with it: a redelivery cancels both, so
    // the count stays exact whatever the order of deliveries.
    try {
      await write('store inbound message', () =>
        this.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.tableName,
                  Item: {
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
                    GSI1PK: keys.timeline(m.business.phoneNumberId, m.contactId),
                    GSI1SK: `${at}#${m.id}`,
                    GSI2PK: keys.wamid(m.wamid),
                    GSI2SK: 'MSG',
                  },
                  ConditionExpression: 'attribute_not_exists(PK)',
                },
              },
              {
                Update: {
                  TableName: this.tableName,
                  Key: conv,
                  UpdateExpression:
                    'ADD messageCount :one SET entity = :conv, phoneNumberId = :pn, contactId = :cid, contact = if_not_exists(contact, :contact)',
                  ExpressionAttributeValues: {
                    ':one': 1,
                    ':conv': 'conversation',
                    ':pn': m.business.phoneNumberId,
                    ':cid': m.contactId,
                    ':contact': m.contact,
                  },
                },
              },
              ...alias,
            ],
          }),
        ),
      );
    } catch (err) {
      if (!(err instanceof TransactionCanceledException && err.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed')) {
        throw err;
      }
      inserted = false;
    }
    return { inserted };
  }

  private async advanceConversation(m: InboundMessage, conv: Record<string, string>): Promise<void> {
    const at = iso(m.timestampMs);
    const key = `${at}#${m.wamid}`;
    // Move the window and the activity forward, never back. This write may create the conversation
    // (it comes before the message's transaction), so it names the conversation too. Its `ttl`
    // follows its last message: a conversation outlives every message it lists.
    const inbound = {
      set: 'lastInboundKey = :k, lastInboundAt = :at, contact = :contact, entity = :conv, phoneNumberId = :pn, contactId = :cid',
      values: { ':k': key, ':at': at, ':contact': m.contact, ':conv': 'conversation', ':pn': m.business.phoneNumberId, ':cid': m.contactId },
      cond: '(attribute_not_exists(lastInboundKey) OR lastInboundKey < :k)',
    };
    const update = (expression: string, condition: string, values: Record<string, unknown>, returnOld: boolean) =>
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
            ...(returnOld && { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const }),
          }),
        ),
      );
    try {
      await update(
        `SET ${inbound.set}, lastMessageKey = :k, lastMessageAt = :at, #ttl = :ttl, GSI1PK = :g1, GSI1SK = :k, GSI2PK = :g2, GSI2SK = :k`,
        `${inbound.cond} AND (attribute_not_exists(lastMessageKey) OR lastMessageKey < :k)`,
        {
          ...inbound.values,
          ':ttl': this.expiresAt(m.timestampMs),
          ':g1': keys.conversationsOf(m.business.phoneNumberId, m.contactId),
          ':g2': keys.allConversations(m.business.phoneNumberId, m.contactId),
        },
        true,
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const old = err.Item ? unmarshall(err.Item) : {};
      // Only the inbound side is older (a newer outbound message exists): move it alone.
      if (typeof old.lastInboundKey === 'string' && old.lastInboundKey >= key) return;
      try {
        await update(`SET ${inbound.set}`, inbound.cond, inbound.values, false);
      } catch (again) {
        if (!(again instanceof ConditionalCheckFailedException)) throw again;
      }
    }
  }

  async recordStatus(s: StatusUpdate): Promise<void> {
    // The send put our id in the callback data. AWS's own statuses (accepted, retries exhausted)
    // carry none, only the AWS send id in the envelope: they go under an id derived from it, which
    // the read side finds from the send record's awsMessageId. Anything else is kept under its wamid.
    const id = s.messageId ?? (s.awsMessageId !== undefined ? messageIdFromAwsMessageId(s.awsMessageId) : messageIdFromWamid(s.wamid));
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
