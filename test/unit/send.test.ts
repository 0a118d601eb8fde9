import 'aws-sdk-client-mock-vitest/extend';
import { randomUUID } from 'node:crypto';
import {
  AccessDeniedException,
  DependencyException,
  GetLinkedWhatsAppBusinessAccountPhoneNumberCommand,
  InternalServiceException,
  ResourceNotFoundException,
  SendWhatsAppMessageCommand,
  SocialMessagingClient,
  ThrottledRequestException,
  ValidationException,
} from '@aws-sdk/client-socialmessaging';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { messageIdFromWamid } from '../../shared/domain/ids.ts';
import { call } from '../support/api.ts';
import {
  linked,
  META_API_VERSION,
  outboundFixture,
  outboundFixtures,
  PN,
  PN2,
  PN_ARN,
  sendWorld,
  sentCalls,
  USER,
  type SendWorld,
} from '../support/send.ts';

const HOUR = 60 * 60 * 1000;
const T0 = Date.parse('2026-03-02T12:00:00.000Z');
const sm = mockClient(SocialMessagingClient);
let w: SendWorld;

/** The Meta JSON a fixture must become: `from` gone, E.164 `to`, our id in the callback data. */
function expectedMessage(body: Record<string, any>, id: string): Record<string, unknown> {
  const { from: _from, biz_opaque_callback_data: caller, ...rest } = structuredClone(body);
  return {
    ...rest,
    messaging_product: 'whatsapp',
    to: `+${USER}`,
    biz_opaque_callback_data: caller === undefined ? id : `${id}|${caller}`,
  };
}

beforeAll(async () => {
  w = await sendWorld(T0);
});

beforeEach(() => {
  sm.reset();
  sm.on(SendWhatsAppMessageCommand).callsFake(async () => ({ messageId: randomUUID() }));
  w.clock.now = T0;
});

afterAll(() => sm.restore());

describe('POST /v1/messages: every outbound type', () => {
  beforeAll(async () => {
    await w.userWrites(T0 - HOUR);
  });

  const fixtures = outboundFixtures();
  it.each(Object.keys(fixtures))('sends the valid %s example with the exact SendWhatsAppMessage input', async (name) => {
    // Prepare
    const body = fixtures[name]!;
    // Act
    const res = await call(w.api, 'POST', '/v1/messages', { body });
    // Assess
    expect(res.status).toBe(202);
    // Without a template catalog a template is sent unchecked, and the answer says so.
    expect(res.body).toEqual({
      id: expect.stringMatching(/^msg_[0-9a-f]{32}$/),
      status: 'accepted',
      awsMessageId: expect.any(String),
      ...(name === 'template' && { templateChecked: false }),
    });
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
    expect(sentCalls(sm)).toEqual([
      { originationPhoneNumberId: PN, metaApiVersion: META_API_VERSION, message: expectedMessage(body, res.body.id) },
    ]);
    const awsMessageId = (await sm.commandCalls(SendWhatsAppMessageCommand)[0]!.returnValue).messageId;
    expect(res.body.awsMessageId).toBe(awsMessageId);
  });

  it('keeps the message as sent, shown as accepted until WhatsApp reports a status', async () => {
    const body = outboundFixture('text');
    const sent = await call(w.api, 'POST', '/v1/messages', { body: { ...body, biz_opaque_callback_data: 'ticket-9' } });
    const res = await call(w.api, 'GET', `/v1/messages/${sent.body.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: sent.body.id,
      wamid: null,
      direction: 'outbound',
      phoneNumberId: PN,
      contact: { waId: USER },
      type: 'text',
      content: body.text,
      timestamp: new Date(T0).toISOString(),
      status: 'accepted',
      statuses: [],
      errors: [],
      awsMessageId: sent.body.awsMessageId,
      bizOpaqueCallbackData: 'ticket-9',
      sendState: 'sent',
    });
  });

  it('keeps a reply with its context in the shape of the Message resource', async () => {
    const body = outboundFixture('interactive-button');
    const sent = await call(w.api, 'POST', '/v1/messages', { body });
    const res = await call(w.api, 'GET', `/v1/messages/${sent.body.id}`);
    expect(res.body.context).toEqual({ replyTo: body.context.message_id, forwarded: false, frequentlyForwarded: false });
  });

  it('fills the record in from statuses that carry its id (wamid, delivered, then a classified failure)', async () => {
    const sent = await call(w.api, 'POST', '/v1/messages', { body: outboundFixture('text') });
    const business = { phoneNumberId: PN, metaPhoneNumberId: '106540352242922' };
    await w.inbound.recordStatus({ wamid: 'wamid.OUT1', status: 'delivered', business, timestampMs: T0 + 2000, messageId: sent.body.id });
    const delivered = await call(w.api, 'GET', `/v1/messages/${sent.body.id}`);
    expect(delivered.body).toMatchObject({ wamid: 'wamid.OUT1', status: 'delivered', awsMessageId: sent.body.awsMessageId, type: 'text' });
    const byWamid = await call(w.api, 'GET', '/v1/messages/wamid.OUT1');
    expect(byWamid.body.id).toBe(sent.body.id);
    await w.inbound.recordStatus({
      wamid: 'wamid.OUT1',
      status: 'failed',
      business,
      timestampMs: T0 + 3000,
      messageId: sent.body.id,
      errors: [{ code: 131026, title: 'Message undeliverable' }],
    });
    const failed = await call(w.api, 'GET', `/v1/messages/${sent.body.id}`);
    expect(failed.body).toMatchObject({ status: 'failed', errors: [{ code: 131026, retryable: false, action: 'none' }] });
  });

  it("lists the message in its conversation, counts it and moves the conversation's activity forward", async () => {
    await w.userWrites(T0 - HOUR, '447700900123');
    w.clock.now = T0 + 5 * 60_000;
    const sent = await call(w.api, 'POST', '/v1/messages', { body: { ...outboundFixture('text'), to: '+44 7700 900123' } });
    expect(sent.status).toBe(202);
    const timeline = await call(w.api, 'GET', `/v1/conversations/${PN}/447700900123/messages`);
    expect(timeline.body.items.map((m: { id: string }) => m.id)).toEqual([sent.body.id, expect.any(String)]);
    const convs = await call(w.api, 'GET', `/v1/conversations?phoneNumberId=${PN}&limit=1`);
    expect(convs.body.items[0]).toMatchObject({
      contactId: '447700900123',
      contact: { waId: '447700900123', name: 'Sheena' },
      lastMessageAt: new Date(T0 + 5 * 60_000).toISOString(),
      lastInboundAt: new Date(T0 - HOUR).toISOString(),
      messageCount: 2,
    });
  });

  it('never moves the conversation back for a message older than its last activity, but counts it', async () => {
    await w.userWrites(T0 - HOUR, '447700900777');
    await w.userWrites(T0 + HOUR, '447700900777');
    const sent = await call(w.api, 'POST', '/v1/messages', { body: { ...outboundFixture('text'), to: '+447700900777' } });
    expect(sent.status).toBe(202);
    const convs = await call(w.api, 'GET', `/v1/conversations?phoneNumberId=${PN}&limit=50`);
    expect(convs.body.items.find((c: { contactId: string }) => c.contactId === '447700900777')).toMatchObject({
      lastMessageAt: new Date(T0 + HOUR).toISOString(),
      messageCount: 3,
    });
  });

  it('creates the conversation of a template sent to a new contact', async () => {
    const sent = await call(w.api, 'POST', '/v1/messages', { body: { ...outboundFixture('template'), to: '+33612345678' } });
    expect(sent.status).toBe(202);
    const convs = await call(w.api, 'GET', `/v1/conversations?phoneNumberId=${PN}&limit=50`);
    expect(convs.body.items.find((c: { contactId: string }) => c.contactId === '33612345678')).toEqual({
      phoneNumberId: PN,
      contactId: '33612345678',
      contact: { waId: '33612345678' },
      lastMessageAt: new Date(T0).toISOString(),
      windowOpen: false,
      messageCount: 1,
    });
  });

  it('keeps content a DynamoDB map could not hold (empty key, huge number, 40 levels deep) and shows it back', async () => {
    // Prepare: template components pass unknown fields through to Meta
    let deep: Record<string, unknown> = { leaf: 1e300 };
    for (let i = 0; i < 40; i++) deep = { next: deep };
    const body = outboundFixture('template');
    body.template.components.push({ type: 'button', sub_type: 'flow', index: '2', '': 'odd', parameters: [{ type: 'action', action: deep }] });
    // Act
    const res = await call(w.api, 'POST', '/v1/messages', { body });
    // Assess
    expect(res.status).toBe(202);
    expect(sentCalls(sm)[0]!.message.template).toEqual(body.template);
    const msg = await call(w.api, 'GET', `/v1/messages/${res.body.id}`);
    expect(msg.body.content).toEqual(body.template);
  });

  it('sends to a business-scoped user id (recipient) and keeps it as the contact', async () => {
    await w.userWrites(T0 - HOUR, 'US.13491208655302741918');
    const { to: _to, ...body } = outboundFixture('text');
    const res = await call(w.api, 'POST', '/v1/messages', { body: { ...body, recipient: 'US.13491208655302741918' } });
    expect(res.status).toBe(202);
    expect(sentCalls(sm)[0]!.message).toMatchObject({ recipient: 'US.13491208655302741918' });
    expect(sentCalls(sm)[0]!.message.to).toBeUndefined();
    const msg = await call(w.api, 'GET', `/v1/messages/${res.body.id}`);
    expect(msg.body.contact).toEqual({ userId: 'US.13491208655302741918' });
  });
});

describe('POST /v1/messages: a reply to a BSUID', () => {
  const BSUID = 'US.26852818834383302';
  const reply = () => {
    const { to: _to, ...body } = outboundFixture('text');
    return { ...body, recipient: BSUID };
  };

  it("joins the conversation the inbound path filed under the user's wa_id, with its window", async () => {
    // Prepare: the user wrote with both ids, so the inbound path filed it under the wa_id and wrote the alias
    const waId = '4915112340001';
    await w.userWrites(T0 - HOUR, waId);
    await w.writeAlias(BSUID, waId);
    // Act
    const res = await call(w.api, 'POST', '/v1/messages', { body: reply() });
    // Assess
    expect(res.status).toBe(202);
    expect(sentCalls(sm)[0]!.message).toMatchObject({ recipient: BSUID });
    expect(sentCalls(sm)[0]!.message.to).toBeUndefined();
    const msg = await call(w.api, 'GET', `/v1/messages/${res.body.id}`);
    expect(msg.body.contact).toEqual({ waId, userId: BSUID });
    const timeline = await call(w.api, 'GET', `/v1/conversations/${PN}/${waId}/messages`);
    expect(timeline.body.items.map((m: { id: string }) => m.id)).toEqual([res.body.id, expect.any(String)]);
    const stray = await call(w.api, 'GET', `/v1/conversations/${PN}/${BSUID}/messages`);
    expect(stray.body.items ?? []).toEqual([]);
  });

  it('finds the conversation of a user whose inbound message carried both ids, as the inbound path stored it', async () => {
    // Prepare: the inbound path files the message under the wa_id and keeps the alias
    const waId = '4915112340003';
    const userId = 'US.26852818834383304';
    await w.inbound.recordInbound({
      id: 'msg_22222222222222222222222222222222',
      wamid: 'wamid.BOTH_IDS',
      business: { phoneNumberId: PN, metaPhoneNumberId: '106540352242922' },
      contact: { waId, userId, name: 'Sheena' },
      contactId: waId,
      type: 'text',
      content: { body: 'hello' },
      timestampMs: T0 - HOUR,
    });
    // Act
    const res = await call(w.api, 'POST', '/v1/messages', { body: { ...reply(), recipient: userId } });
    // Assess
    expect(res.status).toBe(202);
    const timeline = await call(w.api, 'GET', `/v1/conversations/${PN}/${waId}/messages`);
    expect(timeline.body.items.map((m: { id: string }) => m.id)).toEqual([res.body.id, 'msg_22222222222222222222222222222222']);
    // Only the send has a send record to show.
    expect(timeline.body.items.map((m: { sendState?: string }) => m.sendState)).toEqual(['sent', undefined]);
  });

  it('answers 409 window_closed for a BSUID with no alias and no conversation of its own', async () => {
    const res = await call(w.api, 'POST', '/v1/messages', { body: { ...reply(), recipient: 'US.99999999999999999' } });
    expect([res.status, res.body.error.code]).toEqual([409, 'window_closed']);
    expect(sm).not.toHaveReceivedCommand(SendWhatsAppMessageCommand);
  });

  it('looks the alias up under the sending number only', async () => {
    // Prepare: the alias and the conversation belong to the other business number
    const waId = '4915112340002';
    const bsuid = 'US.26852818834383303';
    await w.userWrites(T0 - HOUR, waId, PN2);
    await w.writeAlias(bsuid, waId, PN2);
    // Act
    const fromPn = await call(w.api, 'POST', '/v1/messages', { body: { ...reply(), recipient: bsuid } });
    const fromPn2 = await call(w.api, 'POST', '/v1/messages', { body: { ...reply(), recipient: bsuid, from: PN2 } });
    // Assess
    expect([fromPn.status, fromPn2.status]).toEqual([409, 202]);
  });
});

describe('POST /v1/messages: invalid bodies', () => {
  const cases: Array<[string, unknown, string]> = [
    ['a text without body', { ...outboundFixture('text'), text: {} }, 'text.body'],
    ['a text over 4096 characters', { ...outboundFixture('text'), text: { body: 'x'.repeat(4097) } }, 'text.body'],
    ['an unknown type', { ...outboundFixture('text'), type: 'fax' }, 'type'],
    ['a reaction that is a reply', { ...outboundFixture('reaction'), context: { message_id: 'wamid.X' } }, 'context'],
    ['an image with both id and link', { ...outboundFixture('image'), image: { id: '123', link: 'https://example.com/a.jpg' } }, 'image.link'],
    ['a missing recipient', { ...outboundFixture('text'), to: undefined }, 'to'],
    ['a from that is no number', { ...outboundFixture('text'), from: 'my-shop' }, 'from'],
    ['an array', [outboundFixture('text')], ''],
    ['no body at all', undefined, ''],
  ];
  it.each(cases)('answers 400 for %s, naming the field, and sends and stores nothing', async (_name, body, path) => {
    const before = (await w.outboundItems()).length;
    const res = await call(w.api, 'POST', '/v1/messages', body === undefined ? {} : { body });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_error', message: expect.any(String), details: { path } });
    expect(sm).not.toHaveReceivedCommand(SendWhatsAppMessageCommand);
    expect((await w.outboundItems()).length).toBe(before);
  });

  it('answers 400 invalid_json for a body that is not JSON', async () => {
    const res = await call(w.api, 'POST', '/v1/messages', { body: '{"type": "text",' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_json');
    expect(sm).not.toHaveReceivedCommand(SendWhatsAppMessageCommand);
  });

  it('refuses an Idempotency-Key that is not visible ASCII, naming the header', async () => {
    const res = await call(w.api, 'POST', '/v1/messages', { body: outboundFixture('template'), headers: { 'Idempotency-Key': 'two words' } });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual({ path: 'header.idempotency-key' });
    expect(sm).not.toHaveReceivedCommand(SendWhatsAppMessageCommand);
  });
});

describe('POST /v1/messages: the business number in from', () => {
  beforeAll(async () => {
    await w.userWrites(T0 - HOUR, USER, PN2);
  });

  it('accepts the phone number ARN and sends from its id', async () => {
    const res = await call(w.api, 'POST', '/v1/messages', { body: { ...outboundFixture('template'), from: PN_ARN } });
    expect(res.status).toBe(202);
    expect(sentCalls(sm)[0]!.originationPhoneNumberId).toBe(PN);
  });

  it('learns display numbers once per container and sends from the matching number', async () => {
    // Prepare: a new container, AWS describing both numbers
    const { api } = w.restart();
    sm.on(GetLinkedWhatsAppBusinessAccountPhoneNumberCommand, { id: PN }).resolves({ phoneNumber: linked(PN, '+1 555-010-0001') });
    sm.on(GetLinkedWhatsAppBusinessAccountPhoneNumberCommand, { id: PN2 }).resolves({ phoneNumber: linked(PN2, '+15550100002') });
    // Act
    const a = await call(api, 'POST', '/v1/messages', { body: { ...outboundFixture('text'), from: '+15550100002' } });
    const b = await call(api, 'POST', '/v1/messages', { body: { ...outboundFixture('text'), from: '15550100001' } });
    // Assess
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(sentCalls(sm).map((c) => c.originationPhoneNumberId)).toEqual([PN2, PN]);
    expect(sm).toHaveReceivedCommandTimes(GetLinkedWhatsAppBusinessAccountPhoneNumberCommand, 2);
  });

  it('answers 404 unknown_phone_number for a number not configured, sending and storing nothing', async () => {
    const before = (await w.outboundItems()).length;
    const other = 'phone-number-id-99999999999999999999999999999999';
    for (const from of [other, `arn:aws:social-messaging:us-east-1:111122223333:phone-number-id/99999999999999999999999999999999`]) {
      const res = await call(w.api, 'POST', '/v1/messages', { body: { ...outboundFixture('template'), from } });
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ code: 'unknown_phone_number', details: { from } });
    }
    expect(sm).not.toHaveReceivedCommand(SendWhatsAppMessageCommand);
    expect((await w.outboundItems()).length).toBe(before);
  });

  it('answers 404 for a display number AWS does not list', async () => {
    const { api } = w.restart();
    sm.on(GetLinkedWhatsAppBusinessAccountPhoneNumberCommand, { id: PN }).resolves({ phoneNumber: linked(PN, '+15550100001') });
    sm.on(GetLinkedWhatsAppBusinessAccountPhoneNumberCommand, { id: PN2 }).resolves({ phoneNumber: linked(PN2, '+15550100002') });
    const res = await call(api, 'POST', '/v1/messages', { body: { ...outboundFixture('template'), from: '15550109999' } });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('unknown_phone_number');
    expect(sm).not.toHaveReceivedCommand(SendWhatsAppMessageCommand);
  });

  it('does not remember a failed lookup: throttled now (429), found on the next request', async () => {
    const { api } = w.restart();
    sm.on(GetLinkedWhatsAppBusinessAccountPhoneNumberCommand, { id: PN })
      .rejectsOnce(new ThrottledRequestException({ message: 'slow down', $metadata: {} }))
      .resolves({ phoneNumber: linked(PN, '+15550100001') });
    sm.on(GetLinkedWhatsAppBusinessAccountPhoneNumberCommand, { id: PN2 }).resolves({ phoneNumber: linked(PN2, '+15550100002') });
    const first = await call(api, 'POST', '/v1/messages', { body: { ...outboundFixture('template'), from: '15550100001' } });
    const second = await call(api, 'POST', '/v1/messages', { body: { ...outboundFixture('template'), from: '15550100001' } });
    expect(first.status).toBe(429);
    expect(second.status).toBe(202);
    expect(sentCalls(sm).map((c) => c.originationPhoneNumberId)).toEqual([PN]);
  });
});

describe('POST /v1/messages: the 24-hour window', () => {
  const send = (to: string, name = 'text') => call(w.api, 'POST', '/v1/messages', { body: { ...outboundFixture(name), to } });

  it('sends a free-form message while the window is open', async () => {
    await w.userWrites(T0 - 23 * HOUR, '491701000001');
    expect((await send('+491701000001')).status).toBe(202);
  });

  it('answers 409 window_closed once the window closed, and sends and stores nothing', async () => {
    await w.userWrites(T0 - 25 * HOUR, '491701000002');
    const before = (await w.outboundItems()).length;
    const res = await send('+491701000002');
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({
      code: 'window_closed',
      details: { action: 'send_template', windowExpiresAt: new Date(T0 - HOUR).toISOString() },
    });
    expect(sm).not.toHaveReceivedCommand(SendWhatsAppMessageCommand);
    expect((await w.outboundItems()).length).toBe(before);
  });

  it('answers 409 window_closed for a user who never wrote', async () => {
    const res = await send('+491701000003');
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'window_closed', details: { action: 'send_template' } });
    expect(res.body.error.details.windowExpiresAt).toBeUndefined();
    expect(sm).not.toHaveReceivedCommand(SendWhatsAppMessageCommand);
  });

  it('is open 1 ms before 24 hours and closed at exactly 24 hours', async () => {
    await w.userWrites(T0, '491701000004');
    w.clock.now = T0 + 24 * HOUR - 1;
    expect((await send('+491701000004')).status).toBe(202);
    w.clock.now = T0 + 24 * HOUR;
    const closed = await send('+491701000004');
    expect(closed.status).toBe(409);
    expect(closed.body.error.code).toBe('window_closed');
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
  });

  it('refuses a reaction outside the window too', async () => {
    await w.userWrites(T0 - 30 * HOUR, '491701000005');
    const res = await send('+491701000005', 'reaction');
    expect(res.status).toBe(409);
    expect(sm).not.toHaveReceivedCommand(SendWhatsAppMessageCommand);
  });

  it('sends a template outside the window and to a user who never wrote', async () => {
    await w.userWrites(T0 - 30 * HOUR, '491701000006');
    expect((await send('+491701000006', 'template')).status).toBe(202);
    expect((await send('+491701000007', 'template')).status).toBe(202);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 2);
  });
});

describe('POST /v1/messages: AWS errors', () => {
  beforeAll(async () => {
    await w.userWrites(T0 - HOUR);
  });

  const cases: Array<[string, Error, number, string]> = [
    ['ValidationException', new ValidationException({ message: 'Invalid destination phone number or message Id.', $metadata: {} }), 400, 'invalid_request'],
    ['ResourceNotFoundException', new ResourceNotFoundException({ message: 'not found', $metadata: {} }), 404, 'unknown_phone_number'],
    ['AccessDeniedException', new AccessDeniedException({ message: 'denied', $metadata: {} }), 500, 'upstream_forbidden'],
    ['ThrottledRequestException', new ThrottledRequestException({ message: 'Rate exceeded', $metadata: {} }), 429, 'throttled'],
    // AWS may have accepted the message before failing: the outcome is unknown.
    ['DependencyException', new DependencyException({ message: 'Meta failed', $metadata: {} }), 502, 'send_in_doubt'],
    ['InternalServiceException', new InternalServiceException({ message: 'oops', $metadata: {} }), 502, 'send_in_doubt'],
  ];
  it.each(cases)('maps %s to %i %s', async (_name, err, status, code) => {
    sm.on(SendWhatsAppMessageCommand).rejects(err);
    const res = await call(w.api, 'POST', '/v1/messages', { body: outboundFixture('text') });
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts/); // no stack trace
  });

  it('answers 429 with the Retry-After AWS gave, or 1 second, once the throttled attempts are spent', async () => {
    const throttled = Object.assign(new ThrottledRequestException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 429 } }), {
      $response: { statusCode: 429, headers: { 'retry-after': '7' }, body: undefined },
    });
    sm.on(SendWhatsAppMessageCommand).rejects(throttled);
    const a = await call(w.api, 'POST', '/v1/messages', { body: outboundFixture('text') });
    sm.on(SendWhatsAppMessageCommand).rejects(new ThrottledRequestException({ message: 'x', $metadata: {} }));
    const b = await call(w.api, 'POST', '/v1/messages', { body: outboundFixture('text') });
    expect([a.status, a.headers['retry-after'], a.body.error.details]).toEqual([429, '7', { retryAfterSeconds: 7 }]);
    expect([b.status, b.headers['retry-after']]).toEqual([429, '1']);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 2 * w.throttledAttempts);
  });

  it('sends once more after a throttled attempt and answers the send that went through', async () => {
    sm.on(SendWhatsAppMessageCommand)
      .rejectsOnce(new ThrottledRequestException({ message: 'Rate exceeded', $metadata: {} }))
      .resolves({ messageId: 'aws-after-throttle' });
    const res = await call(w.api, 'POST', '/v1/messages', { body: outboundFixture('text') });
    expect([res.status, res.body.awsMessageId]).toEqual([202, 'aws-after-throttle']);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 2);
  });

  it('keeps a rejected send as failed with the error, out of the timeline', async () => {
    await w.userWrites(T0 - HOUR, '491709999999');
    sm.on(SendWhatsAppMessageCommand).rejects(new ValidationException({ message: 'bad', $metadata: {} }));
    const key = randomUUID();
    const res = await call(w.api, 'POST', '/v1/messages', { body: { ...outboundFixture('text'), to: '+491709999999' }, headers: { 'Idempotency-Key': key } });
    expect(res.status).toBe(400);
    const item = (await w.outboundItems()).find((i) => i.idempotencyKey === key)!;
    const msg = await call(w.api, 'GET', `/v1/messages/${item.id}`);
    expect(msg.body).toMatchObject({ status: 'failed', sendState: 'rejected', sendError: { code: 'invalid_request' }, statuses: [] });
    expect(msg.body.awsMessageId).toBeUndefined();
    const timeline = await call(w.api, 'GET', `/v1/conversations/${PN}/491709999999/messages`);
    expect(timeline.body.items.map((m: { id: string }) => m.id)).not.toContain(item.id);
  });
});

describe('POST /v1/messages/{id}/read', () => {
  const WAMID = 'wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdDNDNDMDk0RjFBMjc0RjdGMwA=';
  let inboundId: string;

  beforeAll(async () => {
    // An inbound message's id is derived from its wamid (a lookup by wamid reads it by that id).
    inboundId = messageIdFromWamid(WAMID);
    await w.inbound.recordInbound({
      id: inboundId,
      wamid: WAMID,
      business: { phoneNumberId: PN, metaPhoneNumberId: '106540352242922' },
      contact: { waId: USER },
      contactId: USER,
      type: 'text',
      content: { body: 'are you open?' },
      timestampMs: T0 - HOUR,
    });
  });

  it('marks an inbound message read by its id, with the typing indicator', async () => {
    const res = await call(w.api, 'POST', `/v1/messages/${inboundId}/read`, { body: { typingIndicator: true } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: inboundId, wamid: WAMID, read: true });
    expect(sentCalls(sm)).toEqual([
      {
        originationPhoneNumberId: PN,
        metaApiVersion: META_API_VERSION,
        message: { messaging_product: 'whatsapp', status: 'read', message_id: WAMID, typing_indicator: { type: 'text' } },
      },
    ]);
  });

  it('marks it read by wamid without a body, and again (Meta accepts repeats)', async () => {
    const a = await call(w.api, 'POST', `/v1/messages/${encodeURIComponent(WAMID)}/read`);
    const b = await call(w.api, 'POST', `/v1/messages/${inboundId}/read`, { body: {} });
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(sentCalls(sm).map((c) => c.message)).toEqual([
      { messaging_product: 'whatsapp', status: 'read', message_id: WAMID },
      { messaging_product: 'whatsapp', status: 'read', message_id: WAMID },
    ]);
  });

  it('answers 404 message_not_found for an unknown message and 409 not_inbound for an outbound one', async () => {
    const missing = await call(w.api, 'POST', '/v1/messages/msg_00000000000000000000000000000000/read');
    expect([missing.status, missing.body.error.code]).toEqual([404, 'message_not_found']);
    const sent = await call(w.api, 'POST', '/v1/messages', { body: outboundFixture('template') });
    sm.resetHistory();
    const outbound = await call(w.api, 'POST', `/v1/messages/${sent.body.id}/read`);
    expect([outbound.status, outbound.body.error.code]).toEqual([409, 'not_inbound']);
    expect(sm).not.toHaveReceivedCommand(SendWhatsAppMessageCommand);
  });

  it('refuses a typingIndicator that is not a boolean', async () => {
    const res = await call(w.api, 'POST', `/v1/messages/${inboundId}/read`, { body: { typingIndicator: 'yes' } });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual({ path: 'body.typingIndicator' });
    expect(sm).not.toHaveReceivedCommand(SendWhatsAppMessageCommand);
  });

  it('maps an AWS error', async () => {
    sm.on(SendWhatsAppMessageCommand).rejects(new ThrottledRequestException({ message: 'Rate exceeded', $metadata: {} }));
    const res = await call(w.api, 'POST', `/v1/messages/${inboundId}/read`);
    expect([res.status, res.headers['retry-after']]).toEqual([429, '1']);
  });
});

describe('DynamoDB requests per send', () => {
  /** The DynamoDB commands each act makes, in order. */
  async function requestsOf(...acts: Array<() => Promise<unknown>>): Promise<string[][]> {
    const seen: string[] = [];
    w.client.middlewareStack.add(
      (next, context) => async (args) => {
        seen.push(context.commandName as string);
        return next(args);
      },
      { step: 'initialize', name: 'countRequests' },
    );
    try {
      const out: string[][] = [];
      for (const act of acts) {
        // Each send newer than the last: a late message would cost one more transaction.
        w.clock.now += 1;
        seen.length = 0;
        await act();
        out.push([...seen]);
      }
      return out;
    } finally {
      w.client.middlewareStack.remove('countRequests');
    }
  }

  it('costs 1 read and 2 writes for a free-form message, 2 writes for a template, 1 more read for a BSUID', async () => {
    // Prepare: conversations whose last activity is older than the sends
    await w.userWrites(T0 + 9 * HOUR);
    await w.userWrites(T0 + 9 * HOUR, '4915112340009');
    await w.writeAlias('US.26852818834383309', '4915112340009');
    w.clock.now = T0 + 10 * HOUR;
    const { to: _to, ...toBsuid } = outboundFixture('text');
    // Act
    const [text, template, bsuid] = await requestsOf(
      () => call(w.api, 'POST', '/v1/messages', { body: outboundFixture('text') }),
      () => call(w.api, 'POST', '/v1/messages', { body: outboundFixture('template') }),
      () => call(w.api, 'POST', '/v1/messages', { body: { ...toBsuid, recipient: 'US.26852818834383309' } }),
    );
    // Assess
    // The record is written with its conversation's count in one transaction, then completed in another.
    expect(text).toEqual(['GetItemCommand', 'TransactWriteItemsCommand', 'TransactWriteItemsCommand']);
    expect(template).toEqual(['TransactWriteItemsCommand', 'TransactWriteItemsCommand']);
    expect(bsuid).toEqual(['GetItemCommand', 'GetItemCommand', 'TransactWriteItemsCommand', 'TransactWriteItemsCommand']);
  });

  it('costs one transaction (delete + uncount) for a throttled send, one (rejected + uncount) for a rejected one and one update for a doubtful one', async () => {
    w.clock.now = T0 + 10 * HOUR;
    const send = () => call(w.api, 'POST', '/v1/messages', { body: outboundFixture('template') });
    const [throttled, rejected, doubtful] = await requestsOf(
      async () => {
        sm.on(SendWhatsAppMessageCommand).rejects(new ThrottledRequestException({ message: 'Rate exceeded', $metadata: {} }));
        expect((await send()).status).toBe(429);
      },
      async () => {
        sm.on(SendWhatsAppMessageCommand).rejects(new ValidationException({ message: 'bad', $metadata: {} }));
        expect((await send()).status).toBe(400);
      },
      async () => {
        sm.on(SendWhatsAppMessageCommand).rejects(new InternalServiceException({ message: 'oops', $metadata: {} }));
        expect((await send()).status).toBe(502);
      },
    );
    expect(throttled).toEqual(['TransactWriteItemsCommand', 'TransactWriteItemsCommand']);
    expect(rejected).toEqual(['TransactWriteItemsCommand', 'TransactWriteItemsCommand']);
    expect(doubtful).toEqual(['TransactWriteItemsCommand', 'UpdateItemCommand']);
  });
});
