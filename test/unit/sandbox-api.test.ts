import { PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import {
  DeleteWhatsAppMessageMediaCommand,
  GetLinkedWhatsAppBusinessAccountCommand,
  GetLinkedWhatsAppBusinessAccountPhoneNumberCommand,
  GetWhatsAppMessageMediaCommand,
  ListLinkedWhatsAppBusinessAccountsCommand,
  PostWhatsAppMessageMediaCommand,
  SendWhatsAppMessageCommand,
} from '@aws-sdk/client-socialmessaging';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleMedia } from '../../local/sandbox/media-samples.ts';
import {
  ACCOUNT_ID,
  REGION,
  blob,
  drain,
  startSandbox,
  statusesOf,
  useSandboxSuite,
  whatsAppStatusesFor,
  whatsAppStatusesOf,
} from '../sandbox/harness.ts';
import type { TestSandbox } from '../sandbox/harness.ts';

const BASE_MS = Date.parse('2026-03-01T10:00:00.000Z');
const SHEENA = '16505551234';
const ALEX = '14155550100';
const NOT_ON_WHATSAPP = '15550109999';
const DAY_MS = 24 * 60 * 60 * 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DROPPED = 'Message retries exhausted, dropping message.';

const suite = useSandboxSuite(BASE_MS, {
  // Keeps Meta's per-second and pair rate limits of one test out of the next.
  afterEachTest: (sb) => sb.call('POST', '/sandbox/clock', { advanceMs: 10_000 }),
});

const number = () => suite.sb.config.phoneNumbers[0]!;

async function openWindow(from: string, t: TestSandbox = suite.sb) {
  const res = await t.call('POST', '/sandbox/inbound', { from, to: t.config.phoneNumbers[0]!.phoneNumberId, type: 'text', text: { body: 'hello' } });
  expect(res.status).toBe(201);
  await drain(suite.emu);
  return res.body.wamid as string;
}

function send(message: Record<string, unknown>, t: TestSandbox = suite.sb, originationPhoneNumberId = t.config.phoneNumbers[0]!.phoneNumberId) {
  return t.sm.send(
    new SendWhatsAppMessageCommand({ originationPhoneNumberId, message: blob({ messaging_product: 'whatsapp', ...message }), metaApiVersion: 'v20.0' }),
  );
}

const text = (to: string, body = 'hi', extra: Record<string, unknown> = {}) => ({ recipient_type: 'individual', to: `+${to}`, type: 'text', text: { body }, ...extra });

describe('SendWhatsAppMessage', () => {
  it('answers an AWS message id and publishes sent, delivered and read with the wamid, callback data and pricing', async () => {
    // Prepare
    await openWindow(SHEENA);

    // Act
    const { messageId } = await send(text(SHEENA, 'hi', { biz_opaque_callback_data: 'msg_0123|mine' }));
    const events = await drain(suite.emu, suite.sb.sandbox);

    // Assess
    expect(messageId).toMatch(UUID);
    const statuses = whatsAppStatusesOf(events);
    expect(statuses.map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
    for (const e of events) {
      expect(e.envelope.messageId).toBe(messageId);
      expect(e.entry.id).toBe(number().metaWabaId);
      expect(e.value.metadata.phone_number_id).toBe(number().metaPhoneNumberId);
      expect(e.value).not.toHaveProperty('messages');
    }
    const wamid = statuses[0]!.id;
    expect(wamid).toMatch(/^wamid\./);
    for (const s of statuses) {
      expect(s).toMatchObject({ id: wamid, recipient_id: SHEENA, biz_opaque_callback_data: 'msg_0123|mine' });
      expect(s.timestamp).toMatch(/^\d+$/);
    }
    expect(statuses[0]!.pricing).toEqual({ billable: false, pricing_model: 'PMP', type: 'free_customer_service', category: 'service' });
    expect(statuses[0]!.conversation).toMatchObject({ origin: { type: 'service' }, expiration_timestamp: expect.stringMatching(/^\d+$/) });
    expect(statuses[2]).not.toHaveProperty('pricing');
    expect(statuses[2]).not.toHaveProperty('errors');

    const outbox = (await suite.sb.call('GET', `/sandbox/outbox?to=${SHEENA}`)).body;
    expect(outbox.at(-1)).toMatchObject({ awsMessageId: messageId, wamid, to: SHEENA, status: 'read', message: text(SHEENA, 'hi', { messaging_product: 'whatsapp', biz_opaque_callback_data: 'msg_0123|mine' }) });
    expect(outbox.at(-1).statuses).toEqual(['accepted', 'sent', 'delivered', 'read']);
  });

  it("publishes AWS's own accepted status first: the wamid, the AWS message id, no callback data", async () => {
    // Prepare
    await openWindow(SHEENA);

    // Act
    const { messageId } = await send(text(SHEENA, 'hi', { biz_opaque_callback_data: 'msg_0123|mine' }));
    const events = await drain(suite.emu, suite.sb.sandbox);

    // Assess
    const [first, ...rest] = events;
    const accepted = first!.value.statuses[0];
    expect(first!.envelope.messageId).toBe(messageId);
    expect(first!.value.statuses).toHaveLength(1);
    expect(accepted).toEqual({ id: rest[0]!.value.statuses[0].id, status: 'accepted', timestamp: expect.stringMatching(/^\d+$/), recipient_id: SHEENA });
    expect(rest.map((e) => e.value.statuses[0].status)).toEqual(['sent', 'delivered', 'read']);
  });

  it('accepts the phone number ARN as originationPhoneNumberId', async () => {
    // Prepare
    await openWindow(ALEX);
    const arn = `arn:aws:social-messaging:${REGION}:${ACCOUNT_ID}:phone-number-id/${number().phoneNumberId.slice(16)}`;

    // Act
    const { messageId } = await send(text(ALEX), suite.sb, arn);
    const events = await drain(suite.emu, suite.sb.sandbox);

    // Assess
    expect(events.map((e) => e.envelope.messageId)).toEqual([messageId, messageId, messageId, messageId]);
  });

  it('fails a text with 131047 and no sent status when the user never wrote to that number', async () => {
    // Act
    const { messageId } = await send(text(ALEX), suite.sb, suite.sb.config.phoneNumbers[1]!.phoneNumberId);
    const events = await drain(suite.emu, suite.sb.sandbox);
    const statuses = whatsAppStatusesOf(events);

    // Assess
    expect(statusesOf(events).map((s) => s.status)).toEqual(['accepted', 'failed']);
    expect(statuses).toHaveLength(1);
    expect(statuses[0]).toMatchObject({ status: 'failed', recipient_id: ALEX });
    expect(statuses[0]!.errors).toEqual([
      {
        code: 131047,
        title: 'Re-engagement message',
        message: 'Re-engagement message',
        error_data: { details: expect.stringContaining('24 hours') },
        href: expect.stringContaining('error-codes'),
      },
    ]);
    const outbox = (await suite.sb.call('GET', `/sandbox/outbox?to=${ALEX}`)).body;
    expect(outbox.find((e: { awsMessageId: string }) => e.awsMessageId === messageId).status).toBe('failed');
  });

  it('closes the window 24 hours after the last inbound message but still delivers a template', async () => {
    // Prepare
    await openWindow(SHEENA);
    await suite.sb.call('POST', '/sandbox/clock', { advanceMs: DAY_MS });
    const template = { to: SHEENA, type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } };

    // Act
    const late = await send(text(SHEENA, 'too late'));
    const templated = await send(template);
    const events = await drain(suite.emu, suite.sb.sandbox);

    // Assess
    const [failed, ...rest] = whatsAppStatusesFor(events, late.messageId);
    const delivered = whatsAppStatusesFor(events, templated.messageId);
    expect(rest).toEqual([]);
    expect(failed).toMatchObject({ status: 'failed', errors: [expect.objectContaining({ code: 131047 })] });
    expect(delivered.map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
    expect(delivered[0]!.pricing).toEqual({ billable: true, pricing_model: 'PMP', type: 'regular', category: 'utility' });
  });

  it('fails with 131026 for a user configured not on WhatsApp and for a number in the not-on-WhatsApp range, and delivers to any other number', async () => {
    // Act
    const template = { type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } };
    const configured = await send({ to: NOT_ON_WHATSAPP, ...template });
    const inRange = await send({ to: '+1 555 010 9123', ...template });
    const unknown = await send({ to: '+44 7700 900999', ...template });
    const events = await drain(suite.emu, suite.sb.sandbox);

    // Assess
    const summary = (id: string | undefined) => whatsAppStatusesFor(events, id).map((s) => [s.status, s.recipient_id, s.errors?.[0]?.code]);
    expect(summary(configured.messageId)).toEqual([['failed', NOT_ON_WHATSAPP, 131026]]);
    expect(summary(inRange.messageId)).toEqual([['failed', '15550109123', 131026]]);
    expect(summary(unknown.messageId).map(([status]) => status)).toEqual(['sent', 'delivered', 'read']);
  });

  it('publishes only sent for a reaction', async () => {
    // Prepare
    const inboundWamid = await openWindow(SHEENA);

    // Act
    await send({ to: SHEENA, type: 'reaction', reaction: { message_id: inboundWamid, emoji: '👍' } });
    const statuses = whatsAppStatusesOf(await drain(suite.emu, suite.sb.sandbox));

    // Assess
    expect(statuses.map((s) => s.status)).toEqual(['sent']);
  });

  it('records a mark-as-read request without publishing any status', async () => {
    // Prepare
    const inboundWamid = await openWindow(ALEX);

    // Act
    const { messageId } = await send({ status: 'read', message_id: inboundWamid, typing_indicator: { type: 'text' } });
    const events = await drain(suite.emu, suite.sb.sandbox);

    // Assess
    expect(messageId).toMatch(UUID);
    expect(events).toEqual([]);
    const outbox = (await suite.sb.call('GET', `/sandbox/outbox?to=${ALEX}`)).body;
    expect(outbox.at(-1)).toMatchObject({ awsMessageId: messageId, wamid: null, to: ALEX, kind: 'mark_read', status: 'accepted' });
    expect(outbox.at(-1).message.message_id).toBe(inboundWamid);
  });

  it('delivers to a BSUID recipient and reports it as recipient_id', async () => {
    // Prepare
    await openWindow(SHEENA);

    // Act
    await send({ recipient: 'US.13491208655302741918', type: 'text', text: { body: 'by user id' } });
    const statuses = whatsAppStatusesOf(await drain(suite.emu, suite.sb.sandbox));

    // Assess
    expect(statuses.map((s) => [s.status, s.recipient_id])).toEqual([
      ['sent', 'US.13491208655302741918'],
      ['delivered', 'US.13491208655302741918'],
      ['read', 'US.13491208655302741918'],
    ]);
  });

  it("keeps a message's statuses in order when the event loop was blocked past several of their times", async () => {
    // Prepare: Node runs the due timers of one delay before those of another, so a list of
    // 200 ms timers kept busy here is drained before the 30 ms list of the message's `sent`.
    const slow = await startSandbox(suite.emu, { delays: { sent: 30, delivered: 200, read: 400 } });
    await openWindow(SHEENA, slow);
    const filler = setInterval(() => setTimeout(() => {}, 200), 1);
    await new Promise((r) => setTimeout(r, 220));

    // Act
    const { messageId } = await send(text(SHEENA), slow);
    const until = performance.now() + 260;
    while (performance.now() < until); // blocks the loop past the times of sent and delivered
    clearInterval(filler);
    const events = await drain(suite.emu, slow.sandbox);
    await slow.close();

    // Assess
    const entry = slow.sandbox.state.outbox.find((e) => e.awsMessageId === messageId)!;
    expect(entry.statuses).toEqual(['accepted', 'sent', 'delivered', 'read']);
    expect(whatsAppStatusesFor(events, messageId).map((s) => s.status).sort()).toEqual(['delivered', 'read', 'sent']);
  });

  it('publishes nothing more after stop(), and idle() then resolves', async () => {
    // Prepare
    const slow = await startSandbox(suite.emu, { delays: { sent: 5_000, delivered: 6_000, read: 7_000 } });
    await openWindow(SHEENA, slow);
    const { messageId } = await send(text(SHEENA), slow);
    await new Promise((r) => setTimeout(r, 100)); // `accepted` is due at once

    // Act
    slow.sandbox.stop();
    await slow.sandbox.idle();
    const events = await drain(suite.emu);
    await slow.close();

    // Assess
    expect(statusesOf(events).map((s) => s.status)).toEqual(['accepted']);
    expect(slow.sandbox.state.outbox.find((e) => e.awsMessageId === messageId)).toMatchObject({ status: 'accepted', statuses: ['accepted'] });
  });

  it('lists the outbox of one recipient oldest first', async () => {
    // Prepare
    await openWindow(ALEX);

    // Act
    const first = await send(text(ALEX, 'first'));
    const second = await send(text(ALEX, 'second'));
    await suite.sb.sandbox.idle();
    const all = (await suite.sb.call('GET', `/sandbox/outbox?to=%2B${ALEX}`)).body as { awsMessageId: string; to: string }[];

    // Assess
    const ids = all.map((e) => e.awsMessageId);
    expect(ids.indexOf(first.messageId!)).toBeLessThan(ids.indexOf(second.messageId!));
    expect(new Set(all.map((e) => e.to))).toEqual(new Set([ALEX]));
  });
});

describe('socialmessaging errors, as the SDK raises them', () => {
  const failure = (p: Promise<unknown>) => p.then(() => undefined, (err: { name: string; $metadata?: { httpStatusCode?: number } }) => err);

  it('raises ValidationException for a bad metaApiVersion, a message that is not JSON and a missing messaging_product', async () => {
    // Prepare
    const before = suite.sb.sandbox.state.outbox.length;

    // Act
    const badVersion = await failure(
      suite.sb.sm.send(new SendWhatsAppMessageCommand({ originationPhoneNumberId: number().phoneNumberId, message: blob(text(SHEENA)), metaApiVersion: '20' })),
    );
    const notJson = await failure(
      suite.sb.sm.send(new SendWhatsAppMessageCommand({ originationPhoneNumberId: number().phoneNumberId, message: new TextEncoder().encode('{nope'), metaApiVersion: 'v20.0' })),
    );
    const noProduct = await failure(
      suite.sb.sm.send(new SendWhatsAppMessageCommand({ originationPhoneNumberId: number().phoneNumberId, message: blob(text(SHEENA)), metaApiVersion: 'v20.0' })),
    );

    // Assess
    expect([badVersion?.name, notJson?.name, noProduct?.name]).toEqual(['ValidationException', 'ValidationException', 'ValidationException']);
    expect(badVersion?.$metadata?.httpStatusCode).toBe(400);
    expect(suite.sb.sandbox.state.outbox.length).toBe(before);
  });

  it('raises ResourceNotFoundException for an unknown phone number id', async () => {
    const err = await failure(send(text(SHEENA), suite.sb, 'phone-number-id-00000000000000000000000000000000'));
    expect(err?.name).toBe('ResourceNotFoundException');
    expect(err?.$metadata?.httpStatusCode).toBe(404);
  });

  it('raises ThrottledRequestException (429) when chaos throttles every call', async () => {
    // Prepare
    await suite.sb.call('POST', '/sandbox/chaos', { throttleRate: 1 });

    // Act
    const err = await failure(send(text(SHEENA)));

    // Assess
    expect(err?.name).toBe('ThrottledRequestException');
    expect(err?.$metadata?.httpStatusCode).toBe(429);
  });

  it('raises DependencyException when chaos fails every send, and records nothing', async () => {
    // Prepare
    await suite.sb.call('POST', '/sandbox/chaos', { failRate: 1 });
    const before = suite.sb.sandbox.state.outbox.length;

    // Act
    const err = await failure(send(text(SHEENA)));

    // Assess
    expect(err?.name).toBe('DependencyException');
    expect(err?.$metadata?.httpStatusCode).toBe(502);
    expect(suite.sb.sandbox.state.outbox.length).toBe(before);
  });

  it('raises InvalidParametersException for an upload with both or neither source', async () => {
    // Act
    const neither = await failure(suite.sb.sm.send(new PostWhatsAppMessageMediaCommand({ originationPhoneNumberId: number().phoneNumberId })));
    const both = await failure(
      suite.sb.sm.send(
        new PostWhatsAppMessageMediaCommand({
          originationPhoneNumberId: number().phoneNumberId,
          sourceS3File: { bucketName: suite.emu.bucket, key: 'a.jpg' },
          sourceS3PresignedUrl: { url: 'https://bucket.s3.amazonaws.com/a.jpg', headers: { 'Content-Type': 'image/jpeg' } },
        }),
      ),
    );

    // Assess
    expect([neither?.name, both?.name]).toEqual(['InvalidParametersException', 'InvalidParametersException']);
  });

  it('raises AccessDeniedByMetaException for media of a number in another WABA', async () => {
    // Prepare: a sandbox whose two numbers belong to two WABAs
    const defaults = suite.sb.config.phoneNumbers;
    const other = await startSandbox(suite.emu, {
      config: {
        phoneNumbers: [
          defaults[0],
          { ...defaults[1], wabaId: 'waba-0123456789abcdef0123456789abcdef', metaWabaId: '555000111222333' },
        ],
      },
    });
    const res = await other.call('POST', '/sandbox/inbound', { from: SHEENA, to: defaults[0]!.phoneNumberId, type: 'image' });
    await drain(suite.emu);

    // Act
    const err = await failure(
      other.sm.send(new GetWhatsAppMessageMediaCommand({ mediaId: res.body.mediaId, originationPhoneNumberId: defaults[1]!.phoneNumberId, metadataOnly: true })),
    );
    await other.close();

    // Assess
    expect(err?.name).toBe('AccessDeniedByMetaException');
    expect(err?.$metadata?.httpStatusCode).toBe(403);
  });
});

describe("Meta's rate limits", () => {
  let rated: TestSandbox;
  const frozen = BASE_MS;
  const users = ['447700900001', '447700900002', '447700900003', '447700900004'];

  beforeAll(async () => {
    rated = await startSandbox(suite.emu, { clock: () => frozen, config: { limits: { messagesPerSecond: 3, pairRateBurst: 2 } } });
    for (const u of users) await openWindow(u, rated);
  });

  afterAll(async () => {
    await rated.close();
  });

  it('fails the message over the per-second throughput of a number with 130429', async () => {
    // Act
    for (const u of users) await send(text(u), rated);
    const statuses = statusesOf(await drain(suite.emu, rated.sandbox));

    // Assess
    const failed = statuses.filter((s) => s.status === 'failed');
    expect(failed.map((s) => [s.recipient_id, s.errors[0].code])).toEqual([[users[3], 130429]]);
    // The outbox keeps the code of the failure (a bench counts refusals from it), and none for the others.
    const outbox = (await rated.call('GET', '/sandbox/outbox')).body as { to: string; errorCodes?: number[] }[];
    expect(outbox.filter((e) => e.errorCodes).map((e) => [e.to, e.errorCodes])).toEqual([[users[3], [130429]]]);
    // SQS does not keep the order between messages: compare as sets.
    expect(new Set(statuses.filter((s) => s.status === 'sent').map((s) => s.recipient_id))).toEqual(new Set(users.slice(0, 3)));
  });

  it('fails the message over the burst to one user within 6 seconds with 131056', async () => {
    // Prepare
    await rated.call('POST', '/sandbox/clock', { advanceMs: 7000 });

    // Act
    await send(text(users[0]!, 'one'), rated);
    await send(text(users[0]!, 'two'), rated);
    await send(text(users[0]!, 'three'), rated);
    const statuses = statusesOf(await drain(suite.emu, rated.sandbox));

    // Assess
    expect(statuses.filter((s) => s.status === 'failed').map((s) => s.errors[0].code)).toEqual([131056]);
    expect(statuses.filter((s) => s.status === 'sent')).toHaveLength(2);
  });
});

describe("Meta's pair rate and messaging limit", () => {
  const hello = (to: string) => ({ to: `+${to}`, type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } });
  let now = BASE_MS;
  let limited: TestSandbox;

  beforeAll(async () => {
    limited = await startSandbox(suite.emu, { clock: () => now, config: { limits: { messagesPerSecond: 1000, pairRateBurst: 3, messagingTier: 'TIER_50' } } });
  });
  afterAll(async () => {
    await limited.close();
  });

  it('lets a burst borrow ahead: after it, one message to that user per 6 seconds', async () => {
    // Prepare: a burst of 3 spends the bucket
    const user = '447700901000';
    await openWindow(user, limited);
    for (const body of ['a', 'b', 'c']) await send(text(user, body), limited);
    // Act: 7 s later, one token is back (not a whole new burst)
    now += 7000;
    await send(text(user, 'd'), limited);
    await send(text(user, 'e'), limited);
    const statuses = statusesOf(await drain(suite.emu, limited.sandbox)).filter((s) => s.recipient_id === user);

    // Assess
    expect(statuses.filter((s) => s.status === 'sent')).toHaveLength(4);
    expect(statuses.filter((s) => s.status === 'failed').map((s) => s.errors[0].code)).toEqual([131056]);
  });

  it('reaches at most the tier of unique users outside their window in 24 hours (131048), a user counted once', async () => {
    // Prepare: the business's first 50 unique users
    now += DAY_MS;
    const users = Array.from({ length: 51 }, (_, i) => `44770090${String(2000 + i)}`);
    for (const u of users.slice(0, 50)) await send(hello(u), limited);
    // Act: a 51st user, a user already counted, and the 51st again a day later
    await send(hello(users[50]!), limited);
    await send(hello(users[0]!), limited);
    const first = statusesOf(await drain(suite.emu, limited.sandbox));
    now += DAY_MS + 1;
    await send(hello(users[50]!), limited);
    const later = statusesOf(await drain(suite.emu, limited.sandbox));

    // Assess
    const failed = first.filter((s) => s.status === 'failed');
    expect(failed.map((s) => [s.recipient_id, s.errors[0].code])).toEqual([[users[50], 131048]]);
    expect(first.filter((s) => s.status === 'sent')).toHaveLength(51);
    expect(later.filter((s) => s.status === 'sent').map((s) => s.recipient_id)).toEqual([users[50]]);
  });

  it('changes the tier when Meta does: enforced from then on, and phone_number_quality_update sent for each number', async () => {
    // Prepare: the tier of 50 this sandbox started with, and the users it counts now
    const more = Array.from({ length: 3 }, (_, i) => `44770091${String(2000 + i)}`);
    const before = await limited.call('GET', '/sandbox/limits');

    // Act: a bad tier is refused; Meta raises the tier to 250, and three more users get a template
    const bad = await limited.call('POST', '/sandbox/limits', { messagingTier: 'TIER_3' });
    const raised = await limited.call('POST', '/sandbox/limits', { messagingTier: 'TIER_250' });
    const webhooks = (await drain(suite.emu, limited.sandbox)).filter((r) => r.entry.changes[0]!.field === 'phone_number_quality_update');
    for (const u of more) await send(hello(u), limited);
    const statuses = statusesOf(await drain(suite.emu, limited.sandbox));
    const shown = await limited.call('GET', '/sandbox/limits');

    // Assess
    expect(before.body).toMatchObject({ messagesPerSecond: 1000, messagingTier: 'TIER_50', pairRateBurst: 3 });
    expect(bad.status).toBe(400);
    expect(raised).toMatchObject({ status: 200, body: { messagingTier: 'TIER_250' } });
    expect(webhooks.map((r) => r.entry.id)).toEqual(limited.config.phoneNumbers.map((p) => p.metaWabaId));
    expect(webhooks.map((r) => r.value.display_phone_number)).toEqual(limited.config.phoneNumbers.map((p) => p.displayPhoneNumber));
    for (const r of webhooks) {
      expect(r.value).toEqual({ display_phone_number: r.value.display_phone_number, event: 'UPGRADE', old_limit: 'TIER_50', current_limit: 'TIER_250', max_daily_conversations_per_business: 'TIER_250' });
      expect(r.envelope.context.MetaWabaIds[0]!.arn).toMatch(/:waba\/[0-9a-f]{32}$/);
    }
    expect(statuses.filter((s) => s.status === 'failed')).toEqual([]);
    expect(statuses.filter((s) => s.status === 'sent').map((s) => s.recipient_id).sort()).toEqual(more);
    expect(shown.body).toMatchObject({ messagingTier: 'TIER_250', uniqueUsersLast24h: before.body.uniqueUsersLast24h + 3 });
  });
});

describe('chaos', () => {
  it('publishes the status events of a message in a shuffled order with their true timestamps', async () => {
    // Prepare
    await openWindow(SHEENA);
    await suite.sb.call('POST', '/sandbox/chaos', { reorder: true, seed: 42 });

    // Act
    const { messageId } = await send(text(SHEENA));
    const statuses = statusesOf(await drain(suite.emu, suite.sb.sandbox));

    // Assess
    const order = statuses.map((s) => s.status);
    expect([...order].sort()).toEqual(['accepted', 'delivered', 'read', 'sent']);
    expect(order).not.toEqual(['accepted', 'sent', 'delivered', 'read']);
    const entry = suite.sb.sandbox.state.outbox.find((e) => e.awsMessageId === messageId)!;
    expect(entry.statuses).toEqual(order);
    expect(entry.status).toBe(order.at(-1));
  });

  it('publishes every status envelope twice when duplicateRate is 1', async () => {
    // Prepare
    await openWindow(ALEX);
    await suite.sb.call('POST', '/sandbox/chaos', { duplicateRate: 1 });

    // Act
    await send(text(ALEX));
    const events = await drain(suite.emu, suite.sb.sandbox);

    // Assess
    expect(events).toHaveLength(8);
    const messages = events.map((e) => e.sns.Message);
    expect(new Set(messages).size).toBe(4);
  });

  it('adds latency to API answers and resets with DELETE', async () => {
    // Prepare
    await suite.sb.call('POST', '/sandbox/chaos', { delayMs: 150 });

    // Act
    const t0 = performance.now();
    await suite.sb.sm.send(new GetLinkedWhatsAppBusinessAccountPhoneNumberCommand({ id: number().phoneNumberId }));
    const slow = performance.now() - t0;
    const reset = await suite.sb.call('DELETE', '/sandbox/chaos');

    // Assess
    expect(slow).toBeGreaterThanOrEqual(140);
    expect(reset.body).toEqual({ duplicateRate: 0, reorder: false, delayMs: 0, failRate: 0, throttleRate: 0, dropRate: 0 });
  });

  it('refuses settings out of range', async () => {
    const res = await suite.sb.call('POST', '/sandbox/chaos', { failRate: 2 });
    const drop = await suite.sb.call('POST', '/sandbox/chaos', { dropRate: -0.1 });
    expect([res.status, drop.status]).toEqual([400, 400]);
    expect(res.body.error.code).toBe('invalid_request');
  });

  it('with dropRate 1, answers a message id and publishes accepted, then AWS dropping the message, and nothing from WhatsApp', async () => {
    // Prepare
    await openWindow(SHEENA);
    await suite.sb.call('POST', '/sandbox/chaos', { dropRate: 1 });

    // Act
    const { messageId } = await send(text(SHEENA, 'lost', { biz_opaque_callback_data: 'msg_0123|mine' }));
    const events = await drain(suite.emu, suite.sb.sandbox);

    // Assess
    expect(messageId).toMatch(UUID);
    const statuses = statusesOf(events);
    expect(statuses.map((s) => s.status)).toEqual(['accepted', DROPPED]);
    expect(events.map((e) => e.envelope.messageId)).toEqual([messageId, messageId]);
    const wamid = statuses[0]!.id;
    expect(wamid).toMatch(/^wamid\./);
    for (const s of statuses) {
      expect(s).toMatchObject({ id: wamid, recipient_id: SHEENA });
      expect(s).not.toHaveProperty('biz_opaque_callback_data');
      expect(s).not.toHaveProperty('errors');
    }
    const entry = (await suite.sb.call('GET', `/sandbox/outbox?to=${SHEENA}`)).body.find((e: { awsMessageId: string }) => e.awsMessageId === messageId);
    expect(entry).toMatchObject({ wamid, status: DROPPED, statuses: ['accepted', DROPPED] });
  });

  it('with dropRate 1, drops even a message WhatsApp would refuse, since WhatsApp never sees it', async () => {
    // Prepare
    await suite.sb.call('POST', '/sandbox/chaos', { dropRate: 1 });

    // Act
    await send({ to: NOT_ON_WHATSAPP, type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } });
    const statuses = statusesOf(await drain(suite.emu, suite.sb.sandbox));

    // Assess
    expect(statuses.map((s) => s.status)).toEqual(['accepted', DROPPED]);
  });

  it('drops some sends and delivers the others with dropRate 0.5, the same ones for the same seed', async () => {
    // Prepare
    await openWindow(ALEX);
    const run = async () => {
      await suite.sb.call('POST', '/sandbox/chaos', { dropRate: 0.5, seed: 3 });
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) ids.push((await send(text(ALEX, `n${i}`))).messageId!);
      await suite.sb.sandbox.idle();
      await suite.sb.call('POST', '/sandbox/clock', { advanceMs: 10_000 });
      const outbox = suite.sb.sandbox.state.outbox;
      return ids.map((id) => outbox.find((e) => e.awsMessageId === id)!.statuses);
    };

    // Act
    const first = await run();
    const second = await run();

    // Assess
    expect(first).toEqual(second);
    expect(new Set(first.map((statuses) => statuses.join()))).toEqual(new Set(['accepted,sent,delivered,read', `accepted,${DROPPED}`]));
  });

  it('makes the same decisions for the same seed', async () => {
    // Prepare
    const decide = async () => {
      await suite.sb.call('POST', '/sandbox/chaos', { throttleRate: 0.5, seed: 9 });
      const names: string[] = [];
      for (let i = 0; i < 8; i++) {
        const out = await suite.sb.sm.send(new GetLinkedWhatsAppBusinessAccountPhoneNumberCommand({ id: number().phoneNumberId })).then(
          () => 'ok',
          (err: Error) => err.name,
        );
        names.push(out);
      }
      return names;
    };

    // Act
    const a = await decide();
    const b = await decide();

    // Assess
    expect(a).toEqual(b);
    expect(new Set(a)).toEqual(new Set(['ok', 'ThrottledRequestException']));
  });
});

describe('media upload and delete', () => {
  async function putObject(key: string, bytes: Buffer, contentType: string) {
    await suite.emu.s3.send(new PutObjectCommand({ Bucket: suite.emu.bucket, Key: key, Body: bytes, ContentType: contentType }));
  }
  const post = (key: string) =>
    suite.sb.sm.send(new PostWhatsAppMessageMediaCommand({ originationPhoneNumberId: number().phoneNumberId, sourceS3File: { bucketName: suite.emu.bucket, key } }));

  it('registers a valid upload from S3 and gives the same bytes back through GetWhatsAppMessageMedia', async () => {
    // Prepare
    const jpeg = sampleMedia('image').bytes;
    await putObject('uploads/photo.jpg', jpeg, 'image/jpeg');

    // Act
    const { mediaId } = await post('uploads/photo.jpg');
    const got = await suite.sb.sm.send(
      new GetWhatsAppMessageMediaCommand({ mediaId, originationPhoneNumberId: number().phoneNumberId, destinationS3File: { bucketName: suite.emu.bucket, key: 'copies/' } }),
    );
    const copy = await suite.emu.s3.send(new GetObjectCommand({ Bucket: suite.emu.bucket, Key: `copies/${mediaId}.jpeg` }));

    // Assess
    expect(mediaId).toMatch(/^[0-9]+$/);
    expect(got).toMatchObject({ mimeType: 'image/jpeg', fileSize: jpeg.length });
    expect(Buffer.from(await copy.Body!.transformToByteArray()).equals(jpeg)).toBe(true);
  });

  it('refuses, as Meta does with 131053, a mismatched type, an unsupported type and an oversize sticker', async () => {
    // Prepare
    await putObject('uploads/fake.png', sampleMedia('image').bytes, 'image/png');
    await putObject('uploads/anim.gif', Buffer.from('GIF89a...'), 'image/gif');
    const bigSticker = Buffer.concat([sampleMedia('sticker').bytes, Buffer.alloc(120 * 1024)]);
    await putObject('uploads/big.webp', bigSticker, 'image/webp');

    // Act
    const errors = await Promise.all(['uploads/fake.png', 'uploads/anim.gif', 'uploads/big.webp'].map((k) => post(k).catch((e: Error) => e)));

    // Assess
    for (const err of errors) {
      expect((err as Error).name).toBe('InvalidParametersException');
      expect((err as Error).message).toContain('131053');
    }
    expect((errors[0] as Error).message).toMatch(/does not match/);
    expect((errors[1] as Error).message).toMatch(/not supported/);
    expect((errors[2] as Error).message).toMatch(/at most/);
  });

  it('reads an upload from a presigned URL and writes a download to one', async () => {
    // Prepare
    const pdf = sampleMedia('document').bytes;
    await putObject('uploads/presigned.pdf', pdf, 'application/pdf');
    const source = await getSignedUrl(suite.emu.s3, new GetObjectCommand({ Bucket: suite.emu.bucket, Key: 'uploads/presigned.pdf' }), { expiresIn: 300 });
    const target = await getSignedUrl(suite.emu.s3, new PutObjectCommand({ Bucket: suite.emu.bucket, Key: 'presigned/out.pdf', ContentType: 'application/pdf' }), { expiresIn: 300 });

    // Act
    const { mediaId } = await suite.sb.sm.send(
      new PostWhatsAppMessageMediaCommand({
        originationPhoneNumberId: number().phoneNumberId,
        sourceS3PresignedUrl: { url: source, headers: { 'Content-Type': 'application/pdf' } },
      }),
    );
    await suite.sb.sm.send(
      new GetWhatsAppMessageMediaCommand({
        mediaId: mediaId!,
        originationPhoneNumberId: number().phoneNumberId,
        destinationS3PresignedUrl: { url: target, headers: { 'Content-Type': 'application/pdf' } },
      }),
    );
    const written = await suite.emu.s3.send(new GetObjectCommand({ Bucket: suite.emu.bucket, Key: 'presigned/out.pdf' }));
    const elsewhere = await suite.sb.sm
      .send(
        new PostWhatsAppMessageMediaCommand({
          originationPhoneNumberId: number().phoneNumberId,
          sourceS3PresignedUrl: { url: 'https://example.com/file.pdf', headers: { 'Content-Type': 'application/pdf' } },
        }),
      )
      .catch((e: Error) => e);

    // Assess
    expect(Buffer.from(await written.Body!.transformToByteArray()).equals(pdf)).toBe(true);
    expect((elsewhere as Error).name).toBe('ValidationException');
  });

  it('refuses an S3 object that does not exist', async () => {
    const err = await post('uploads/missing.pdf').catch((e: Error) => e);
    expect((err as Error).name).toBe('InvalidParametersException');
  });

  it('deletes a media id, after which it is not found', async () => {
    // Prepare
    await putObject('uploads/doc.pdf', sampleMedia('document').bytes, 'application/pdf');
    const { mediaId } = await post('uploads/doc.pdf');

    // Act
    const deleted = await suite.sb.sm.send(new DeleteWhatsAppMessageMediaCommand({ mediaId, originationPhoneNumberId: number().phoneNumberId }));
    const again = await suite.sb.sm
      .send(new GetWhatsAppMessageMediaCommand({ mediaId, originationPhoneNumberId: number().phoneNumberId, metadataOnly: true }))
      .catch((e: Error) => e);

    // Assess
    expect(deleted.success).toBe(true);
    expect((again as Error).name).toBe('ResourceNotFoundException');
  });
});

describe('linked accounts', () => {
  it('describes a phone number and its WABA', async () => {
    // Act
    const phone = await suite.sb.sm.send(new GetLinkedWhatsAppBusinessAccountPhoneNumberCommand({ id: number().phoneNumberId }));
    const waba = await suite.sb.sm.send(new GetLinkedWhatsAppBusinessAccountCommand({ id: number().wabaId }));

    // Assess
    expect(phone.linkedWhatsAppBusinessAccountId).toBe(number().wabaId);
    expect(phone.phoneNumber).toMatchObject({
      phoneNumberId: number().phoneNumberId,
      metaPhoneNumberId: number().metaPhoneNumberId,
      arn: `arn:aws:social-messaging:${REGION}:${ACCOUNT_ID}:phone-number-id/${number().phoneNumberId.slice(16)}`,
      phoneNumber: `+${number().displayPhoneNumber}`,
    });
    expect(waba.account).toMatchObject({ id: number().wabaId, wabaId: number().metaWabaId, registrationStatus: 'COMPLETE' });
    expect(waba.account!.linkDate).toBeInstanceOf(Date);
    expect(waba.account!.eventDestinations).toEqual([{ eventDestinationArn: suite.emu.topicArn }]);
    expect(waba.account!.phoneNumbers!.map((p) => p.phoneNumberId)).toEqual(suite.sb.config.phoneNumbers.map((p) => p.phoneNumberId));
  });

  it('pages the linked WABAs with nextToken', async () => {
    // Prepare
    const defaults = suite.sb.config.phoneNumbers;
    const two = await startSandbox(suite.emu, {
      config: { phoneNumbers: [defaults[0], { ...defaults[1], wabaId: 'waba-0123456789abcdef0123456789abcdef', metaWabaId: '555000111222333' }] },
    });

    // Act
    const first = await two.sm.send(new ListLinkedWhatsAppBusinessAccountsCommand({ maxResults: 1 }));
    const second = await two.sm.send(new ListLinkedWhatsAppBusinessAccountsCommand({ maxResults: 1, nextToken: first.nextToken }));
    const tooMany = await two.sm.send(new ListLinkedWhatsAppBusinessAccountsCommand({ maxResults: 101 })).catch((e: Error) => e);
    await two.close();

    // Assess
    expect(first.linkedAccounts!.map((a) => a.id)).toEqual([defaults[0]!.wabaId]);
    expect(second.linkedAccounts!.map((a) => a.id)).toEqual(['waba-0123456789abcdef0123456789abcdef']);
    expect(second.nextToken).toBeUndefined();
    expect((tooMany as Error).name).toBe('ValidationException');
  });

  it('lists the linked WABAs and answers ResourceNotFoundException for an unknown one', async () => {
    // Act
    const list = await suite.sb.sm.send(new ListLinkedWhatsAppBusinessAccountsCommand({ maxResults: 10 }));
    const err = await suite.sb.sm.send(new GetLinkedWhatsAppBusinessAccountCommand({ id: 'waba-ffffffffffffffffffffffffffffffff' })).catch((e: Error) => e);

    // Assess
    expect(list.linkedAccounts!.map((a) => a.id)).toEqual([number().wabaId]);
    expect(list.nextToken).toBeUndefined();
    expect((err as Error).name).toBe('ResourceNotFoundException');
  });
});
