import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStore, keys, statusAttribute } from '../../shared/adapters/dynamodb-store.ts';
import type { InboundMessage, StatusUpdate } from '../../shared/domain/types.ts';
import { PermanentWriteError } from '../../shared/ports/event-store.ts';
import { parseEventBody } from '../../shared/whatsapp/parse-event.ts';
import { freshTable } from '../support/dynamodb.ts';
import { eumFixture, snsNotification } from '../support/events.ts';

let store: DynamoDbStore;
let doc: Awaited<ReturnType<typeof freshTable>>['doc'];
let tableName: string;

beforeAll(async () => {
  ({ doc, tableName } = await freshTable());
  store = new DynamoDbStore(doc, tableName);
});

function parsedFixture(name: string) {
  const r = parseEventBody(snsNotification(eumFixture(name)), Date.now());
  if (r.kind !== 'ok') throw new Error(r.reason);
  return r.parsed;
}

let seq = 0;
/** An inbound text from a fixture, given its own wamid, contact and time. */
function inbound(opts: { contactId?: string; seconds: number; name?: string }): InboundMessage {
  const m = parsedFixture('inbound-text').messages[0]!;
  const wamid = `wamid.TEST${++seq}`;
  const contactId = opts.contactId ?? `1555000${seq}`;
  return {
    ...m,
    wamid,
    id: `msg_${seq.toString(16).padStart(32, '0')}`,
    contactId,
    contact: { waId: contactId, name: opts.name ?? 'Sheena' },
    timestampMs: opts.seconds * 1000,
  };
}

const get = async (key: Record<string, string>) => (await doc.send(new GetCommand({ TableName: tableName, Key: key }))).Item;
const conversationOf = (m: InboundMessage) => get(keys.conversation(m.business.phoneNumberId, m.contactId));

describe('inbound messages', () => {
  it('stores a message once and counts it once when delivered twice', async () => {
    const m = inbound({ seconds: 1_750_000_000 });
    expect(await store.recordInbound(m)).toEqual({ inserted: true });
    expect(await store.recordInbound(m)).toEqual({ inserted: false });

    const item = await get(keys.message(m.id));
    expect(item).toMatchObject({ id: m.id, wamid: m.wamid, direction: 'inbound', type: 'text', content: m.content });
    expect(item?.GSI1PK).toBe(`CONV#${m.business.phoneNumberId}#${m.contactId}`);
    const conv = await conversationOf(m);
    expect(conv).toMatchObject({ messageCount: 1, lastInboundAt: '2025-06-15T15:06:40.000Z', contact: m.contact });
  });

  it('moves the window forward and never back when an older message arrives late', async () => {
    const contactId = '15551230001';
    const newer = inbound({ contactId, seconds: 1_750_000_600, name: 'New name' });
    const older = inbound({ contactId, seconds: 1_750_000_000, name: 'Old name' });
    await store.recordInbound(newer);
    await store.recordInbound(older);

    const conv = await conversationOf(newer);
    expect(conv).toMatchObject({
      messageCount: 2,
      lastInboundAt: new Date(newer.timestampMs).toISOString(),
      lastMessageAt: new Date(newer.timestampMs).toISOString(),
      contact: { name: 'New name' },
    });
  });

  it('moves the inbound time alone when a newer outbound message is the latest activity', async () => {
    const contactId = '15551230002';
    const first = inbound({ contactId, seconds: 1_750_000_000 });
    await store.recordInbound(first);
    // an outbound message moved lastMessageKey further (as the send path does)
    const conv = keys.conversation(first.business.phoneNumberId, contactId);
    const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: conv,
        UpdateExpression: 'SET lastMessageKey = :k, lastMessageAt = :at',
        ExpressionAttributeValues: { ':k': '2025-06-15T16:00:00.000Z#msg_out', ':at': '2025-06-15T16:00:00.000Z' },
      }),
    );
    const late = inbound({ contactId, seconds: 1_750_001_000 }); // 15:23:20, older than the outbound one
    await store.recordInbound(late);

    expect(await get(conv)).toMatchObject({
      lastInboundAt: new Date(late.timestampMs).toISOString(),
      lastMessageAt: '2025-06-15T16:00:00.000Z',
    });
  });

  it('refuses an item that is too large as a permanent failure, not a retryable one', async () => {
    const m = inbound({ seconds: 1_750_000_000 });
    await expect(store.recordInbound({ ...m, content: { body: 'x'.repeat(420_000) } })).rejects.toBeInstanceOf(PermanentWriteError);
  });
});

describe('statuses', () => {
  const base = (): StatusUpdate => ({ ...parsedFixture('status-sent').statuses[0]!, wamid: `wamid.ST${++seq}` });

  it('keeps each status once and never lets a late delivered overwrite read', async () => {
    const s = base();
    await store.recordStatus({ ...s, status: 'read', timestampMs: 3000 });
    await store.recordStatus({ ...s, status: 'delivered', timestampMs: 2000 });
    await store.recordStatus({ ...s, status: 'delivered', timestampMs: 2000 });
    await store.recordStatus({ ...s, status: 'sent', timestampMs: 1000 });

    const items = (await doc.send(new ScanCommand({ TableName: tableName, FilterExpression: 'wamid = :w', ExpressionAttributeValues: { ':w': s.wamid } }))).Items!;
    expect(items).toHaveLength(1);
    const item = items[0]!;
    expect(Object.keys(item).filter((k) => k.startsWith('st:')).sort()).toEqual(['st:delivered', 'st:read', 'st:sent']);
    expect(item[statusAttribute('read')]).toMatchObject({ status: 'read', timestamp: '1970-01-01T00:00:03.000Z' });
    expect(item).toMatchObject({ direction: 'outbound', GSI2PK: `WAMID#${s.wamid}`, awsMessageId: '6d69f07a-c317-4278-9d5c-6a84078419ec' });
  });

  it('files a status under the id from the callback data, before the send record exists', async () => {
    const s = { ...base(), messageId: 'msg_00000000000000000000000000abcdef', callbackData: 'order-1' };
    await store.recordStatus(s);
    expect(await get(keys.message(s.messageId))).toMatchObject({ id: s.messageId, wamid: s.wamid, callbackData: 'order-1' });
  });
});

describe('account events and quarantine', () => {
  it('keeps an account event once per content', async () => {
    const [e] = parsedFixture('template-status-update').accountEvents;
    await store.recordAccountEvent(e!);
    await store.recordAccountEvent(e!);
    const items = (await doc.send(new ScanCommand({ TableName: tableName, FilterExpression: 'entity = :e', ExpressionAttributeValues: { ':e': 'accountEvent' } }))).Items!;
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ field: 'message_template_status_update', kind: 'template', value: { event: 'APPROVED' } });
  });

  it('keeps a quarantined event once, with its raw body and reason, and cuts a huge body', async () => {
    await store.quarantine({ raw: 'garbage', reason: 'body is not JSON', receivedAtMs: 1000 });
    await store.quarantine({ raw: 'garbage', reason: 'body is not JSON', receivedAtMs: 2000 });
    await store.quarantine({ raw: 'y'.repeat(500_000), reason: 'too big', receivedAtMs: 3000 });
    const items = (await doc.send(new ScanCommand({ TableName: tableName, FilterExpression: 'entity = :e', ExpressionAttributeValues: { ':e': 'quarantine' } }))).Items!;
    expect(items).toHaveLength(2);
    expect(items.find((i) => i.raw === 'garbage')).toMatchObject({ reason: 'body is not JSON', receivedAt: '1970-01-01T00:00:01.000Z' });
    expect(items.find((i) => i.reason === 'too big')).toMatchObject({ rawTruncated: true, rawLength: 500_000 });
  });
});
