import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import { makeHandler as makeInbound } from '../../lambdas/inbound/handler.ts';
import { makeHandler as makeApiHandler } from '../../lambdas/api/handler.ts';
import { call, type ApiHandler } from '../support/api.ts';
import { freshTable } from '../support/dynamodb.ts';
import { entryOf, eumFixture, snsNotification, sqsEvent } from '../support/events.ts';

const NOW = Date.parse('2025-06-09T10:00:00Z'); // 14 h after the fixtures' messages
let api: ApiHandler;
const PN = 'phone-number-id-5f811eaa4c81499384c496b909afbb1a';

beforeAll(async () => {
  const { doc, tableName } = await freshTable();
  const inbound = makeInbound({ store: new DynamoDbStore(doc, tableName) });
  const fixtures = ['inbound-text', 'inbound-image', 'inbound-interactive-nfm-reply', 'multi-change', 'status-sent', 'status-read', 'status-delivered', 'status-failed-131047'];
  await inbound(sqsEvent([...fixtures.map((f) => snsNotification(eumFixture(f))), 'not json', 'also not json']), {} as Context);
  api = makeApiHandler({ queries: new DynamoDbQueries(doc, tableName), now: () => NOW });
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
