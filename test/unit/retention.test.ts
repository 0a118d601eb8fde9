/**
 * Retention: every message, status-only item, contact alias and conversation carries `ttl` (epoch
 * seconds) = its time + the configured days (a conversation's, its last message's), on DynamoDB
 * Local; and a deletion by DynamoDB's TTL is told as no domain event.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOutbound } from '../../shared/adapters/dynamodb-outbound.ts';
import { DynamoDbStore, keys } from '../../shared/adapters/dynamodb-store.ts';
import { loadConfig } from '../../shared/config.ts';
import { messageIdFromWamid } from '../../shared/domain/ids.ts';
import { isTtlDeletion } from '../../shared/domain/events.ts';
import { parseEventBody } from '../../shared/domain/parse-event.ts';
import type { InboundMessage, StatusUpdate } from '../../shared/domain/types.ts';
import { DEFAULT_RETENTION_DAYS } from '../../shared/resource-spec.ts';
import { makeHandler as eventsHandler } from '../../lambdas/events/handler.ts';
import { freshTable } from '../support/dynamodb.ts';
import { entryOf, eumFixture, snsNotification, withEntry } from '../support/events.ts';

const DAYS = 30;
const DAY_S = 86_400;
let doc: Awaited<ReturnType<typeof freshTable>>['doc'];
let tableName: string;
let store: DynamoDbStore;

beforeAll(async () => {
  ({ doc, tableName } = await freshTable());
  store = new DynamoDbStore(doc, tableName, { retentionDays: DAYS });
});

const get = async (key: Record<string, string>) => (await doc.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }))).Item;

/** An inbound text from `contactId` at `seconds`, showing both wa_id and BSUID. */
function inbound(wamid: string, contactId: string, seconds: number): InboundMessage {
  const text = eumFixture('inbound-text');
  const e = entryOf(text);
  const v = e.changes[0].value;
  v.messages[0].id = wamid;
  v.messages[0].from = contactId;
  v.messages[0].timestamp = String(seconds);
  v.contacts[0].wa_id = contactId;
  v.contacts[0].user_id = `US.${contactId}`;
  const r = parseEventBody(snsNotification(withEntry(text, e)), Date.now());
  if (r.kind !== 'ok') throw new Error(r.reason);
  return r.parsed.messages[0]!;
}

describe('retention on DynamoDB Local', () => {
  it('a message, its alias and its conversation expire retentionDays after it; a later message moves the conversation’s ttl, an older one does not', async () => {
    const t = 1_760_000_000;
    const first = inbound('wamid.RET1', '15550001001', t);
    await store.recordInbound(first);
    const conv = keys.conversation(first.business.phoneNumberId, first.contactId);
    expect((await get(keys.message(first.id)))?.ttl).toBe(t + DAYS * DAY_S);
    expect((await get(keys.alias(first.business.phoneNumberId, first.contact.userId!)))?.ttl).toBe(t + DAYS * DAY_S);
    expect((await get(conv))?.ttl).toBe(t + DAYS * DAY_S);

    const later = inbound('wamid.RET2', '15550001001', t + 500);
    await store.recordInbound(later);
    expect((await get(conv))?.ttl).toBe(t + 500 + DAYS * DAY_S);

    const older = inbound('wamid.RET3', '15550001001', t + 100);
    await store.recordInbound(older);
    expect((await get(keys.message(older.id)))?.ttl).toBe(t + 100 + DAYS * DAY_S);
    // The conversation outlives every message it lists.
    expect((await get(conv))?.ttl).toBe(t + 500 + DAYS * DAY_S);
  });

  it('a send record expires after its time and moves its conversation’s ttl when sent; a status-only item expires after its status', async () => {
    const outbound = new DynamoDbOutbound(doc, tableName, { retentionDays: DAYS });
    const t = 1_760_100_000;
    const r = {
      id: 'msg_00000000000000000000000000ret001',
      phoneNumberId: 'phone-number-id-0123456789abcdef0123456789abcdef',
      contactId: '15550001002',
      contact: { waId: '15550001002' },
      type: 'text',
      content: { body: 'hi' },
      timestampMs: t * 1000,
      requestHash: 'h',
      attemptId: 'a1',
    };
    await outbound.begin(r, Date.now());
    const conv = keys.conversation(r.phoneNumberId, r.contactId);
    expect((await get(keys.message(r.id)))?.ttl).toBe(t + DAYS * DAY_S);
    // Created by the count alone (not yet in any list), it still expires.
    expect((await get(conv))?.ttl).toBe(t + DAYS * DAY_S);
    await outbound.markSent({ ...r, timestampMs: (t + 60) * 1000 }, 'aws-ret-1', Date.now());
    expect((await get(conv))?.ttl).toBe(t + 60 + DAYS * DAY_S);

    const status: StatusUpdate = {
      business: { phoneNumberId: r.phoneNumberId, metaPhoneNumberId: '1', wabaId: 'w' },
      wamid: 'wamid.RETOUT',
      status: 'delivered',
      timestampMs: (t + 90) * 1000,
      recipientId: r.contactId,
    };
    await store.recordStatus(status);
    expect((await get(keys.message(messageIdFromWamid('wamid.RETOUT'))))?.ttl).toBe(t + 90 + DAYS * DAY_S);
  });

  it('the functions read their retention from RETENTION_DAYS, 365 days unless set; a nonsense value is refused', () => {
    expect(loadConfig(['RETENTION_DAYS'], {}).RETENTION_DAYS).toBe(DEFAULT_RETENTION_DAYS);
    expect(DEFAULT_RETENTION_DAYS).toBe(365);
    expect(loadConfig(['RETENTION_DAYS'], { RETENTION_DAYS: '90' }).RETENTION_DAYS).toBe(90);
    expect(() => loadConfig(['RETENTION_DAYS'], { RETENTION_DAYS: '0' })).toThrow(/RETENTION_DAYS/);
    expect(() => new DynamoDbStore(doc, tableName, { retentionDays: 1.5 })).toThrow(/retentionDays/);
  });
});

describe('a deletion by TTL tells no domain event', () => {
  const TTL_IDENTITY = { type: 'Service', principalId: 'dynamodb.amazonaws.com' };
  const messageImage = {
    PK: { S: 'MSG#msg_00000000000000000000000000ret009' },
    SK: { S: 'MSG' },
    entity: { S: 'message' },
    id: { S: 'msg_00000000000000000000000000ret009' },
    direction: { S: 'inbound' },
    type: { S: 'text' },
    content: { M: { body: { S: 'hi' } } },
    timestamp: { S: '2026-01-01T00:00:00.000Z' },
  };

  it('tells TTL deletions from deletions by a user or a function', () => {
    expect(isTtlDeletion({ eventName: 'REMOVE', userIdentity: TTL_IDENTITY })).toBe(true);
    expect(isTtlDeletion({ eventName: 'REMOVE' })).toBe(false);
    expect(isTtlDeletion({ eventName: 'REMOVE', userIdentity: { type: 'Service', principalId: 'other.amazonaws.com' } })).toBe(false);
    expect(isTtlDeletion({ eventName: 'MODIFY', userIdentity: TTL_IDENTITY })).toBe(false);
  });

  it('the events function publishes nothing, reads nothing and fails nothing for expired messages, account events and quarantined events', async () => {
    const published: unknown[] = [];
    let reads = 0;
    const handler = eventsHandler({
      messages: { getMessage: async () => (reads++, undefined) },
      publisher: { publish: async (events) => (published.push(...events), { failed: [] }) },
      unpublished: { park: async () => {}, list: async () => [], remove: async () => {} },
    });
    const removed = (seq: string, oldImage: Record<string, unknown>) => ({
      eventID: seq,
      eventName: 'REMOVE' as const,
      userIdentity: TTL_IDENTITY,
      dynamodb: { SequenceNumber: seq, OldImage: oldImage as never, Keys: { PK: oldImage.PK, SK: oldImage.SK } as never },
    });
    const event = {
      Records: [
        removed('1', messageImage),
        removed('2', { PK: { S: 'ACCT#1' }, SK: { S: 'x' }, entity: { S: 'accountEvent' }, wabaId: { S: '1' }, field: { S: 'f' }, receivedAt: { S: '2026-01-01T00:00:00.000Z' } }),
        removed('3', { PK: { S: 'QUAR#1' }, SK: { S: 'QUAR' }, entity: { S: 'quarantine' }, id: { S: '1' }, reason: { S: 'r' } }),
      ],
    } as DynamoDBStreamEvent;
    const out = await handler(event);
    expect(out.batchItemFailures).toEqual([]);
    expect(published).toEqual([]);
    expect(reads).toBe(0);
  });
});
