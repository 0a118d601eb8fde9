/**
 * Outbound send records in the single table (docs/data-model.md): the message item `MSG#<id>`
 * written before WhatsApp is called. The record enters its conversation's timeline when it is
 * written, and its conversation counts it in the same transaction; it leaves both together (a
 * rejected send leaves the timeline, a send that nothing accepted is deleted), so a conversation's
 * count always equals the length of its message list, a crash mid-send included. Every state
 * change is a conditional write, so concurrent requests with the same id cannot both send.
 *
 * DynamoDB requests of one send: a non-template message reads its conversation (1 GetItem, for
 * the 24-hour window), then 1 TransactWriteItems (the record + its conversation counted) and 1
 * TransactWriteItems (record `sent` + conversation moved forward): 1 read + 2 writes; a template
 * skips the read. A send with an Idempotency-Key first reads whether statuses named its id (1
 * GetItem, see `begin`). A send to a BSUID (`recipient` without `to`) first reads its alias (1 GetItem).
 * The rare late message (a newer one already moved the conversation) costs one more UpdateItem; a
 * send in doubt, one UpdateItem; a rejected or throttled send, one more transaction. When the
 * transaction completing a send fails, the record alone is marked `sent` (`markSentOnly`, one
 * UpdateItem): it was counted when it was written. */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ApiError, InternalError, storeBusy, type ErrorKind } from '../domain/errors.ts';
import { isStoreBusy } from './store-errors.ts';
import type { BeginResult, OutboundRecord, OutboundStore, SendState, StoredOutbound, StoredSendError } from '../ports/outbound-store.ts';
import { retryTransactionConflicts } from './dynamodb-conflicts.ts';
import { keys } from './dynamodb-keys.ts';
import { messageIdOfSendStatuses } from '../domain/ids.ts';
import { DynamoDbTable } from './dynamodb-table.ts';
import { TABLE_KEYS } from '../resource-spec.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/** Tries of the DeleteItem of `discard` (on top of the SDK's own retries) before it gives up. */
export const DISCARD_ATTEMPTS = 3;
/** The pause before the n-th retry of that delete: n × this, with jitter. */
const DISCARD_RETRY_DELAY_MS = 50;

type Item = Record<string, any>;

/**
 * DynamoDB's own errors as API errors, named after the step that failed (for the log): busy → 503,
 * anything else → 500. (A DynamoDB ResourceNotFoundException is not an unknown phone number.)
 */
function storeError(what: string, err: unknown): never {
  if (err instanceof ApiError) throw err;
  if (isStoreBusy(err)) throw storeBusy();
  throw new InternalError('store_error', undefined, { cause: new Error(what, { cause: err }) });
}

async function guard<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    return storeError(what, err);
  }
}

function toStored(item: Item): StoredOutbound {
  const timestampMs = typeof item.timestamp === 'string' ? Date.parse(item.timestamp) : Number.NaN;
  return {
    id: item.id,
    ...(item.sendState !== undefined && { sendState: item.sendState as SendState }),
    ...(item.requestHash !== undefined && { requestHash: item.requestHash }),
    ...(item.awsMessageId !== undefined && { awsMessageId: item.awsMessageId }),
    ...(item.sendError !== undefined && { sendError: storedSendError(item.sendError) }),
    ...(typeof item.attemptStartedAt === 'number' && { attemptStartedAtMs: item.attemptStartedAt }),
    ...(Number.isFinite(timestampMs) && { timestampMs }),
    ...(typeof item.templateChecked === 'boolean' && { templateChecked: item.templateChecked }),
  };
}

/**
 * The kind of failure each HTTP status stood for in the send errors of records written before
 * errors had a kind (they kept `status`): read as that kind, a replay answers exactly as before.
 */
export const KIND_OF_LEGACY_STATUS: Readonly<Record<number, ErrorKind>> = {
  400: 'invalid',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  410: 'gone',
  422: 'unprocessable',
  429: 'throttled',
  500: 'internal',
  502: 'no_answer',
  503: 'unavailable',
};

function storedSendError(raw: Item): StoredSendError {
  const { status, kind, ...rest } = raw;
  const legacy = typeof status === 'number' && Object.hasOwn(KIND_OF_LEGACY_STATUS, status) ? KIND_OF_LEGACY_STATUS[status] : undefined;
  return { kind: kind ?? legacy ?? 'internal', ...rest } as StoredSendError;
}

/** Position of a message in its conversation's timeline and in "last activity" order. */
const timelineKey = (r: { timestampMs: number; id: string }) => `${iso(r.timestampMs)}#${r.id}`;

/**
 * A record's move to `sent`. With AWS's send id, the record is also keyed by it in GSI2, so an item
 * of AWS's own statuses finds it (keys.awsSend). (`if_not_exists`: a record written before statuses
 * were kept beside it may already be keyed by its wamid.)
 */
function sentChange(awsMessageId: string | undefined, nowMs: number): { update: string; values: Record<string, unknown> } {
  const values = { ':sent': 'sent' satisfies SendState, ':now': iso(nowMs) };
  if (awsMessageId === undefined) return { update: 'SET sendState = :sent, sentAt = :now', values };
  return {
    update: 'SET sendState = :sent, sentAt = :now, awsMessageId = :aws, GSI2PK = if_not_exists(GSI2PK, :awsKey), GSI2SK = if_not_exists(GSI2SK, :msg)',
    values: { ...values, ':aws': awsMessageId, ':awsKey': keys.awsSend(awsMessageId), ':msg': 'MSG' },
  };
}

export class DynamoDbOutbound extends DynamoDbTable implements OutboundStore {
  async lastInboundAt(phoneNumberId: string, contactId: string): Promise<number | undefined> {
    // Consistent: a reply right after the user's first message must see the window it opened.
    const out = await guard('read conversation window', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: keys.conversation(phoneNumberId, contactId),
          ProjectionExpression: 'lastInboundAt',
          ConsistentRead: true,
        }),
      ),
    );
    const at = out.Item?.lastInboundAt;
    const ms = typeof at === 'string' ? Date.parse(at) : Number.NaN;
    return Number.isFinite(ms) ? ms : undefined;
  }

  async waIdOf(phoneNumberId: string, userId: string): Promise<string | undefined> {
    // The alias the inbound path writes for a user who shows both ids (its conversation is filed
    // under the wa_id). Consistent: a reply right after the user's first message must find it.
    const out = await guard('read contact alias', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: keys.alias(phoneNumberId, userId),
          ProjectionExpression: 'waId',
          ConsistentRead: true,
        }),
      ),
    );
    const waId = out.Item?.waId;
    return typeof waId === 'string' && waId !== '' ? waId : undefined;
  }

  async find(id: string): Promise<StoredOutbound | undefined> {
    const out = await guard('read send record', () =>
      this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.message(id), ConsistentRead: true })),
    );
    return out.Item ? toStored(out.Item) : undefined;
  }

  async begin(r: OutboundRecord, nowMs: number): Promise<BeginResult> {
    // A keyed retry whose earlier attempt was discarded as not sent: statuses under its id (kept
    // beside the record) prove that attempt went out after all, so it is never sent again (an id
    // with no send state answers send_in_doubt). A retry of a send whose record is there answers
    // from the record, as below. One consistent read, for keyed sends only: without a key, a
    // retry has another id.
    if (r.idempotencyKey !== undefined && (await this.statusesSeen(r.id))) return { created: false, existing: (await this.find(r.id)) ?? { id: r.id } };
    // The record enters its conversation's timeline here, so its conversation counts it here, in
    // the same transaction: the count and the list move together whatever happens next (a crash
    // that leaves the record `sending` included).
    const put = {
      Put: {
        TableName: this.tableName,
        Item: {
          ...keys.message(r.id),
          entity: 'message',
          id: r.id,
          direction: 'outbound',
          phoneNumberId: r.phoneNumberId,
          contactId: r.contactId,
          contact: r.contact,
          type: r.type,
          // As JSON text: the caller's object may hold what a DynamoDB map cannot (an empty key,
          // a number out of DynamoDB's range, nesting deeper than 32 levels).
          contentJson: JSON.stringify(r.content),
          context: r.context,
          callbackData: r.callbackData,
          timestamp: iso(r.timestampMs),
          ttl: this.expiresAt(r.timestampMs),
          sendState: 'sending' satisfies SendState,
          requestHash: r.requestHash,
          idempotencyKey: r.idempotencyKey,
          attemptId: r.attemptId,
          attemptStartedAt: nowMs,
          templateChecked: r.templateChecked,
          GSI1PK: keys.timeline(r.phoneNumberId, r.contactId),
          GSI1SK: timelineKey(r),
        },
        ConditionExpression: 'attribute_not_exists(PK)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    };
    try {
      await retryTransactionConflicts(() => this.doc.send(new TransactWriteCommand({ TransactItems: [put, this.count(r, 1)] })));
      return { created: true };
    } catch (err) {
      const taken = err instanceof TransactionCanceledException ? err.CancellationReasons?.[0] : undefined;
      if (taken?.Code !== 'ConditionalCheckFailed') storeError('write send record', err);
      const existing = taken.Item ? toStored(unmarshall(taken.Item)) : await this.find(r.id);
      return { created: false, existing };
    }
  }

  /** Whether a status named this id (the item beside its record exists). */
  private async statusesSeen(id: string): Promise<boolean> {
    const out = await guard('read statuses of a send', () =>
      this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: keys.message(messageIdOfSendStatuses(id)), ProjectionExpression: 'PK', ConsistentRead: true }),
      ),
    );
    return out.Item !== undefined;
  }

  async markSent(r: OutboundRecord, awsMessageId: string | undefined, nowMs: number): Promise<void> {
    const k = timelineKey(r);
    const { update: sentUpdate, values: sentValues } = sentChange(awsMessageId, nowMs);
    const message = {
      Update: {
        TableName: this.tableName,
        Key: keys.message(r.id),
        UpdateExpression: sentUpdate,
        ConditionExpression: 'sendState = :sending AND attemptId = :attempt',
        ExpressionAttributeValues: { ...sentValues, ':sending': 'sending', ':attempt': r.attemptId },
      },
    };
    // The conversation (which counted the record when it was written) moves forward to it.
    const forward = {
      Update: {
        TableName: this.tableName,
        Key: keys.conversation(r.phoneNumberId, r.contactId),
        UpdateExpression:
          'SET entity = :conv, phoneNumberId = :pn, contactId = :cid, contact = if_not_exists(contact, :contact), ' +
          'lastMessageKey = :k, lastMessageAt = :at, #ttl = :ttl, GSI1PK = :g1, GSI1SK = :k',
        ConditionExpression: 'attribute_not_exists(lastMessageKey) OR lastMessageKey < :k',
        ExpressionAttributeNames: { '#ttl': TABLE_KEYS.ttlAttribute },
        ExpressionAttributeValues: {
          ':ttl': this.expiresAt(r.timestampMs),
          ':conv': 'conversation',
          ':pn': r.phoneNumberId,
          ':cid': r.contactId,
          ':contact': r.contact,
          ':k': k,
          ':at': iso(r.timestampMs),
          ':g1': keys.conversationsOf(r.phoneNumberId, r.contactId),
        },
      },
    };
    try {
      await retryTransactionConflicts(() => this.doc.send(new TransactWriteCommand({ TransactItems: [message, forward] })));
      return;
    } catch (err) {
      if (!(err instanceof TransactionCanceledException)) storeError('complete send record', err);
      const [onMessage, onConversation] = err.CancellationReasons ?? [];
      // The record is no longer this attempt's `sending`: whoever changed it owns it now.
      if (onMessage?.Code === 'ConditionalCheckFailed') return;
      if (onConversation?.Code !== 'ConditionalCheckFailed') storeError('complete send record', err);
    }
    // A newer message already moved the conversation: the record alone changes.
    await this.transition(r, sentUpdate, sentValues);
  }

  async markSentOnly(r: OutboundRecord, awsMessageId: string | undefined, nowMs: number): Promise<void> {
    // One plain UpdateItem: it touches no other item, so it cannot lose a race on the conversation.
    const { update, values } = sentChange(awsMessageId, nowMs);
    await this.transition(r, update, values);
  }

  async markRejected(r: OutboundRecord, error: StoredSendError, nowMs: number): Promise<void> {
    // Nothing was sent: the record leaves the conversation's timeline (and its count, in the same
    // transaction) but stays for replays.
    await this.transitionCounted(
      r,
      'SET sendState = :state, sendError = :err, failedAt = :now REMOVE GSI1PK, GSI1SK',
      { ':state': 'rejected' satisfies SendState, ':err': error, ':now': iso(nowMs) },
      'mark send rejected',
    );
  }

  async markInDoubt(r: OutboundRecord, nowMs: number): Promise<void> {
    // The message list shows an in-doubt send (it may well have gone out): it stays in the
    // timeline, and so in the count it entered with the record.
    await this.transition(r, 'SET sendState = :state, inDoubtSince = :now', { ':state': 'in_doubt' satisfies SendState, ':now': iso(nowMs) });
  }

  async discard(r: OutboundRecord): Promise<void> {
    // A record left behind holds the key for good (a retry answers send_in_doubt), so a failed
    // delete is worth a second and a third try here. It leaves the timeline and the count together.
    const remove = {
      Delete: {
        TableName: this.tableName,
        Key: keys.message(r.id),
        ConditionExpression: 'sendState = :sending AND attemptId = :attempt AND requestHash = :h',
        ExpressionAttributeValues: { ':sending': 'sending', ':attempt': r.attemptId, ':h': r.requestHash },
      },
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await retryTransactionConflicts(() => this.doc.send(new TransactWriteCommand({ TransactItems: [remove, this.count(r, -1)] })));
        return;
      } catch (err) {
        if (err instanceof TransactionCanceledException && err.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') return;
        if (attempt >= DISCARD_ATTEMPTS) storeError('discard send record', err);
      }
      await sleep(DISCARD_RETRY_DELAY_MS * attempt * (0.5 + Math.random()));
    }
  }

  /**
   * `ADD messageCount` of the record's conversation (creating the conversation item if need be,
   * outside the conversation lists until a message moves it): the count follows the timeline.
   */
  private count(r: OutboundRecord, by: 1 | -1) {
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.conversation(r.phoneNumberId, r.contactId),
        // A conversation created here (a first send, not yet moved by any message) still expires.
        UpdateExpression:
          'SET entity = :conv, phoneNumberId = :pn, contactId = :cid, contact = if_not_exists(contact, :contact), #ttl = if_not_exists(#ttl, :ttl) ADD messageCount :by',
        ExpressionAttributeNames: { '#ttl': TABLE_KEYS.ttlAttribute },
        ExpressionAttributeValues: {
          ':conv': 'conversation',
          ':pn': r.phoneNumberId,
          ':cid': r.contactId,
          ':contact': r.contact,
          ':ttl': this.expiresAt(r.timestampMs),
          ':by': by,
        },
      },
    };
  }

  /** A change from this attempt's `sending` that takes the record out of its timeline, uncounted in the same transaction. */
  private async transitionCounted(r: OutboundRecord, update: string, values: Record<string, unknown>, what: string): Promise<void> {
    const message = {
      Update: {
        TableName: this.tableName,
        Key: keys.message(r.id),
        UpdateExpression: update,
        ConditionExpression: 'sendState = :sending AND attemptId = :attempt',
        ExpressionAttributeValues: { ...values, ':sending': 'sending', ':attempt': r.attemptId },
      },
    };
    try {
      await retryTransactionConflicts(() => this.doc.send(new TransactWriteCommand({ TransactItems: [message, this.count(r, -1)] })));
    } catch (err) {
      // The record is no longer this attempt's `sending`: whoever changed it owns it now.
      if (err instanceof TransactionCanceledException && err.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') return;
      storeError(what, err);
    }
  }

  /** A change from this attempt's `sending`; a record in another state is left alone. */
  private async transition(r: OutboundRecord, update: string, values: Record<string, unknown>): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.message(r.id),
          UpdateExpression: update,
          ConditionExpression: 'sendState = :sending AND attemptId = :attempt',
          ExpressionAttributeValues: { ...values, ':sending': 'sending', ':attempt': r.attemptId },
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return;
      storeError('update send record', err);
    }
  }
}
