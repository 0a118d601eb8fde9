import 'aws-sdk-client-mock-vitest/extend';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AccessDeniedByMetaException,
  AccessDeniedException,
  DependencyException,
  InternalServiceException,
  ResourceNotFoundException,
  SendWhatsAppMessageCommand,
  SocialMessagingClient,
  ThrottledRequestException,
  ValidationException,
} from '@aws-sdk/client-socialmessaging';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { storeBusy } from '../../shared/domain/errors.ts';
import { messageIdForKey } from '../../shared/domain/send-message.ts';
import type { OutboundStore } from '../../shared/ports/outbound-store.ts';
import type { LinkedPhoneNumber, WhatsAppGateway } from '../../shared/ports/whatsapp-gateway.ts';
import { call } from '../support/api.ts';
import { outboundFixture, PN, PN2, PN_ARN, sendWorld, sentCalls, USER, type SendWorld } from '../support/send.ts';

const HOUR = 60 * 60 * 1000;
const T0 = Date.parse('2026-03-02T12:00:00.000Z');
const sm = mockClient(SocialMessagingClient);
let w: SendWorld;

const keyed = (key: string) => ({ 'Idempotency-Key': key });
/** A keyed send whose every attempt AWS throttles (its record is discarded): its key, id and answer. */
async function throttledKeyedSend() {
  sm.on(SendWhatsAppMessageCommand).rejects(new ThrottledRequestException({ message: 'Rate exceeded', $metadata: {} }));
  const key = randomUUID();
  const first = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
  return { key, id: messageIdForKey(PN, key), first };
}
/** WhatsApp's `sent` of message `id` (our id in its callback data), as the inbound path records it. */
const statusSent = (id: string, wamid: string) =>
  w.inbound.recordStatus({ wamid, status: 'sent', business: { phoneNumberId: PN, metaPhoneNumberId: '106540352242922' }, timestampMs: T0 + 1000, messageId: id });
const text = () => outboundFixture('text');

beforeAll(async () => {
  w = await sendWorld(T0);
  await w.userWrites(T0 - HOUR);
  await w.userWrites(T0 - HOUR, USER, PN2);
});

beforeEach(() => {
  sm.reset();
  sm.on(SendWhatsAppMessageCommand).callsFake(async () => ({ messageId: randomUUID() }));
  w.clock.now = T0;
});

afterAll(() => sm.restore());

describe('Idempotency-Key', () => {
  it('replays a template send with the first answer\'s templateChecked', async () => {
    // Prepare
    const key = randomUUID();
    const first = await call(w.api, 'POST', '/v1/messages', { body: outboundFixture('template'), headers: keyed(key) });
    // Act
    const retry = await call(w.api, 'POST', '/v1/messages', { body: outboundFixture('template'), headers: keyed(key) });
    // Assess
    expect(first.body).toMatchObject({ templateChecked: false });
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toEqual(first.body);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
  });

  it('replays the first answer for a retry, without sending again', async () => {
    // Prepare
    const key = randomUUID();
    const first = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    // Act
    w.clock.now = T0 + 60_000;
    const retry = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    // Assess
    expect(first.status).toBe(202);
    expect(first.body.id).toBe(messageIdForKey(PN, key));
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
  });

  it('treats the same message written differently (from as ARN, to with spaces, keys reordered) as the same request', async () => {
    const key = randomUUID();
    const first = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    const { text: t, type, ...rest } = text();
    const retry = await call(w.api, 'POST', '/v1/messages', {
      body: { text: { body: t.body, preview_url: t.preview_url }, type, ...rest, from: PN_ARN, to: '+1 650 555 1234' },
      headers: keyed(key),
    });
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual(first.body);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
  });

  it('answers 422 idempotency_key_reused for the same key with a different body, sending nothing more', async () => {
    const key = randomUUID();
    await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    const other = await call(w.api, 'POST', '/v1/messages', {
      body: { ...text(), text: { body: 'a different message' } },
      headers: keyed(key),
    });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
  });

  it('scopes a key to its business number', async () => {
    const key = randomUUID();
    const a = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    const b = await call(w.api, 'POST', '/v1/messages', { body: { ...text(), from: PN2 }, headers: keyed(key) });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.id).not.toBe(b.body.id);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 2);
  });

  it('sends twice without a key: two requests, two messages', async () => {
    const a = await call(w.api, 'POST', '/v1/messages', { body: text() });
    const b = await call(w.api, 'POST', '/v1/messages', { body: text() });
    expect(a.body.id).not.toBe(b.body.id);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 2);
  });

  it('replays an accepted send even after the window closed', async () => {
    const key = randomUUID();
    await w.userWrites(T0 - HOUR, '491702000001');
    const body = { ...text(), to: '+491702000001' };
    const first = await call(w.api, 'POST', '/v1/messages', { body, headers: keyed(key) });
    w.clock.now = T0 + 25 * HOUR;
    const retry = await call(w.api, 'POST', '/v1/messages', { body, headers: keyed(key) });
    const fresh = await call(w.api, 'POST', '/v1/messages', { body, headers: keyed(randomUUID()) });
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual(first.body);
    expect(fresh.status).toBe(409);
    expect(fresh.body.error.code).toBe('window_closed');
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
  });

  it('replays the same error for a send AWS rejected, without sending again', async () => {
    sm.on(SendWhatsAppMessageCommand).rejects(new ValidationException({ message: 'Invalid destination phone number or message Id.', $metadata: {} }));
    const key = randomUUID();
    const first = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    const retry = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    expect(first.status).toBe(400);
    expect(first.body.error).toMatchObject({ code: 'invalid_request', details: { reason: 'Invalid destination phone number or message Id.' } });
    expect(retry.status).toBe(400);
    expect(retry.body).toEqual(first.body);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
  });

  it.each([
    ['invalid', 400, () => new ValidationException({ message: 'Invalid destination phone number or message Id.', $metadata: {} })],
    ['forbidden', 403, () => new AccessDeniedByMetaException({ message: 'Meta says no', $metadata: {} })],
  ])('replays a %s send error kept by a record written before errors had a kind (it kept the HTTP status) exactly as before', async (kind, status, failure) => {
    // Prepare: a rejected send, its stored error then rewritten in the former shape ({status, code, message, details?})
    sm.on(SendWhatsAppMessageCommand).rejects(failure());
    const key = randomUUID();
    const id = messageIdForKey(PN, key);
    const first = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    const stored = (await w.outboundItems()).find((i) => i.id === id)!;
    expect(stored.sendError).toMatchObject({ kind, code: first.body.error.code });
    const { kind: _kind, ...former } = stored.sendError;
    await w.doc.send(
      new UpdateCommand({
        TableName: w.tableName,
        Key: { PK: `MSG#${id}`, SK: 'MSG' },
        UpdateExpression: 'SET sendError = :e',
        ExpressionAttributeValues: { ':e': { status, ...former } },
      }),
    );
    // Act
    const retry = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    // Assess: the same status, code, message and details; nothing sent again
    expect(first.status).toBe(status);
    expect([retry.status, retry.body]).toEqual([first.status, first.body]);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
  });

  it('leaves nothing behind for a send AWS kept throttling, so a retry with the key simply sends it', async () => {
    // Prepare: every attempt of the first request is throttled
    const { key, id, first } = await throttledKeyedSend();
    const between = await call(w.api, 'GET', `/v1/messages/${id}`);
    const itemsBetween = (await w.outboundItems()).filter((i) => i.id === id);
    // Act
    sm.on(SendWhatsAppMessageCommand).resolves({ messageId: 'aws-second-request' });
    w.clock.now = T0 + 2000;
    const retry = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    const again = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    // Assess
    expect([first.status, first.headers['retry-after'], first.body.error.code]).toEqual([429, '1', 'throttled']);
    expect([between.status, between.body.error.code]).toEqual([404, 'message_not_found']);
    expect(itemsBetween).toEqual([]);
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual({ id, status: 'accepted', awsMessageId: 'aws-second-request' });
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(again.body).toEqual(retry.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, w.throttledAttempts + 1);
    const after = await call(w.api, 'GET', `/v1/messages/${id}`);
    expect(after.body).toMatchObject({ status: 'accepted', awsMessageId: 'aws-second-request', timestamp: new Date(T0 + 2000).toISOString() });
    expect(after.body.sendError).toBeUndefined();
  });

  it('replays an accepted send whose statuses came in between', async () => {
    // Prepare
    const key = randomUUID();
    const first = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    await statusSent(first.body.id, 'wamid.REPLAYED');
    // Act
    w.clock.now = T0 + 60_000;
    const retry = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    // Assess
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
  });

  it('never sends a keyed retry again once statuses named its id, though its first attempt was discarded as not sent', async () => {
    // Prepare: every attempt is throttled and the record discarded, but AWS had in fact sent one
    const { key, id, first } = await throttledKeyedSend();
    await statusSent(id, 'wamid.WENT-OUT');
    // Act
    sm.on(SendWhatsAppMessageCommand).resolves({ messageId: 'aws-never' });
    w.clock.now = T0 + 2000;
    const retry = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    // Assess
    expect(first.status).toBe(429);
    expect([retry.status, retry.body.error.code, retry.body.error.details]).toEqual([409, 'send_in_doubt', { id }]);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, w.throttledAttempts);
  });

  it('keeps a rejected send failed for good: a retry with the key gets the same error and never becomes accepted', async () => {
    // Prepare: AWS refuses the first attempt, then would accept anything
    sm.on(SendWhatsAppMessageCommand)
      .rejectsOnce(new ValidationException({ message: 'Invalid destination phone number or message Id.', $metadata: {} }))
      .resolves({ messageId: 'never' });
    const key = randomUUID();
    const id = messageIdForKey(PN, key);
    const first = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    // Act
    w.clock.now = T0 + 60_000;
    const retry = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    const shown = await call(w.api, 'GET', `/v1/messages/${id}`);
    // Assess
    expect(retry.status).toBe(400);
    expect(retry.body).toEqual(first.body);
    expect(shown.body).toMatchObject({ status: 'failed', sendState: 'rejected', sendError: { code: 'invalid_request' } });
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
  });

  it('lets the key of a throttled send carry another body afterwards, since nothing was kept under it', async () => {
    sm.on(SendWhatsAppMessageCommand).rejects(new ThrottledRequestException({ message: 'Rate exceeded', $metadata: {} }));
    const key = randomUUID();
    const first = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    sm.on(SendWhatsAppMessageCommand).resolves({ messageId: 'aws-other' });
    const other = await call(w.api, 'POST', '/v1/messages', { body: { ...text(), text: { body: 'other' } }, headers: keyed(key) });
    const sameAsFirst = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    expect([first.status, other.status, sameAsFirst.status]).toEqual([429, 202, 422]);
    expect(sentCalls(sm).at(-1)!.message.text.body).toBe('other');
  });
});

describe('the attempt token of a send record', () => {
  it("keeps a late write of an earlier attempt (a discard or an update) off a newer attempt's record", async () => {
    // Prepare: attempt A was throttled and discarded; the retry, attempt B, holds the same id
    const id = messageIdForKey(PN, randomUUID());
    const base = {
      id,
      phoneNumberId: PN,
      contactId: USER,
      contact: { waId: USER },
      type: 'text',
      content: { body: 'hi' },
      timestampMs: T0,
      requestHash: 'same-request',
    };
    const a = { ...base, attemptId: randomUUID() };
    const b = { ...base, attemptId: randomUUID() };
    expect(await w.store.begin(a, T0)).toEqual({ created: true });
    await w.store.discard(a);
    expect(await w.store.begin(b, T0 + 1000)).toEqual({ created: true });
    // Act: A's writes arrive late (a duplicate delivery of the delete, a stale update)
    await w.store.discard(a);
    await w.store.markInDoubt(a, T0 + 2000);
    await w.store.markRejected(a, { kind: 'invalid', code: 'invalid_request', message: 'late' }, T0 + 2000);
    const whileB = await w.store.find(id);
    await w.store.markSent(b, 'aws-b', T0 + 3000);
    // Assess
    expect(whileB).toMatchObject({ sendState: 'sending', attemptStartedAtMs: T0 + 1000 });
    expect(await w.store.find(id)).toMatchObject({ sendState: 'sent', awsMessageId: 'aws-b' });
  });
});

describe('concurrent identical requests', () => {
  it('send exactly once; the others get the replay or 409 send_in_progress', async () => {
    // Prepare: AWS takes a while to answer, so that the requests overlap
    sm.on(SendWhatsAppMessageCommand).callsFake(async () => {
      await sleep(400);
      return { messageId: 'aws-only-one' };
    });
    const key = randomUUID();
    const id = messageIdForKey(PN, key);
    // Act
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) })),
    );
    const later = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    // Assess
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
    const firsts = answers.filter((a) => a.status === 202 && a.headers['idempotent-replayed'] === undefined);
    expect(firsts).toHaveLength(1);
    for (const a of answers) {
      if (a.status === 202) expect(a.body).toEqual({ id, status: 'accepted', awsMessageId: 'aws-only-one' });
      else expect([a.status, a.body.error.code, a.body.error.details]).toEqual([409, 'send_in_progress', { id }]);
    }
    expect(answers.some((a) => a.status === 409)).toBe(true);
    expect([later.status, later.headers['idempotent-replayed'], later.body.awsMessageId]).toEqual([202, 'true', 'aws-only-one']);
    expect((await w.outboundItems()).filter((i) => i.id === id)).toHaveLength(1);
  });
});

/** A gateway whose process dies right after WhatsApp accepted the message. */
class DiesAfterSend implements WhatsAppGateway {
  dead = false;
  private readonly inner: WhatsAppGateway;
  constructor(inner: WhatsAppGateway) {
    this.inner = inner;
  }
  async sendMessage(input: Parameters<WhatsAppGateway['sendMessage']>[0]): Promise<{ awsMessageId?: string }> {
    await this.inner.sendMessage(input);
    this.dead = true;
    throw new Error('the process died after AWS accepted the message');
  }
  getPhoneNumber(id: string): Promise<LinkedPhoneNumber> {
    return this.inner.getPhoneNumber(id);
  }
}

/** The store as seen from a dead process: nothing more gets written. */
function storeOf(gateway: DiesAfterSend, store: OutboundStore): OutboundStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (gateway.dead) return Promise.reject(new Error('the process is gone'));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe('a crash between the call and the record update', () => {
  it('never sends again: a retry answers send_in_progress, then send_in_doubt, and statuses fill the record in', async () => {
    // Prepare: the first container sends, then dies before recording the outcome
    const dying = new DiesAfterSend(w.gateway);
    const crashed = w.restart({ gateway: dying, store: storeOf(dying, w.store) });
    const key = randomUUID();
    const id = messageIdForKey(PN, key);
    await call(crashed.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
    const sentMessage = sentCalls(sm)[0]!.message;
    // Act: the caller retries on a healthy container, at once and after the in-progress lease
    const healthy = w.restart();
    w.clock.now = T0 + 5_000;
    const soon = await call(healthy.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    w.clock.now = T0 + 31_000;
    const later = await call(healthy.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    // Assess
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
    expect([soon.status, soon.body.error.code]).toEqual([409, 'send_in_progress']);
    expect([later.status, later.body.error.code, later.body.error.details]).toEqual([409, 'send_in_doubt', { id }]);
    expect(later.body.error.message).toContain(`GET /v1/messages/${id}`);
    expect(sentMessage.biz_opaque_callback_data).toBe(id);
    const before = await call(healthy.api, 'GET', `/v1/messages/${id}`);
    expect([before.body.status, before.body.sendState]).toEqual(['accepted', 'sending']);
    // WhatsApp's status carries our id: the record fills in
    await statusSent(id, 'wamid.CRASHED');
    const msg = await call(healthy.api, 'GET', `/v1/messages/${id}`);
    expect(msg.body).toMatchObject({ id, wamid: 'wamid.CRASHED', status: 'sent', type: 'text', contact: { waId: USER } });
  });

  it('never sends again after a call that timed out, even though AWS would accept the next one: 502, then 409 send_in_doubt', async () => {
    // Prepare: the call times out (AWS may have the message), then AWS would accept anything
    sm.on(SendWhatsAppMessageCommand)
      .rejectsOnce(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }))
      .resolves({ messageId: 'would-be-a-second-copy' });
    const key = randomUUID();
    const id = messageIdForKey(PN, key);
    // Act
    const first = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    const retry = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    // Assess
    expect([first.status, first.body.error.code, first.body.error.details]).toEqual([502, 'send_in_doubt', { id }]);
    expect([retry.status, retry.body.error.code]).toEqual([409, 'send_in_doubt']);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
    expect((await w.outboundItems()).find((i) => i.id === id)).toMatchObject({ sendState: 'in_doubt' });
    const msg = await call(w.api, 'GET', `/v1/messages/${id}`);
    expect([msg.body.status, msg.body.sendState]).toEqual(['accepted', 'in_doubt']);
  });

  it.each([
    ['InternalServiceException (500)', new InternalServiceException({ message: 'oops', $metadata: { httpStatusCode: 500 } })],
    ['DependencyException (502)', new DependencyException({ message: 'Meta failed', $metadata: { httpStatusCode: 502 } })],
    ['a connection reset', Object.assign(new Error('read ECONNRESET'), { name: 'Error', code: 'ECONNRESET' })],
    ['an exception this backend does not know', Object.assign(new Error('new'), { name: 'SomethingNewException', $metadata: { httpStatusCode: 400 } })],
    ['a 403 the SDK does not model', Object.assign(new Error('Forbidden'), { name: 'Unknown', $metadata: { httpStatusCode: 403 } })],
    ['a 503 the SDK does not model', Object.assign(new Error('Service Unavailable'), { name: 'Unknown', $metadata: { httpStatusCode: 503 } })],
  ])('treats %s as a send that may have gone out: one call, 502 send_in_doubt, never sent again', async (_name, err) => {
    sm.on(SendWhatsAppMessageCommand).rejectsOnce(err).resolves({ messageId: 'would-be-a-second-copy' });
    const key = randomUUID();
    const first = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    const retry = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    expect([first.status, first.body.error.code]).toEqual([502, 'send_in_doubt']);
    expect([retry.status, retry.body.error.code]).toEqual([409, 'send_in_doubt']);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
  });
});

/** The store with one of its methods failing as a busy DynamoDB would. */
function failing(store: OutboundStore, method: keyof OutboundStore): OutboundStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === method) return () => Promise.reject(storeBusy());
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('a send refused before AWS looked at the message', () => {
  it.each([
    ['AccessDeniedException (our IAM)', () => new AccessDeniedException({ message: 'denied', $metadata: { httpStatusCode: 403 } }), 500, 'upstream_forbidden'],
    ['ResourceNotFoundException (number not linked here)', () => new ResourceNotFoundException({ message: 'not found', $metadata: { httpStatusCode: 404 } }), 404, 'unknown_phone_number'],
    ['ExpiredTokenException', () => Object.assign(new Error('expired'), { name: 'ExpiredTokenException', $metadata: { httpStatusCode: 403 } }), 500, 'upstream_unauthenticated'],
    ['UnrecognizedClientException', () => Object.assign(new Error('bad key'), { name: 'UnrecognizedClientException', $metadata: { httpStatusCode: 403 } }), 500, 'upstream_unauthenticated'],
    ['InvalidSignatureException', () => Object.assign(new Error('bad signature'), { name: 'InvalidSignatureException', $metadata: { httpStatusCode: 403 } }), 500, 'upstream_unauthenticated'],
  ])('keeps nothing after %s: the mapped error, then a retry with the key sends once the operator fixed it', async (_name, refusal, status, code) => {
    // Prepare: AWS refuses the first call; an operator fixes the cause, then AWS accepts
    sm.on(SendWhatsAppMessageCommand).rejectsOnce(refusal()).resolves({ messageId: 'aws-after-fix' });
    const key = randomUUID();
    const id = messageIdForKey(PN, key);
    // Act
    const first = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    const between = await call(w.api, 'GET', `/v1/messages/${id}`);
    const itemsBetween = (await w.outboundItems()).filter((i) => i.id === id);
    w.clock.now = T0 + 60_000;
    const retry = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    // Assess
    expect([first.status, first.body.error.code]).toEqual([status, code]);
    expect([between.status, between.body.error.code]).toEqual([404, 'message_not_found']);
    expect(itemsBetween).toEqual([]);
    expect([retry.status, retry.body]).toEqual([202, { id, status: 'accepted', awsMessageId: 'aws-after-fix' }]);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 2);
  });

  it('treats an HTTP 429 the SDK does not model as a throttle: tried again, nothing kept, 429, then the key sends', async () => {
    // Prepare: AWS's front door throttles without a modelled exception
    const unmodelled = Object.assign(new Error('Too Many Requests'), {
      name: 'Unknown',
      $metadata: { httpStatusCode: 429 },
      $response: { statusCode: 429, headers: { 'retry-after': '3' }, body: undefined },
    });
    sm.on(SendWhatsAppMessageCommand).rejects(unmodelled);
    const key = randomUUID();
    const id = messageIdForKey(PN, key);
    // Act
    const first = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    const callsThrottled = sm.commandCalls(SendWhatsAppMessageCommand).length;
    const itemsBetween = (await w.outboundItems()).filter((i) => i.id === id);
    sm.on(SendWhatsAppMessageCommand).resolves({ messageId: 'aws-after-429' });
    const retry = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    // Assess
    expect([first.status, first.headers['retry-after'], first.body.error.code]).toEqual([429, '3', 'throttled']);
    expect(callsThrottled).toBe(w.throttledAttempts);
    expect(itemsBetween).toEqual([]);
    expect([retry.status, retry.body.awsMessageId]).toEqual([202, 'aws-after-429']);
  });
});

describe('a send AWS accepted whose record update failed', () => {
  it('still answers 202 and marks the record alone sent, so a retry with the key replays it', async () => {
    // Prepare: the transaction that completes the send fails (store busy)
    const { api } = w.restart({ store: failing(w.store, 'markSent') });
    sm.on(SendWhatsAppMessageCommand).resolves({ messageId: 'aws-kept' });
    const key = randomUUID();
    const id = messageIdForKey(PN, key);
    // Act
    const first = await call(api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    w.clock.now = T0 + 5_000;
    const retry = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    const shown = await call(w.api, 'GET', `/v1/messages/${id}`);
    // Assess
    expect([first.status, first.body]).toEqual([202, { id, status: 'accepted', awsMessageId: 'aws-kept' }]);
    expect([retry.status, retry.headers['idempotent-replayed'], retry.body]).toEqual([202, 'true', first.body]);
    expect(shown.body).toMatchObject({ status: 'accepted', sendState: 'sent', awsMessageId: 'aws-kept' });
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
  });
});

describe('a send AWS accepted nothing of, whose record could not be deleted', () => {
  it('answers 503 store_unavailable rather than 429, and the key stays taken while a new key sends', async () => {
    // Prepare: AWS keeps throttling; the delete of the record fails
    const { api } = w.restart({ store: failing(w.store, 'discard') });
    sm.on(SendWhatsAppMessageCommand).rejects(new ThrottledRequestException({ message: 'Rate exceeded', $metadata: {} }));
    const key = randomUUID();
    const id = messageIdForKey(PN, key);
    // Act
    const first = await call(api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    sm.on(SendWhatsAppMessageCommand).resolves({ messageId: 'aws-new-key' });
    const sameKey = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(key) });
    const newKey = await call(w.api, 'POST', '/v1/messages', { body: text(), headers: keyed(randomUUID()) });
    // Assess
    expect([first.status, first.headers['retry-after'], first.body.error.code, first.body.error.details]).toEqual([
      503,
      undefined,
      'store_unavailable',
      { id },
    ]);
    expect([sameKey.status, sameKey.body.error.code]).toEqual([409, 'send_in_progress']);
    expect([newKey.status, newKey.body.awsMessageId]).toEqual([202, 'aws-new-key']);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, w.throttledAttempts + 1);
  });
});
