/**
 * Outbound send records in the single table (docs/data-model.md): the message item `MSG#<id>`
 * written before WhatsApp is called, and its conversation once AWS accepted it. Every state change
 * is a conditional write, so concurrent requests with the same id cannot both send.
 *
 * DynamoDB requests of one send: a non-template message reads its conversation (1 GetItem, for
 * the 24-hour window), then 1 PutItem (the record) and 1 TransactWriteItems (record `sent` +
 * conversation counted and moved forward): 1 read + 2 writes; a template skips the read. The
 * rare late message (a newer one already moved the conversation) costs one more transaction.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ApiError, InternalError, UnavailableError } from '../domain/errors.ts';
import type {
  BeginResult,
  OutboundRecord,
  OutboundStore,
  SendState,
  StoredOutbound,
  StoredSendError,
  TakeOverResult,
} from '../ports/outbound-store.ts';
import { keys } from './dynamodb-store.ts';

const iso = (ms: number) => new Date(ms).toISOString();

type Item = Record<string, any>;

const DYNAMODB_BUSY = new Set(['ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded']);

/**
 * DynamoDB's own errors must not reach `fromAwsError`, whose table is for socialmessaging (a
 * DynamoDB ResourceNotFoundException is not an unknown phone number): busy → 503, anything else → 500.
 */
function storeError(what: string, err: unknown): never {
  if (err instanceof ApiError) throw err;
  const name = (err as { name?: unknown } | undefined)?.name;
  if (typeof name === 'string' && DYNAMODB_BUSY.has(name)) {
    throw new UnavailableError('The message store is busy: try again shortly.', 'store_unavailable');
  }
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
    ...(item.sendError !== undefined && { sendError: item.sendError as StoredSendError }),
    ...(typeof item.attemptStartedAt === 'number' && { attemptStartedAtMs: item.attemptStartedAt }),
    ...(Number.isFinite(timestampMs) && { timestampMs }),
  };
}

/** Position of a message in its conversation's timeline and in "last activity" order. */
const timelineKey = (r: { timestampMs: number; id: string }) => `${iso(r.timestampMs)}#${r.id}`;

export class DynamoDbOutbound implements OutboundStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly tableName: string;
  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.doc = doc;
    this.tableName = tableName;
  }

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

  async find(id: string): Promise<StoredOutbound | undefined> {
    const out = await guard('read send record', () =>
      this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.message(id), ConsistentRead: true })),
    );
    return out.Item ? toStored(out.Item) : undefined;
  }

  async begin(r: OutboundRecord, nowMs: number): Promise<BeginResult> {
    try {
      await this.doc.send(
        new PutCommand({
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
            sendState: 'sending' satisfies SendState,
            requestHash: r.requestHash,
            idempotencyKey: r.idempotencyKey,
            attempts: 1,
            attemptStartedAt: nowMs,
            GSI1PK: keys.timeline(r.phoneNumberId, r.contactId),
            GSI1SK: timelineKey(r),
          },
          ConditionExpression: 'attribute_not_exists(PK)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { created: true };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) storeError('write send record', err);
      const existing = err.Item ? toStored(unmarshall(err.Item)) : await this.find(r.id);
      return { created: false, existing: existing ?? { id: r.id } };
    }
  }

  async takeOver(r: OutboundRecord, nowMs: number): Promise<TakeOverResult> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.message(r.id),
          UpdateExpression:
            'SET sendState = :sending, attemptStartedAt = :now, GSI1PK = :g1, GSI1SK = :g1sk REMOVE sendError ADD attempts :one',
          ConditionExpression: 'sendState = :retryable AND requestHash = :h',
          ExpressionAttributeValues: {
            ':sending': 'sending',
            ':retryable': 'retryable_failure',
            ':h': r.requestHash,
            ':now': nowMs,
            ':one': 1,
            ':g1': keys.timeline(r.phoneNumberId, r.contactId),
            ':g1sk': timelineKey(r),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { taken: true };
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        return { taken: false, existing: err.Item ? toStored(unmarshall(err.Item)) : undefined };
      }
      storeError('take over send record', err);
    }
  }

  async markSent(r: OutboundRecord, awsMessageId: string | undefined, nowMs: number): Promise<void> {
    const at = iso(r.timestampMs);
    const k = timelineKey(r);
    const message = {
      Update: {
        TableName: this.tableName,
        Key: keys.message(r.id),
        UpdateExpression: `SET sendState = :sent, sentAt = :now${awsMessageId !== undefined ? ', awsMessageId = :aws' : ''}`,
        ConditionExpression: 'sendState = :sending',
        ExpressionAttributeValues: {
          ':sent': 'sent',
          ':sending': 'sending',
          ':now': iso(nowMs),
          ...(awsMessageId !== undefined && { ':aws': awsMessageId }),
        },
      },
    };
    const conversationValues = {
      ':conv': 'conversation',
      ':pn': r.phoneNumberId,
      ':cid': r.contactId,
      ':contact': r.contact,
      ':one': 1,
    };
    const counted = 'SET entity = :conv, phoneNumberId = :pn, contactId = :cid, contact = if_not_exists(contact, :contact)';
    // Counted and moved forward in one go; when a newer message already moved it, counted only.
    const forward = {
      Update: {
        TableName: this.tableName,
        Key: keys.conversation(r.phoneNumberId, r.contactId),
        UpdateExpression: `${counted}, lastMessageKey = :k, lastMessageAt = :at, GSI1PK = :g1, GSI1SK = :k, GSI2PK = :g2, GSI2SK = :k ADD messageCount :one`,
        ConditionExpression: 'attribute_not_exists(lastMessageKey) OR lastMessageKey < :k',
        ExpressionAttributeValues: {
          ...conversationValues,
          ':k': k,
          ':at': at,
          ':g1': keys.conversationsOf(r.phoneNumberId),
          ':g2': keys.allConversations,
        },
      },
    };
    const countOnly = {
      Update: {
        TableName: this.tableName,
        Key: keys.conversation(r.phoneNumberId, r.contactId),
        UpdateExpression: `${counted} ADD messageCount :one`,
        ExpressionAttributeValues: conversationValues,
      },
    };
    for (const conversation of [forward, countOnly]) {
      try {
        await this.doc.send(new TransactWriteCommand({ TransactItems: [message, conversation] }));
        return;
      } catch (err) {
        if (!(err instanceof TransactionCanceledException)) storeError('complete send record', err);
        const [onMessage, onConversation] = err.CancellationReasons ?? [];
        // The record is no longer `sending`: whoever changed it owns it now.
        if (onMessage?.Code === 'ConditionalCheckFailed') return;
        if (onConversation?.Code !== 'ConditionalCheckFailed' || conversation === countOnly) {
          storeError('complete send record', err);
        }
      }
    }
  }

  async markFailed(id: string, state: 'rejected' | 'retryable_failure', error: StoredSendError, nowMs: number): Promise<void> {
    // Nothing was sent: the record leaves the conversation's timeline but stays for replays.
    await this.transition(id, 'SET sendState = :state, sendError = :err, failedAt = :now REMOVE GSI1PK, GSI1SK', {
      ':state': state,
      ':err': error,
      ':now': iso(nowMs),
    });
  }

  async markInDoubt(id: string, nowMs: number): Promise<void> {
    await this.transition(id, 'SET sendState = :state, inDoubtSince = :now', { ':state': 'in_doubt', ':now': iso(nowMs) });
  }

  /** A change from `sending`; a record in another state is left alone. */
  private async transition(id: string, update: string, values: Record<string, unknown>): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.message(id),
          UpdateExpression: update,
          ConditionExpression: 'sendState = :sending',
          ExpressionAttributeValues: { ...values, ':sending': 'sending' },
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return;
      storeError('update send record', err);
    }
  }
}
