import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { DynamoDbStore, keys } from '../../shared/adapters/dynamodb-store.ts';
import { messageIdFromAwsMessageId, messageIdFromWamid, messageIdOfSendStatuses } from '../../shared/domain/ids.ts';
import { makeHandler as makeInbound } from '../../lambdas/inbound/handler.ts';
import { makeHandler as makeApiHandler } from '../../lambdas/api/handler.ts';
import { call, type ApiHandler } from '../support/api.ts';
import { freshTable } from '../support/dynamodb.ts';
import { entryOf, eumFixture, snsNotification, sqsEvent, withEntry } from '../support/events.ts';

const NOW = Date.parse('2025-06-09T10:00:00Z'); // 14 h after the fixtures' messages
let api: ApiHandler;
const PN = 'phone-number-id-5f811eaa4c81499384c496b909afbb1a';

beforeAll(async () => {
  const { doc, tableName } = await freshTable();
  const inbound = makeInbound({ store: new DynamoDbStore(doc, tableName) });
  const fixtures = ['inbound-text', 'inbound-image', 'inbound-interactive-nfm-reply', 'multi-change', 'status-sent', 'status-read', 'status-delivered', 'status-failed-131047'];
  await inbound(sqsEvent([...fixtures.map((f) => snsNotification(eumFixture(f))), 'not json', 'also not json']), {} as Context);
  api = makeApiHandler({ queries: new DynamoDbQueries(doc, tableName, { phoneNumberIds: [PN] }), now: () => NOW });
});

describe('read API', () => {
  it('finds an inbound message by wamid and by its id', async () => {
    const wamid = entryOf(eumFixture('inbound-text')).changes[0].value.messages[0].id;
    const byWamid = await call(api, 'GET', `/v1/messages/${encodeURIComponent(wamid)}`);
    expect(byWamid.status).toBe(200);
    expect(byWamid.body).toMatchObject({ wamid, direction: 'inbound', status: 'received', type: 'text', content: { body: 'Does it come in another color?' }, contact: { waId: '16505551234' } });
    const byId = await call(api, 'GET', `/v1/messages/${byWamid.body.id}`);
    expect(byId.body).toEqual(byWamid.body);
  });

  it('shows an outbound message at read, with each status once, whatever order they came in', async () => {
    const wamid = entryOf(eumFixture('status-sent')).changes[0].value.statuses[0].id;
    const res = await call(api, 'GET', `/v1/messages/${wamid}`);
    expect(res.body.status).toBe('read');
    expect(res.body.statuses.map((s: { status: string }) => s.status)).toEqual(['sent', 'delivered', 'read']);
    expect(res.body.statuses[0].pricing).toMatchObject({ category: 'marketing' });
  });

  it('shows a failed message with its Meta error classified', async () => {
    const res = await call(api, 'GET', '/v1/messages/msg_0123456789abcdef0123456789abcdef');
    expect(res.body).toMatchObject({
      status: 'failed',
      bizOpaqueCallbackData: 'order-77',
      errors: [{ code: 131047, retryable: false, action: 'send_template' }],
    });
  });

  it('answers 404 with a stable code for an unknown message', async () => {
    const res = await call(api, 'GET', '/v1/messages/wamid.UNKNOWN');
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'message_not_found', message: expect.stringContaining('wamid.UNKNOWN') });
  });

  it('lists conversations with the 24-hour window and pages through them with a cursor', async () => {
    const first = await call(api, 'GET', `/v1/conversations?phoneNumberId=${PN}&limit=1`);
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(1);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const rest = await call(api, 'GET', `/v1/conversations?phoneNumberId=${PN}&limit=10&cursor=${first.body.nextCursor}`);
    const all = [...first.body.items, ...rest.body.items];
    expect(all.map((c: { contactId: string }) => c.contactId).sort()).toEqual(['16505551234', '447700900123']);
    const sheena = all.find((c: { contactId: string }) => c.contactId === '16505551234');
    expect(sheena).toMatchObject({ windowOpen: true, messageCount: 4, lastInboundAt: '2025-06-08T20:59:43.000Z', windowExpiresAt: '2025-06-09T20:59:43.000Z' });
    const unfiltered = await call(api, 'GET', '/v1/conversations');
    expect(unfiltered.body.items).toHaveLength(2);
  });

  it("lists a conversation's messages newest first", async () => {
    const res = await call(api, 'GET', `/v1/conversations/${PN}/16505551234/messages?limit=50`);
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(4);
    const times = res.body.items.map((m: { timestamp: string }) => m.timestamp);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('lists quarantined events with their raw body', async () => {
    const res = await call(api, 'GET', '/v1/quarantine');
    expect(res.body.items.map((q: { raw: string }) => q.raw).sort()).toEqual(['also not json', 'not json']);
    expect(res.body.items[0]).toMatchObject({ reason: 'body is not JSON', receivedAt: expect.any(String), id: expect.any(String) });
  });

  it('refuses a bad limit or a forged cursor with a 400 that names the parameter', async () => {
    const limit = await call(api, 'GET', '/v1/quarantine?limit=0');
    expect(limit.status).toBe(400);
    expect(limit.body.error).toMatchObject({ code: 'validation_error', details: { path: 'query.limit' } });
    const cursor = await call(api, 'GET', '/v1/quarantine?cursor=bm9wZQ');
    expect(cursor.status).toBe(400);
    expect(cursor.body.error.details).toEqual({ path: 'cursor' });
  });

  it('answers an unknown route with a 404 in the contract shape', async () => {
    const res = await call(api, 'GET', '/v2/nothing');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('route_not_found');
  });
});

describe('statuses AWS generates itself (no callback data, only the AWS send id in the envelope)', () => {
  const USER = '16505550199';
  const RETRIES_WAMID = entryOf(eumFixture('status-retries-exhausted-aws')).changes[0].value.statuses[0].id;
  let aws: {
    api: ApiHandler;
    deliver: (fixture: string, awsId: string, edit?: (status: any) => void) => Promise<void>;
    record: (id: string, awsId: string, second: number) => Promise<void>;
  };

  beforeAll(async () => {
    const { doc, tableName } = await freshTable();
    const inbound = makeInbound({ store: new DynamoDbStore(doc, tableName) });
    aws = {
      api: makeApiHandler({ queries: new DynamoDbQueries(doc, tableName, { phoneNumberIds: [PN] }), now: () => NOW }),
      // A status event of a fixture, with the given AWS send id in its envelope.
      deliver: async (fixture, awsId, edit) => {
        const env = { ...eumFixture(fixture), messageId: awsId };
        const entry = entryOf(env);
        edit?.(entry.changes[0].value.statuses[0]);
        await inbound(sqsEvent([snsNotification(withEntry(env, entry))]), {} as Context);
      },
      // A send record in state `sent`, as the send path leaves it once AWS accepted the message.
      record: async (id, awsId, second) => {
        const at = new Date(Date.parse('2025-06-08T21:00:00Z') + second * 1000).toISOString();
        await doc.send(
          new PutCommand({
            TableName: tableName,
            Item: {
              ...keys.message(id), entity: 'message', id, direction: 'outbound', phoneNumberId: PN, contactId: USER,
              contact: { waId: USER }, type: 'text', contentJson: JSON.stringify({ body: 'hello' }), timestamp: at,
              sendState: 'sent', requestHash: 'h', awsMessageId: awsId, sentAt: at,
              GSI1PK: keys.timeline(PN, USER), GSI1SK: `${at}#${id}`,
            },
          }),
        );
      },
    };
  });

  const statusesOf = (m: { statuses: Array<{ status: string }> }) => m.statuses.map((s) => s.status);

  it('shows a send AWS dropped after retries as failed, by id and in its conversation alike', async () => {
    const id = 'msg_00000000000000000000000000a0a0a0';
    await aws.record(id, 'aws-dropped', 0);
    await aws.deliver('status-accepted-aws', 'aws-dropped', (s) => (s.id = RETRIES_WAMID));
    await aws.deliver('status-retries-exhausted-aws', 'aws-dropped');

    const res = await call(aws.api, 'GET', `/v1/messages/${id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, wamid: RETRIES_WAMID, awsMessageId: 'aws-dropped', status: 'failed', content: { body: 'hello' } });
    expect(statusesOf(res.body)).toEqual(['accepted', 'retries_exhausted']);
    const list = await call(aws.api, 'GET', `/v1/conversations/${PN}/${USER}/messages`);
    expect(list.body.items.find((m: { id: string }) => m.id === id)).toEqual(res.body);
    const byWamid = await call(aws.api, 'GET', `/v1/messages/${encodeURIComponent(RETRIES_WAMID)}`);
    expect(byWamid.body).toMatchObject({ status: 'failed', statuses: res.body.statuses });
  });

  it("merges Meta's statuses (with our id) and AWS's own (with the AWS id) into one message, and no other send's", async () => {
    const id = 'msg_00000000000000000000000000b0b0b0';
    const bystander = 'msg_00000000000000000000000000c0c0c0';
    await aws.record(id, 'aws-mixed', 1);
    await aws.record(bystander, 'aws-bystander', 2);
    const ours = (s: any) => {
      s.id = 'wamid.MIXED';
      s.biz_opaque_callback_data = `${id}|order-9`;
    };
    await aws.deliver('status-sent', 'aws-mixed', ours);
    await aws.deliver('status-delivered', 'aws-mixed', ours);
    await aws.deliver('status-accepted-aws', 'aws-mixed', (s) => (s.id = 'wamid.MIXED'));
    await aws.deliver('status-retries-exhausted-aws', 'aws-mixed', (s) => (s.id = 'wamid.MIXED'));

    const res = await call(aws.api, 'GET', `/v1/messages/${id}`);
    expect(res.body).toMatchObject({ wamid: 'wamid.MIXED', status: 'failed', bizOpaqueCallbackData: 'order-9', awsMessageId: 'aws-mixed' });
    expect(statusesOf(res.body).sort()).toEqual(['accepted', 'delivered', 'retries_exhausted', 'sent']);
    const list = await call(aws.api, 'GET', `/v1/conversations/${PN}/${USER}/messages`);
    expect(list.body.items.find((m: { id: string }) => m.id === id)).toEqual(res.body);
    expect(list.body.items.find((m: { id: string }) => m.id === bystander)).toMatchObject({ status: 'accepted', statuses: [] });
  });
});

describe('merging a page with its status-only items (DynamoDB answers mocked)', () => {
  const mocked = () => {
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }));
    return { ddb: mockClient(doc), queries: new DynamoDbQueries(doc, 'table') };
  };
  const record = (n: number) => ({
    ...keys.message(`msg_${n.toString(16).padStart(32, '0')}`),
    id: `msg_${n.toString(16).padStart(32, '0')}`,
    direction: 'outbound',
    type: 'text',
    sendState: 'sent',
    awsMessageId: `aws-${n}`,
    wamid: `wamid.P${n}`,
    timestamp: '2025-06-08T21:00:00.000Z',
  });
  const awsItem = (n: number) => ({
    ...keys.message(messageIdFromAwsMessageId(`aws-${n}`)),
    id: messageIdFromAwsMessageId(`aws-${n}`),
    wamid: `wamid.P${n}`,
    'st:retries_exhausted': { status: 'retries_exhausted', timestamp: '2025-06-08T23:00:00.000Z' },
  });

  /** BatchGetItem answered from `items` (the table), as DynamoDB would. */
  const table = (items: Array<Record<string, unknown>>) => (input: { RequestItems: Record<string, { Keys: Array<{ PK: string; SK: string }> }> }) => ({
    Responses: { table: input.RequestItems.table!.Keys.flatMap((k) => items.filter((i) => i.PK === k.PK && i.SK === k.SK)) },
  });
  /** What the indexes hold of an item: its keys only. */
  const entry = (i: { PK: string; SK: string }) => ({ PK: i.PK, SK: i.SK });

  it('asks for the keys DynamoDB left unprocessed again', async () => {
    const { ddb, queries } = mocked();
    ddb.on(QueryCommand, { IndexName: 'GSI1' }).resolves({ Items: [entry(record(1))] });
    ddb.on(QueryCommand, { IndexName: 'GSI2' }).resolves({ Items: [] });
    ddb.on(GetCommand).resolves({});
    const answer = table([record(1), awsItem(1)]);
    let unprocessedOnce = true;
    ddb.on(BatchGetCommand).callsFake((input: Parameters<typeof answer>[0]) => {
      const keysAsked = input.RequestItems.table!.Keys;
      if (unprocessedOnce && keysAsked.some((k) => k.PK === awsItem(1).PK)) {
        unprocessedOnce = false;
        return { Responses: { table: [] }, UnprocessedKeys: { table: { Keys: [keys.message(awsItem(1).id)] } } };
      }
      return answer(input);
    });

    const page = await queries.listMessages({ phoneNumberId: PN, contactId: '1', limit: 20 });

    expect(page.items[0]).toMatchObject({ status: 'failed', statuses: [{ status: 'retries_exhausted' }] });
    const asked = ddb.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems);
    expect(asked).toEqual([
      // the page's items (the index holds their keys only), then their status-only items, then the key left over
      { table: { Keys: [keys.message(record(1).id)] } },
      { table: { Keys: [keys.message(messageIdOfSendStatuses(record(1).id)), keys.message(awsItem(1).id), keys.message(messageIdFromWamid('wamid.P1'))] } },
      { table: { Keys: [keys.message(awsItem(1).id)] } },
    ]);
  });

  it('asks for at most 100 keys at a time, each key once, and for none on a page of inbound messages', async () => {
    const { ddb, queries } = mocked();
    const records = Array.from({ length: 60 }, (_, n) => record(n));
    const inboundOne = { ...record(99), direction: 'inbound' };
    ddb.on(QueryCommand, { IndexName: 'GSI1' }).resolvesOnce({ Items: records.map(entry) }).resolvesOnce({ Items: [entry(inboundOne)] });
    ddb.on(QueryCommand, { IndexName: 'GSI2' }).resolves({ Items: [] });
    ddb.on(GetCommand).resolves({});
    ddb.on(BatchGetCommand).callsFake(table([...records, inboundOne, ...records.map((_, n) => awsItem(n))]));

    const page = await queries.listMessages({ phoneNumberId: PN, contactId: '1', limit: 100 });
    await queries.listMessages({ phoneNumberId: PN, contactId: '2', limit: 100 });

    expect(page.items.map((m) => m.status)).toEqual(records.map(() => 'failed'));
    const calls = ddb.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems!.table!.Keys!.map((k) => k.PK));
    const pages = new Set([...records, inboundOne].map((r) => r.PK));
    const siblingCalls = calls.filter((ks) => !ks.every((k) => pages.has(k)));
    // The two pages' items (60 and 1), then the first page's 180 status-only keys (the item of each
    // send's statuses, AWS's, the wamid's) in two requests; the page of an inbound message asks for none.
    expect(calls.filter((ks) => ks.every((k) => pages.has(k))).map((ks) => ks.length)).toEqual([60, 1]);
    expect(siblingCalls.map((ks) => ks.length).sort((a, b) => b - a)).toEqual([100, 80]);
    expect(new Set(siblingCalls.flat()).size).toBe(180);
    // and each send's wamid once, for statuses filed where no derived id points
    const wamidsAsked = ddb.commandCalls(QueryCommand, { IndexName: 'GSI2' }).map((c) => c.args[0].input.ExpressionAttributeValues![':pk']);
    expect(wamidsAsked.sort()).toEqual(records.map((_, n) => `WAMID#wamid.P${n}`).sort());
  });

  it("finds AWS's own statuses by wamid when the envelope's messageId is not the send's AWS id", async () => {
    const { ddb, queries } = mocked();
    const perEvent = { ...awsItem(1), ...keys.message('msg_ffffffffffffffffffffffffffffffff'), id: 'msg_ffffffffffffffffffffffffffffffff', awsMessageId: 'event-id-1' };
    ddb.on(GetCommand).resolves({});
    ddb.on(GetCommand, { Key: keys.message(record(1).id) }).resolves({ Item: record(1) });
    ddb.on(BatchGetCommand).callsFake(table([record(1), perEvent]));
    ddb.on(QueryCommand, { IndexName: 'GSI2' }).resolves({ Items: [entry(record(1)), entry(perEvent)] });

    const message = await queries.getMessage(record(1).id);

    expect(message).toMatchObject({ id: record(1).id, status: 'failed', statuses: [{ status: 'retries_exhausted' }] });
  });

  it('reads a send whose statuses are kept beside it: the item beside it tells the wamid and AWS id, read in a second round', async () => {
    const { ddb, queries } = mocked();
    // A send in doubt: the record knows neither its wamid nor AWS's id.
    const { wamid: _w, awsMessageId: _a, ...bare } = record(1);
    const beside = {
      ...keys.message(messageIdOfSendStatuses(bare.id)),
      id: messageIdOfSendStatuses(bare.id),
      recordId: bare.id,
      wamid: 'wamid.P1',
      awsMessageId: 'aws-1',
      callbackData: 'order-1',
      GSI2PK: 'WAMID#wamid.P1',
      'st:sent': { status: 'sent', timestamp: '2025-06-08T21:00:01.000Z' },
    };
    const noId = {
      ...keys.message(messageIdFromWamid('wamid.P1')),
      id: messageIdFromWamid('wamid.P1'),
      wamid: 'wamid.P1',
      'st:read': { status: 'read', timestamp: '2025-06-08T21:00:03.000Z' },
    };
    ddb.on(GetCommand).resolves({});
    ddb.on(GetCommand, { Key: keys.message(bare.id) }).resolves({ Item: bare });
    ddb.on(GetCommand, { Key: keys.message(noId.id) }).resolves({ Item: noId });
    ddb.on(BatchGetCommand).callsFake(table([bare, beside, awsItem(1)]));
    ddb.on(QueryCommand, { IndexName: 'GSI2', ExpressionAttributeValues: { ':pk': 'WAMID#wamid.P1' } }).resolves({ Items: [entry(beside)] });

    const byId = await queries.getMessage(bare.id);
    expect(byId).toMatchObject({ id: bare.id, wamid: 'wamid.P1', awsMessageId: 'aws-1', bizOpaqueCallbackData: 'order-1', status: 'failed' });
    expect(byId!.statuses.map((x) => x.status)).toEqual(['sent', 'read', 'retries_exhausted']);
    const asked = ddb.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems!.table!.Keys);
    // first the item beside the record (the only id it gives), then AWS's item, whose id that item told
    expect(asked).toEqual([[keys.message(beside.id)], [keys.message(awsItem(1).id)]]);
    // by wamid, the record is found from the item beside it, and answers the same
    expect(await queries.getMessage('wamid.P1')).toEqual(byId);
  });
});
