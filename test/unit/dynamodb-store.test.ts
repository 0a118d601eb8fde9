import 'aws-sdk-client-mock-vitest/extend';
import { ConditionalCheckFailedException, DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, ScanCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../shared/adapters/aws-clients.ts';
import { CONFLICT_ATTEMPTS } from '../../shared/adapters/dynamodb-conflicts.ts';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { DynamoDbStore, keys, RECENT_SLOTS, statusAttribute } from '../../shared/adapters/dynamodb-store.ts';
import { messageIdFromAwsMessageId, messageIdFromWamid, messageIdOfSendStatuses } from '../../shared/domain/ids.ts';
import type { InboundMessage, StatusUpdate } from '../../shared/domain/types.ts';
import { PermanentWriteError } from '../../shared/ports/event-store.ts';
import { parseEventBody } from '../../shared/domain/parse-event.ts';
import { freshTable, localDynamoClient } from '../support/dynamodb.ts';
import { entryOf, eumFixture, snsNotification, withEntry } from '../support/events.ts';

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

/** A store on the same table whose client counts requests by operation (GetItem, UpdateItem, …). */
function countingStore() {
  const client = localDynamoClient();
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, ctx) => async (args) => {
      const op = (ctx.commandName as string).replace(/Command$/, '');
      counts.set(op, (counts.get(op) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  return { store: new DynamoDbStore(documentClient(client), tableName), counts: () => Object.fromEntries(counts) };
}

const get = async (key: Record<string, string>) => (await doc.send(new GetCommand({ TableName: tableName, Key: key }))).Item;
const conversationOf = (m: InboundMessage) => get(keys.conversation(m.business.phoneNumberId, m.contactId));

/** A store whose client runs `onMessagePut` (on the real table) before each write of a message item. */
function storeWithHook(onMessagePut: () => Promise<void>) {
  const client = localDynamoClient();
  client.middlewareStack.add(
    (next, ctx) => async (args) => {
      type Put = { Item?: { PK?: string | { S?: string } } };
      const input = args.input as Put & { TransactItems?: Array<{ Put?: Put }> };
      // A Put of the message alone, or a transaction holding it (a late message).
      const pk = (input.TransactItems?.[0]?.Put ?? input).Item?.PK;
      const key = typeof pk === 'string' ? pk : pk?.S;
      if (/^(PutItem|TransactWriteItems)Command$/.test(ctx.commandName as string) && key?.startsWith('MSG#')) await onMessagePut();
      return next(args);
    },
    { step: 'initialize', name: 'beforeMessagePut' },
  );
  return new DynamoDbStore(documentClient(client), tableName);
}

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

  it('tells a redelivery by one read and writes nothing for it', async () => {
    const m = inbound({ seconds: 1_750_000_000 });
    await store.recordInbound(m);
    const { store: counted, counts } = countingStore();

    expect(await counted.recordInbound(m)).toEqual({ inserted: false });
    expect(counts()).toEqual({ GetItem: 1 });
    expect(await get(keys.conversation(m.business.phoneNumberId, m.contactId))).toMatchObject({ messageCount: 1 });
  });

  it('records the BSUID alias of a user who shows both ids, in one Put beside the message', async () => {
    const m = inbound({ seconds: 1_750_000_000 });
    const userId = `US.${seq}0001`;
    const both = { ...m, contact: { ...m.contact, userId } };
    const { store: counted, counts } = countingStore();

    await counted.recordInbound(both);

    // Is it stored? The conversation (window, activity, count), the alias, the message.
    expect(counts()).toEqual({ GetItem: 1, UpdateItem: 1, PutItem: 2 });
    expect(await get(keys.alias(m.business.phoneNumberId, userId))).toEqual({
      PK: `ALIAS#${m.business.phoneNumberId}#${userId}`,
      SK: 'ALIAS',
      entity: 'alias',
      waId: m.contactId,
      phoneNumberId: m.business.phoneNumberId,
      userId,
      // Kept as long as the message that showed it (365 days by default).
      ttl: 1_750_000_000 + 365 * 86_400,
    });
  });

  it('records no alias when the user shows only one id', async () => {
    const phoneOnly = inbound({ seconds: 1_750_000_000 });
    const bsuid = parsedFixture('inbound-bsuid-only').messages[0]!;
    await store.recordInbound(phoneOnly);
    await store.recordInbound(bsuid);
    const aliases = (await doc.send(new ScanCommand({ TableName: tableName, FilterExpression: 'entity = :e', ExpressionAttributeValues: { ':e': 'alias' } }))).Items!;
    expect(aliases.filter((a) => a.waId === phoneOnly.contactId || a.userId === bsuid.contact.userId)).toEqual([]);
  });

  it('refuses an item that is too large as a permanent failure, not a retryable one', async () => {
    const m = inbound({ seconds: 1_750_000_000 });
    await expect(store.recordInbound({ ...m, content: { body: 'x'.repeat(420_000) } })).rejects.toBeInstanceOf(PermanentWriteError);
  });
});

describe('statuses', () => {
  const base = (): StatusUpdate => ({ ...parsedFixture('status-sent').statuses[0]!, wamid: `wamid.ST${++seq}`, awsMessageId: `aws-${seq}` });
  const itemsOf = async (wamid: string) =>
    (await doc.send(new ScanCommand({ TableName: tableName, FilterExpression: 'wamid = :w', ExpressionAttributeValues: { ':w': wamid } }))).Items!;

  it('keeps each status once and never lets a late delivered overwrite read', async () => {
    const s = base();
    await store.recordStatus({ ...s, status: 'read', timestampMs: 3000 });
    await store.recordStatus({ ...s, status: 'delivered', timestampMs: 2000 });
    await store.recordStatus({ ...s, status: 'delivered', timestampMs: 2000 });
    await store.recordStatus({ ...s, status: 'sent', timestampMs: 1000 });

    const items = await itemsOf(s.wamid);
    expect(items).toHaveLength(1);
    const item = items[0]!;
    expect(Object.keys(item).filter((k) => k.startsWith('st:')).sort()).toEqual(['st:delivered', 'st:read', 'st:sent']);
    expect(item[statusAttribute('read')]).toMatchObject({ status: 'read', timestamp: '1970-01-01T00:00:03.000Z' });
    expect(item).toMatchObject({ direction: 'outbound', GSI2PK: `WAMID#${s.wamid}`, awsMessageId: s.awsMessageId });
  });

  it("keeps each group member's statuses once, and a member's failure does not fail the message", async () => {
    const statuses = parsedFixture('status-group').statuses.map((s) => ({ ...s, messageId: 'msg_000000000000000000000000000a0001' }));
    const queries = new DynamoDbQueries(doc, tableName);
    for (const s of [...statuses].reverse()) await store.recordStatus(s);
    for (const s of statuses) await store.recordStatus(s); // every one delivered again

    const [item] = await itemsOf(statuses[0]!.wamid);
    expect(Object.keys(item!).filter((k) => k.startsWith('st:')).sort()).toEqual([
      'st:delivered:16505551234',
      'st:delivered:16505559876',
      'st:failed:16505550000',
      'st:read:16505551234',
      'st:sent',
    ]);
    const message = await queries.getMessage('msg_000000000000000000000000000a0001');
    expect(message?.status).toBe('read');
    expect(message?.statuses.map((s) => [s.status, s.participantId])).toEqual([
      ['sent', undefined],
      ['delivered', '16505551234'],
      ['delivered', '16505559876'],
      ['read', '16505551234'],
      ['failed', '16505550000'],
    ]);
    expect(message?.statuses[2]).toMatchObject({ identityKeyHash: 'DF2lS5v2W6x=' });
    expect(message?.errors).toEqual([expect.objectContaining({ code: 131026 })]);

    // A failure of the message itself (no member named) still fails it.
    await store.recordStatus({ ...statuses[4]!, participantId: undefined, timestampMs: statuses[4]!.timestampMs + 1000 });
    expect((await queries.getMessage('msg_000000000000000000000000000a0001'))?.status).toBe('failed');
  });

  it("files AWS's own status, which names only the AWS send id, under the id derived from that id, in one write", async () => {
    const [s] = parsedFixture('status-retries-exhausted-aws').statuses;
    const { store: counted, counts } = countingStore();

    await counted.recordStatus(s!);

    expect(counts()).toEqual({ UpdateItem: 1 });
    const id = messageIdFromAwsMessageId('0f6b3a1e-7b5e-4e4c-9d7a-2a9b3c4d5e6f');
    expect(await get(keys.message(id))).toMatchObject({
      id,
      awsMessageId: '0f6b3a1e-7b5e-4e4c-9d7a-2a9b3c4d5e6f',
      wamid: s!.wamid,
      GSI2PK: `WAMID#${s!.wamid}`,
      [statusAttribute('retries_exhausted')]: { status: 'retries_exhausted' },
    });
    expect(await get(keys.message(messageIdFromWamid(s!.wamid)))).toBeUndefined();
  });

  it('files a status that names neither our id nor an AWS id under the id derived from its wamid', async () => {
    const { awsMessageId: _, ...s } = base();
    await store.recordStatus(s);
    expect((await itemsOf(s.wamid)).map((i) => i.id)).toEqual([messageIdFromWamid(s.wamid)]);
  });

  it('files a status with our id beside the send record, under an id derived from it, with the record untouched', async () => {
    const s = { ...base(), messageId: 'msg_00000000000000000000000000abcdef', callbackData: 'order-1' };
    await store.recordStatus(s);
    const beside = messageIdOfSendStatuses(s.messageId);
    expect(await get(keys.message(beside))).toMatchObject({
      id: beside,
      recordId: s.messageId,
      wamid: s.wamid,
      callbackData: 'order-1',
      GSI2PK: keys.wamid(s.wamid),
      [`st:${s.status}`]: { status: s.status },
    });
    expect(await get(keys.message(s.messageId))).toBeUndefined();
  });
});

describe('account events and quarantine', () => {
  const accountEvents = async (wabaId: string) =>
    (await doc.send(new ScanCommand({ TableName: tableName, FilterExpression: 'PK = :pk', ExpressionAttributeValues: { ':pk': `ACCT#${wabaId}` } }))).Items!;

  it('keeps a repeated account event each time it happens, and a redelivered one once', async () => {
    const env = eumFixture('phone-number-quality-update');
    const entry = entryOf(env);
    entry.id = 'WABA-REPEAT';
    const event = (time: string, value: string) => {
      const e = structuredClone(entry);
      e.changes[0].value.event = value;
      return { ...withEntry(env, e), message_timestamp: time };
    };
    const happened = [
      event('2025-06-08T20:59:43.271279391Z', 'FLAGGED'),
      event('2025-06-09T08:00:00.000000001Z', 'UNFLAGGED'),
      event('2025-06-10T08:00:00.000000002Z', 'FLAGGED'),
      event('2025-06-10T08:00:00.000000003Z', 'FLAGGED'), // the same millisecond: told apart by the full time
    ];
    const ingest = async (envelope: unknown) => {
      const r = parseEventBody(snsNotification(envelope), Date.now());
      if (r.kind !== 'ok') throw new Error(r.reason);
      for (const a of r.parsed.accountEvents) await store.recordAccountEvent(a);
    };

    for (const e of happened) await ingest(e);
    await ingest(happened[0]); // the same envelope again, in a new SNS notification

    const items = await accountEvents('WABA-REPEAT');
    expect(items.map((i) => [i.eventTimestamp, i.value.event]).sort()).toEqual([
      ['2025-06-08T20:59:43.271279391Z', 'FLAGGED'],
      ['2025-06-09T08:00:00.000000001Z', 'UNFLAGGED'],
      ['2025-06-10T08:00:00.000000002Z', 'FLAGGED'],
      ['2025-06-10T08:00:00.000000003Z', 'FLAGGED'],
    ]);
    const first = items.find((i) => i.eventTimestamp === '2025-06-08T20:59:43.271279391Z')!;
    expect(first.SK).toMatch(/^phone_number_quality_update#2025-06-08T20:59:43\.271Z#[0-9a-f]{64}$/);
    expect(first.GSI1SK).toBe(first.SK.slice('phone_number_quality_update#'.length));
  });

  it('keeps an untimed account event once across SNS and SQS retries, and twice when it is published twice', async () => {
    const { message_timestamp: _, ...untimed } = eumFixture<Record<string, unknown>>('phone-number-quality-update');
    const entry = entryOf(untimed);
    entry.id = 'WABA-UNTIMED';
    const envelope = withEntry(untimed, entry);
    const ingest = async (body: string, sqsTime: number) => {
      const r = parseEventBody(body, sqsTime);
      if (r.kind !== 'ok') throw new Error(r.reason);
      for (const a of r.parsed.accountEvents) await store.recordAccountEvent(a);
    };
    const publish = () => ({ ...JSON.parse(snsNotification(envelope)), Timestamp: '2025-06-08T21:00:00.000Z' });
    const published = JSON.stringify(publish());
    await ingest(published, Date.parse('2025-06-08T21:00:01Z'));
    await ingest(published, Date.parse('2025-06-08T21:07:00Z')); // SNS delivered it again: a new SQS message
    expect(await accountEvents('WABA-UNTIMED')).toHaveLength(1);

    // A second publish in the same millisecond: maybe a real repeat, so it is kept.
    await ingest(JSON.stringify(publish()), Date.parse('2025-06-08T21:09:00Z'));
    const items = await accountEvents('WABA-UNTIMED');
    expect(items).toHaveLength(2);
    expect(items.map((i) => i.receivedAt)).toEqual(['2025-06-08T21:00:00.000Z', '2025-06-08T21:00:00.000Z']);
  });

  it('keeps an account event once when it is delivered twice', async () => {
    const [e] = parsedFixture('template-status-update').accountEvents;
    await store.recordAccountEvent(e!);
    await store.recordAccountEvent(e!);
    const items = await accountEvents(e!.wabaId);
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

  it('keeps one poison envelope once when SNS delivers it in two notifications, with the first raw body', async () => {
    const poison = JSON.stringify({ poison: seq++ });
    const first = snsNotification(poison);
    const second = snsNotification(poison); // another SNS MessageId, Timestamp and Signature
    const other = snsNotification(JSON.stringify({ poison: seq++ }));
    expect(second).not.toBe(first);

    await store.quarantine({ raw: first, reason: 'not an envelope', receivedAtMs: 1000 });
    await store.quarantine({ raw: second, reason: 'not an envelope', receivedAtMs: 2000 });
    await store.quarantine({ raw: other, reason: 'not an envelope', receivedAtMs: 3000 });

    const items = (await doc.send(new ScanCommand({ TableName: tableName, FilterExpression: 'reason = :r', ExpressionAttributeValues: { ':r': 'not an envelope' } }))).Items!;
    expect(items.map((i) => i.raw).sort()).toEqual([first, other].sort());
  });
});

describe('the window opens before the message is visible', () => {
  it('has the window open, and the message counted, when the message is written', async () => {
    const m = inbound({ seconds: 1_760_000_000 });
    const seen: unknown[] = [];
    const s = storeWithHook(async () => void seen.push((await conversationOf(m))?.lastInboundAt));

    await s.recordInbound(m);

    expect(seen).toEqual([new Date(m.timestampMs).toISOString()]);
    const conv = await conversationOf(m);
    expect(conv).toMatchObject({ entity: 'conversation', phoneNumberId: m.business.phoneNumberId, contactId: m.contactId, messageCount: 1 });
  });

  /** A store whose first message write crashes (after the conversation's write), then writes as usual. */
  const storeCrashingOnce = () => {
    let crash = true;
    return storeWithHook(async () => {
      if (crash) {
        crash = false;
        throw new Error('crashed before the message was written');
      }
    });
  };

  it('counts a message once when a crash came between the window and the message', async () => {
    const m = inbound({ seconds: 1_760_000_100 });
    const s = storeCrashingOnce();

    await expect(s.recordInbound(m)).rejects.toThrow('crashed');
    // The window moved and counted the message, which is not stored yet.
    expect(await conversationOf(m)).toMatchObject({ lastInboundAt: new Date(m.timestampMs).toISOString(), messageCount: 1 });
    expect(await get(keys.message(m.id))).toBeUndefined();

    expect(await s.recordInbound(m)).toEqual({ inserted: true });
    expect(await s.recordInbound(m)).toEqual({ inserted: false });
    expect((await conversationOf(m))?.messageCount).toBe(1);
    expect(await get(keys.message(m.id))).toMatchObject({ id: m.id, wamid: m.wamid });
  });

  it(`counts it once when up to ${RECENT_SLOTS} newer messages of its conversation came before the retry`, async () => {
    const contactId = '15551239901';
    const m = inbound({ contactId, seconds: 1_760_000_200 });
    const s = storeCrashingOnce();
    await expect(s.recordInbound(m)).rejects.toThrow('crashed');
    // Newer messages move the window past it before its retry: its token is still remembered.
    for (let i = 1; i < RECENT_SLOTS; i++) await store.recordInbound(inbound({ contactId, seconds: 1_760_000_200 + i }));

    expect(await s.recordInbound(m)).toEqual({ inserted: true });
    expect((await conversationOf(m))?.messageCount).toBe(RECENT_SLOTS);
  });

  it('counts a late message (older than the newest inbound one) with its item, in one transaction', async () => {
    const contactId = '15551239902';
    await store.recordInbound(inbound({ contactId, seconds: 1_760_000_400 }));
    const late = inbound({ contactId, seconds: 1_760_000_300 });
    const { store: counted, counts } = countingStore();

    expect(await counted.recordInbound(late)).toEqual({ inserted: true });
    expect(await counted.recordInbound(late)).toEqual({ inserted: false });
    // The window write is refused (a newer message holds it), then the transaction; the second call reads only.
    expect(counts()).toEqual({ GetItem: 2, UpdateItem: 1, TransactWriteItems: 1 });
    expect(await conversationOf(late)).toMatchObject({ messageCount: 2, lastInboundAt: new Date(1_760_000_400_000).toISOString() });
  });

  it('stores and counts a message once when two deliveries race', async () => {
    const m = inbound({ seconds: 1_760_000_500 });
    const results = await Promise.all([store.recordInbound(m), store.recordInbound(m), store.recordInbound(m)]);

    expect(results.filter((r) => r.inserted)).toHaveLength(1);
    expect((await conversationOf(m))?.messageCount).toBe(1);
  });
});

describe('refusals from DynamoDB', () => {
  it('takes back the count of a message DynamoDB refuses after its window moved, once however often it is tried', async () => {
    const m = inbound({ seconds: 1_760_000_600 });
    // DynamoDB refusing the message's item for what it holds (the window and count are real writes).
    const s = storeWithHook(async () => {
      throw Object.assign(new Error('One or more parameter values were invalid'), { name: 'ValidationException' });
    });

    await expect(s.recordInbound(m)).rejects.toBeInstanceOf(PermanentWriteError);
    expect(await conversationOf(m)).toMatchObject({ lastInboundAt: new Date(m.timestampMs).toISOString(), messageCount: 0 });
    // A replay from the quarantine fails the same way and takes nothing back twice.
    await expect(s.recordInbound(m)).rejects.toBeInstanceOf(PermanentWriteError);
    expect((await conversationOf(m))?.messageCount).toBe(0);
    expect(await get(keys.message(m.id))).toBeUndefined();
    // Once DynamoDB takes it (a replay after a fix), it is stored and counted once.
    expect(await store.recordInbound(m)).toEqual({ inserted: true });
    expect(await store.recordInbound(m)).toEqual({ inserted: false });
    expect((await conversationOf(m))?.messageCount).toBe(1);
  });

  it('refuses a message nested deeper than DynamoDB allows before writing anything', async () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 40; i++) deep = { deep };
    const m = { ...inbound({ seconds: 1_760_000_700 }), content: deep } as InboundMessage;
    const { store: counted, counts } = countingStore();

    await expect(counted.recordInbound(m)).rejects.toBeInstanceOf(PermanentWriteError);
    expect(counts()).toEqual({ GetItem: 1 });
    expect(await conversationOf(m)).toBeUndefined();
  });

  // Real DynamoDB reports an invalid item inside a transaction as a cancellation whose reason is
  // ValidationError (DynamoDB Local throws a ValidationException instead), so the late path is mocked.
  const mocked = () => {
    const mockedDoc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }));
    return { ddb: mockClient(mockedDoc), store: new DynamoDbStore(mockedDoc, 'table') };
  };
  const cancelled = (...codes: string[]) =>
    new TransactionCanceledException({
      message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
      $metadata: {},
      CancellationReasons: codes.map((Code) => ({ Code })),
    });
  const late = (): InboundMessage => ({ ...inbound({ seconds: 1_750_000_000 }), contactId: '15550001111' });
  /** The window write refused: the conversation already holds a newer inbound message. */
  const newerHeld = () =>
    new ConditionalCheckFailedException({
      message: 'The conditional request failed',
      $metadata: {},
      Item: { lastInboundKey: { S: '2030-01-01T00:00:00.000Z#wamid.NEWER' }, lastMessageKey: { S: '2030-01-01T00:00:00.000Z#wamid.NEWER' } },
    });

  it('maps a late message’s transaction cancelled for a ValidationError to a permanent failure', async () => {
    const { ddb, store: s } = mocked();
    ddb.on(UpdateCommand).rejects(newerHeld());
    ddb.on(TransactWriteCommand).rejects(cancelled('ValidationError', 'None'));
    const m = late();

    await expect(s.recordInbound(m)).rejects.toBeInstanceOf(PermanentWriteError);

    expect(ddb.calls().map((c) => c.args[0].constructor.name)).toEqual(['GetCommand', 'UpdateCommand', 'TransactWriteCommand']);
    const [put, conversation] = ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems!;
    expect(put!.Put).toMatchObject({
      TableName: 'table',
      Item: { PK: `MSG#${m.id}`, SK: 'MSG', id: m.id, wamid: m.wamid, contactId: '15550001111' },
      ConditionExpression: 'attribute_not_exists(PK)',
    });
    expect(conversation!.Update).toEqual({
      TableName: 'table',
      Key: { PK: `CONV#${m.business.phoneNumberId}#15550001111`, SK: 'CONV' },
      UpdateExpression: 'ADD messageCount :one',
      ExpressionAttributeValues: { ':one': 1 },
    });
  });

  it('treats a late message’s transaction cancelled because the message exists as a redelivery', async () => {
    const { ddb, store: s } = mocked();
    ddb.on(UpdateCommand).rejects(newerHeld());
    ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None'));

    expect(await s.recordInbound(late())).toEqual({ inserted: false });
  });

  it('retries a late message’s transaction that lost a race on the conversation, in place', async () => {
    const { ddb, store: s } = mocked();
    ddb.on(UpdateCommand).rejects(newerHeld());
    ddb.on(TransactWriteCommand).rejectsOnce(cancelled('None', 'TransactionConflict')).resolves({});

    expect(await s.recordInbound(late())).toEqual({ inserted: true });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
  });

  it('leaves a conflict that outlasts its retries for the queue to retry', async () => {
    const { ddb, store: s } = mocked();
    ddb.on(UpdateCommand).rejects(newerHeld());
    ddb.on(TransactWriteCommand).rejects(cancelled('None', 'TransactionConflict'));

    const err = await s.recordInbound(late()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransactionCanceledException);
    expect(err).not.toBeInstanceOf(PermanentWriteError);
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, CONFLICT_ATTEMPTS);
  });
});

describe('races with transactions', () => {
  it('retries a status write refused because a transaction was writing the same item', async () => {
    const mockedDoc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }));
    const ddb = mockClient(mockedDoc);
    const conflict = Object.assign(new Error('Transaction is ongoing for the item'), { name: 'TransactionConflictException' });
    ddb.on(UpdateCommand).rejectsOnce(conflict).resolves({});
    const [status] = parsedFixture('status-sent').statuses;

    await new DynamoDbStore(mockedDoc, 'table').recordStatus(status!);

    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 2);
  });
});
