/**
 * The socialmessaging gateway against a loopback HTTP server speaking AWS's wire format: what goes
 * on the wire, and the SDK's own retries before a throttled send becomes a 429.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbOutbound } from '../../shared/adapters/dynamodb-outbound.ts';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import {
  SOCIALMESSAGING_MAX_ATTEMPTS,
  socialMessagingClient,
  SocialMessagingGateway,
} from '../../shared/adapters/socialmessaging-gateway.ts';
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
type Reply = { status: number; headers?: Record<string, string>; body: unknown };

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
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    res.end(JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
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

const gateway = () =>
  new SocialMessagingGateway(
    socialMessagingClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
  );

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

  it('retries a throttled send itself and succeeds on the last attempt', async () => {
    replies = [throttled(), throttled(), { status: 200, body: { messageId: 'third-time' } }];
    const out = await gateway().sendMessage({ phoneNumberId: PN, message: { messaging_product: 'whatsapp' }, metaApiVersion: 'v24.0' });
    expect(out.awsMessageId).toBe('third-time');
    expect(seen).toHaveLength(SOCIALMESSAGING_MAX_ATTEMPTS);
  });

  it('does not retry a validation error', async () => {
    replies = [{ status: 400, headers: { 'x-amzn-errortype': 'ValidationException' }, body: { message: 'bad' } }];
    await expect(gateway().sendMessage({ phoneNumberId: PN, message: {}, metaApiVersion: 'v24.0' })).rejects.toMatchObject({
      name: 'ValidationException',
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
    });
  });
});

describe('POST /v1/messages when AWS keeps throttling', () => {
  it("answers 429 with Retry-After after the SDK's own retries, and a retry with the key may send later", async () => {
    // Prepare
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
    const api = makeHandler({ queries, now: Date.now, sender: () => sender });
    replies = [throttled(), throttled(), throttled()];
    const body = outboundFixture('template');
    // Act
    const res = await call(api, 'POST', '/v1/messages', { body, headers: { 'Idempotency-Key': 'order-1' } });
    replies = [{ status: 200, body: { messageId: 'later' } }];
    const retry = await call(api, 'POST', '/v1/messages', { body, headers: { 'Idempotency-Key': 'order-1' } });
    // Assess
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body.error.code).toBe('throttled');
    expect(retry.status).toBe(202);
    expect(retry.body.awsMessageId).toBe('later');
    expect(seen).toHaveLength(SOCIALMESSAGING_MAX_ATTEMPTS + 1);
  });
});
