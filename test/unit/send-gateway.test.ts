/**
 * The socialmessaging gateway against a loopback HTTP server speaking AWS's wire format: what goes
 * on the wire; a send is tried again only when AWS throttled it (the SDK never retries a send),
 * while reads keep the SDK's retries.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbOutbound } from '../../shared/adapters/dynamodb-outbound.ts';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import {
  SEND_ATTEMPTS_WHEN_THROTTLED,
  SOCIALMESSAGING_MAX_ATTEMPTS,
  socialMessagingClient,
  socialMessagingSendClient,
  SocialMessagingGateway,
  throttledSendDelayMs,
} from '../../shared/adapters/socialmessaging-gateway.ts';
import { WhatsAppServiceError } from '../../shared/adapters/socialmessaging-errors.ts';
import { MessageSender } from '../../shared/domain/send-message.ts';
import { makeHandler } from '../../lambdas/api/handler.ts';
import { call } from '../support/api.ts';
import { freshTable } from '../support/dynamodb.ts';
import { outboundFixture, PN } from '../support/send.ts';

interface Seen {
  method: string;
  url: string;
  body: string;
}
/** An answer, or `hang` (never answer: the client times out) or `reset` (drop the connection). */
type Reply = { status: number; headers?: Record<string, string>; body: unknown } | 'hang' | 'reset';

let server: Server;
let endpoint: string;
const seen: Seen[] = [];
let replies: Reply[] = [];

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

beforeAll(async () => {
  server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method!, url: req.url!, body: await readAll(req) });
    const reply = replies.shift() ?? { status: 500, body: { message: 'no reply scripted' } };
    if (reply === 'hang') return;
    if (reply === 'reset') return void req.socket.destroy();
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    res.end(JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen.length = 0;
  replies = [];
});

const throttled = (): Reply => ({
  status: 429,
  headers: { 'x-amzn-errortype': 'ThrottledRequestException', 'retry-after': '1' },
  body: { message: 'Rate exceeded' },
});

const serverError = (name: string, status: number): Reply => ({ status, headers: { 'x-amzn-errortype': name }, body: { message: 'failed' } });

/** A 429 with no exception the SDK models (AWS's front door throttling). */
const plain429 = (): Reply => ({ status: 429, headers: { 'retry-after': '2' }, body: { message: 'Too Many Requests' } });

/** Wired as in the Lambda: reads with the SDK's retries, sends through a client without them. */
const gateway = () => {
  const config = {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: { requestTimeout: 300, throwOnRequestTimeout: true },
  };
  return new SocialMessagingGateway(socialMessagingClient(config), { sendClient: socialMessagingSendClient(config) });
};

const send = () => gateway().sendMessage({ phoneNumberId: PN, message: { messaging_product: 'whatsapp' }, metaApiVersion: 'v24.0' });

describe('SocialMessagingGateway on the wire', () => {
  it('posts the message as base64 of its JSON bytes with the phone number id and API version', async () => {
    replies = [{ status: 200, body: { messageId: 'a1b2c3d4-0000-4000-8000-000000000001' } }];
    const message = { messaging_product: 'whatsapp', to: '+16505551234', type: 'text', text: { body: 'héllo 👋' } };
    const out = await gateway().sendMessage({ phoneNumberId: PN, message, metaApiVersion: 'v24.0' });
    expect(out).toEqual({ awsMessageId: 'a1b2c3d4-0000-4000-8000-000000000001' });
    expect(seen).toHaveLength(1);
    expect([seen[0]!.method, seen[0]!.url]).toEqual(['POST', '/v1/whatsapp/send']);
    const wire = JSON.parse(seen[0]!.body);
    expect(wire).toEqual({ originationPhoneNumberId: PN, message: expect.any(String), metaApiVersion: 'v24.0' });
    expect(JSON.parse(Buffer.from(wire.message, 'base64').toString('utf8'))).toEqual(message);
  });

  it('tries a throttled send again, with a pause, and succeeds on the last attempt', async () => {
    replies = [throttled(), throttled(), { status: 200, body: { messageId: 'third-time' } }];
    const started = performance.now();
    const out = await send();
    expect(out.awsMessageId).toBe('third-time');
    expect(seen).toHaveLength(SEND_ATTEMPTS_WHEN_THROTTLED);
    expect(performance.now() - started).toBeGreaterThanOrEqual(throttledSendDelayMs(1, () => 0) + throttledSendDelayMs(2, () => 0) - 5);
  });

  it('tries a send again after a 429 the SDK does not model, as after a modelled throttle', async () => {
    replies = [plain429(), plain429(), { status: 200, body: { messageId: 'after-plain-429' } }];
    const out = await send();
    expect(out.awsMessageId).toBe('after-plain-429');
    expect(seen).toHaveLength(SEND_ATTEMPTS_WHEN_THROTTLED);
  });

  it.each([
    ['an InternalServiceException (500)', serverError('InternalServiceException', 500), 'InternalServiceException', 500],
    ['a DependencyException (502)', serverError('DependencyException', 502), 'DependencyException', 502],
    ['a 503 without a modelled exception', { status: 503, body: { message: 'unavailable' } } as Reply, expect.any(String), 503],
  ])('sends only once when AWS answers %s, and says which', async (_name, reply, name, status) => {
    replies = [reply, { status: 200, body: { messageId: 'a-second-copy' } }];
    const err = await send().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WhatsAppServiceError);
    expect(err).toMatchObject({ name, httpStatusCode: status });
    expect(seen).toHaveLength(1);
  });

  it('sends only once when the answer never comes (timeout) or the connection drops', async () => {
    for (const reply of ['hang', 'reset'] as const) {
      seen.length = 0;
      replies = [reply, { status: 200, body: { messageId: 'a-second-copy' } }];
      const err = await send().catch((e: unknown) => e);
      expect(err, reply).toBeInstanceOf(WhatsAppServiceError);
      expect((err as WhatsAppServiceError).httpStatusCode, reply).toBeUndefined();
      if (reply === 'hang') expect((err as Error).name).toBe('TimeoutError');
      expect(seen, reply).toHaveLength(1);
    }
  });

  it('keeps the SDK retries for reads: a 500 on a phone number lookup is asked again', async () => {
    replies = [serverError('InternalServiceException', 500), { status: 200, body: { phoneNumber: { phoneNumberId: PN, displayPhoneNumber: '+1 555-010-0001' } } }];
    const out = await gateway().getPhoneNumber(PN);
    expect(out.displayPhoneNumber).toBe('15550100001');
    expect(seen).toHaveLength(2);
    expect(SOCIALMESSAGING_MAX_ATTEMPTS).toBeGreaterThan(1);
  });

  it('does not retry a validation error', async () => {
    replies = [{ status: 400, headers: { 'x-amzn-errortype': 'ValidationException' }, body: { message: 'bad' } }];
    await expect(gateway().sendMessage({ phoneNumberId: PN, message: {}, metaApiVersion: 'v24.0' })).rejects.toMatchObject({
      name: 'ValidationException',
      httpStatusCode: 400,
    });
    expect(seen).toHaveLength(1);
  });

  it('describes a phone number with its display number as digits', async () => {
    replies = [
      {
        status: 200,
        body: {
          phoneNumber: {
            arn: 'arn:aws:social-messaging:us-east-1:111122223333:phone-number-id/0123456789abcdef0123456789abcdef',
            phoneNumber: '+1 555-010-0001',
            phoneNumberId: PN,
            metaPhoneNumberId: '106540352242922',
            displayPhoneNumberName: 'Shop',
            displayPhoneNumber: '+1 555-010-0001',
            qualityRating: 'GREEN',
          },
          linkedWhatsAppBusinessAccountId: 'waba-0123456789abcdef0123456789abcdef',
        },
      },
    ];
    const out = await gateway().getPhoneNumber(PN);
    expect(seen[0]!.url).toBe(`/v1/whatsapp/waba/phone/details?id=${PN}`);
    expect(out).toEqual({
      phoneNumberId: PN,
      arn: 'arn:aws:social-messaging:us-east-1:111122223333:phone-number-id/0123456789abcdef0123456789abcdef',
      displayPhoneNumber: '15550100001',
      metaPhoneNumberId: '106540352242922',
      wabaId: 'waba-0123456789abcdef0123456789abcdef',
    });
  });
});

async function sendApi() {
  const { doc, tableName } = await freshTable();
  const queries = new DynamoDbQueries(doc, tableName);
  const sender = new MessageSender({
    gateway: gateway(),
    store: new DynamoDbOutbound(doc, tableName),
    messages: queries,
    phoneNumberIds: [PN],
    metaApiVersion: 'v24.0',
    now: Date.now,
  });
  return makeHandler({ queries, now: Date.now, sender: () => sender });
}

describe('POST /v1/messages on the wire', () => {
  it('answers 429 with Retry-After once the throttled attempts are spent, and a retry with the key may send later', async () => {
    // Prepare
    const api = await sendApi();
    replies = Array.from({ length: SEND_ATTEMPTS_WHEN_THROTTLED }, throttled);
    const body = outboundFixture('template');
    // Act
    const res = await call(api, 'POST', '/v1/messages', { body, headers: { 'Idempotency-Key': 'order-1' } });
    const callsThrottled = seen.length;
    replies = [{ status: 200, body: { messageId: 'later' } }];
    const retry = await call(api, 'POST', '/v1/messages', { body, headers: { 'Idempotency-Key': 'order-1' } });
    // Assess
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body.error.code).toBe('throttled');
    expect(callsThrottled).toBe(SEND_ATTEMPTS_WHEN_THROTTLED);
    expect(retry.status).toBe(202);
    expect(retry.body.awsMessageId).toBe('later');
    expect(seen).toHaveLength(SEND_ATTEMPTS_WHEN_THROTTLED + 1);
  });

  it('answers 502 send_in_doubt after one timed-out call, and never sends the message again', async () => {
    // Prepare: AWS does not answer in time, then would accept anything
    const api = await sendApi();
    replies = ['hang', { status: 200, body: { messageId: 'a-second-copy' } }];
    const body = outboundFixture('template');
    // Act
    const res = await call(api, 'POST', '/v1/messages', { body, headers: { 'Idempotency-Key': 'order-2' } });
    const retry = await call(api, 'POST', '/v1/messages', { body, headers: { 'Idempotency-Key': 'order-2' } });
    // Assess
    expect([res.status, res.body.error.code]).toEqual([502, 'send_in_doubt']);
    expect([retry.status, retry.body.error.code]).toEqual([409, 'send_in_doubt']);
    expect(seen).toHaveLength(1);
  });

  it('answers 429 after a 429 the SDK does not model on every attempt, keeps nothing, and a retry with the key sends', async () => {
    // Prepare
    const api = await sendApi();
    replies = Array.from({ length: SEND_ATTEMPTS_WHEN_THROTTLED }, plain429);
    const body = outboundFixture('template');
    // Act
    const res = await call(api, 'POST', '/v1/messages', { body, headers: { 'Idempotency-Key': 'order-3' } });
    replies = [{ status: 200, body: { messageId: 'after-429' } }];
    const retry = await call(api, 'POST', '/v1/messages', { body, headers: { 'Idempotency-Key': 'order-3' } });
    // Assess
    expect([res.status, res.headers['retry-after'], res.body.error.code]).toEqual([429, '2', 'throttled']);
    expect([retry.status, retry.body.awsMessageId]).toEqual([202, 'after-429']);
    expect(seen).toHaveLength(SEND_ATTEMPTS_WHEN_THROTTLED + 1);
  });

  it.each([
    ['UnrecognizedClientException', 403, 500, 'upstream_unauthenticated'],
    ['ExpiredTokenException', 403, 500, 'upstream_unauthenticated'],
    ['AccessDeniedException', 403, 500, 'upstream_forbidden'],
    ['ResourceNotFoundException', 404, 404, 'unknown_phone_number'],
  ])('answers %s (HTTP %i) after one call with %i %s, keeps nothing, and a retry with the key sends', async (name, http, status, code) => {
    // Prepare: AWS refuses the request before looking at it, then (fixed by an operator) accepts it
    const api = await sendApi();
    replies = [serverError(name, http), { status: 200, body: { messageId: 'after-fix' } }];
    const body = outboundFixture('template');
    // Act
    const res = await call(api, 'POST', '/v1/messages', { body, headers: { 'Idempotency-Key': `order-${name}` } });
    const callsFirst = seen.length;
    const retry = await call(api, 'POST', '/v1/messages', { body, headers: { 'Idempotency-Key': `order-${name}` } });
    // Assess
    expect([res.status, res.body.error.code]).toEqual([status, code]);
    expect(callsFirst).toBe(1);
    expect([retry.status, retry.body.awsMessageId, retry.headers['idempotent-replayed']]).toEqual([202, 'after-fix', undefined]);
  });
});
