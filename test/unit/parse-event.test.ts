import { describe, expect, it } from 'vitest';
import { messageIdFromWamid } from '../../shared/domain/ids.ts';
import { eventContentOf, parseEventBody } from '../../shared/domain/parse-event.ts';
import { entryOf, eumFixture, snsNotification, withEntry } from '../support/events.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const parse = (fixture: string) => parseEventBody(snsNotification(eumFixture(fixture)), NOW);

function ok(fixture: string) {
  const r = parse(fixture);
  if (r.kind !== 'ok') throw new Error(`expected ok, got ${r.reason}`);
  expect(r.problems).toEqual([]);
  return r.parsed;
}

function onlyMessage(fixture: string) {
  const parsed = ok(fixture);
  expect(parsed.messages).toHaveLength(1);
  return parsed.messages[0]!;
}

describe('parsing the EUM envelope', () => {
  it('reads a text message through the SNS notification, the envelope and the JSON-string entry', () => {
    const m = onlyMessage('inbound-text');
    expect(m).toMatchObject({
      type: 'text',
      content: { body: 'Does it come in another color?' },
      contact: { waId: '16505551234', name: 'Sheena Nelson' },
      contactId: '16505551234',
      business: {
        phoneNumberId: 'phone-number-id-5f811eaa4c81499384c496b909afbb1a',
        metaPhoneNumberId: '729155140271006',
        displayPhoneNumber: '15550783881',
        wabaId: '1393727385109399',
      },
      timestampMs: 1749416383000,
    });
    expect(m.id).toBe(messageIdFromWamid(m.wamid));
    expect(m.wamid).toMatch(/^wamid\./);
  });

  it("names the business number's AWS WABA from the envelope's context, on messages and statuses alike", () => {
    const message = onlyMessage('inbound-text');
    const status = ok('status-failed-131049').statuses[0]!;
    const env = eumFixture('inbound-text') as { context: Record<string, unknown> };
    const noWaba = parseEventBody(snsNotification({ ...env, context: { ...env.context, MetaWabaIds: [] } }), NOW);

    expect(message.business.awsWabaId).toBe('waba-a9a6973db0a54c8285f8d4e76df62869');
    expect(status.business.awsWabaId).toBe('waba-a9a6973db0a54c8285f8d4e76df62869');
    expect(noWaba.kind).toBe('ok');
    if (noWaba.kind === 'ok') expect(noWaba.parsed.messages[0]!.business).not.toHaveProperty('awsWabaId');
  });

  it('accepts the webhook entry as an object as well as a string', () => {
    const env = eumFixture('inbound-text');
    const asObject = { ...env, whatsAppWebhookEntry: entryOf(env) };
    const r = parseEventBody(snsNotification(asObject), NOW);
    expect(r.kind).toBe('ok');
    if (r.kind === 'ok') expect(r.parsed.messages[0]?.content).toEqual({ body: 'Does it come in another color?' });
  });

  it('accepts a raw-delivered envelope (no SNS notification around it)', () => {
    const r = parseEventBody(JSON.stringify(eumFixture('inbound-text')), NOW);
    expect(r.kind).toBe('ok');
  });

  it('reads every change, message and status of an entry, not only the first', () => {
    const parsed = ok('multi-change');
    expect(parsed.messages.map((m) => [m.contactId, (m.content as { body: string }).body, m.contact.name])).toEqual([
      ['16505551234', 'first', 'Sheena'],
      ['447700900123', 'second', 'Omar'],
    ]);
    expect(parsed.statuses.map((s) => [s.wamid, s.status])).toEqual([
      ['wamid.MULTI1', 'delivered'],
      ['wamid.MULTI2', 'read'],
    ]);
  });
});

describe('inbound message types', () => {
  it('keeps reply context, forwarded flags and ad referral', () => {
    expect(onlyMessage('inbound-text-reply').context).toEqual({
      forwarded: false,
      frequentlyForwarded: false,
      from: '15550783881',
      replyTo: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJBMzQzQjNGQTQ0QzQ2MkNCRTQA',
    });
    expect(onlyMessage('inbound-text-forwarded').context).toMatchObject({ forwarded: true, frequentlyForwarded: false });
    expect(onlyMessage('inbound-text-frequently-forwarded').context).toMatchObject({ frequentlyForwarded: true });
    expect(onlyMessage('inbound-text-product-context').context?.referredProduct).toEqual({
      catalogId: '194836987003835',
      productRetailerId: 'di9ozbzfi4',
    });
    expect(onlyMessage('inbound-text-ad-referral').referral).toMatchObject({ source_type: 'ad', ctwa_clid: expect.any(String) });
  });

  it.each([
    ['inbound-image', 'image', { id: '1003383421387256', mimeType: 'image/jpeg' }],
    ['inbound-video', 'video', { id: '1166846181421424', mimeType: 'video/mp4' }],
    ['inbound-audio-voice', 'audio', { id: '1908647269898587', mimeType: 'audio/ogg; codecs=opus' }],
    ['inbound-document', 'document', { id: '1073926058009787', filename: 'receipt.pdf' }],
    ['inbound-sticker', 'sticker', { id: '1226354525157541', mimeType: 'image/webp' }],
  ])('%s carries its media reference', (fixture, type, media) => {
    const m = onlyMessage(fixture);
    expect(m.type).toBe(type);
    expect(m.media).toMatchObject({ ...media, sha256: expect.any(String) });
  });

  it('keeps a voice note flag and a document caption verbatim', () => {
    expect(onlyMessage('inbound-audio-voice').content).toMatchObject({ voice: true });
    expect(onlyMessage('inbound-document').content).toMatchObject({ caption: 'my receipt' });
  });

  it('keeps location coordinates as numbers', () => {
    expect(onlyMessage('inbound-location').content).toMatchObject({ latitude: 37.44221496582, longitude: -122.16165924072 });
  });

  it('keeps shared contacts', () => {
    expect(onlyMessage('inbound-contacts').content).toEqual([
      expect.objectContaining({ name: expect.objectContaining({ formatted_name: 'Barbara J. Johnson' }) }),
    ]);
  });

  it('reads button and list replies', () => {
    expect(onlyMessage('inbound-interactive-button-reply').content).toEqual({
      type: 'button_reply',
      button_reply: { id: 'cancel-button', title: 'Cancel' },
    });
    expect(onlyMessage('inbound-interactive-list-reply').content).toMatchObject({
      type: 'list_reply',
      list_reply: { id: 'priority_express' },
    });
  });

  it('decodes a Flow response_json and keeps the original string', () => {
    const content = onlyMessage('inbound-interactive-nfm-reply').content as any;
    expect(content.nfm_reply.response).toEqual({ flow_token: 'FLOW-TOKEN-1', appointment_date: '2026-02-01', party_size: 2 });
    expect(typeof content.nfm_reply.response_json).toBe('string');
  });

  it('reads a template quick-reply button, a reaction and its removal, an order', () => {
    expect(onlyMessage('inbound-button').content).toEqual({ payload: 'Unsubscribe', text: 'Unsubscribe' });
    expect(onlyMessage('inbound-reaction').content).toMatchObject({ emoji: '👍' });
    expect(onlyMessage('inbound-reaction-removed').content).not.toHaveProperty('emoji');
    expect(onlyMessage('inbound-order').content).toMatchObject({ catalog_id: '194836987003835', product_items: [expect.any(Object)] });
  });

  it('reads a system message that has no contacts', () => {
    const m = onlyMessage('inbound-system');
    expect(m.type).toBe('system');
    expect(m.contactId).toBe('16505551234');
  });

  it('keeps an unsupported message with its errors', () => {
    const m = onlyMessage('inbound-unsupported');
    expect(m.errors).toEqual([expect.objectContaining({ code: 131051, details: 'Message type is currently not supported.' })]);
    expect(m.content).toEqual({ type: 'edit' });
  });

  it('keeps a type it does not know with its original type and object verbatim', () => {
    const m = onlyMessage('inbound-unknown-type');
    expect(m.type).toBe('poll_vote');
    expect(m.content).toEqual({ poll_id: 'p-1', options: ['Tuesday'] });
  });

  it('keys a username user by BSUID when there is no phone', () => {
    const m = onlyMessage('inbound-bsuid-only');
    expect(m.contactId).toBe('US.26852818834383302');
    expect(m.contact).toEqual({ userId: 'US.26852818834383302', name: 'Ana' });
  });
});

describe('statuses', () => {
  it('reads a sent status with pricing and conversation and the AWS message id', () => {
    const [s] = ok('status-sent').statuses;
    expect(s).toMatchObject({
      status: 'sent',
      recipientId: '16505551234',
      pricing: { pricing_model: 'PMP', category: 'marketing' },
      conversation: { id: '72b14d6bd5407799e66f64d1b338e567' },
      awsMessageId: '6d69f07a-c317-4278-9d5c-6a84078419ec',
      timestampMs: 1750030073000,
    });
  });

  it('splits our id from the caller value in biz_opaque_callback_data', () => {
    const [s] = ok('status-failed-131047').statuses;
    expect(s).toMatchObject({
      messageId: 'msg_0123456789abcdef0123456789abcdef',
      callbackData: 'order-77',
      errors: [expect.objectContaining({ code: 131047 })],
    });
  });

  it("reads a group message's statuses with the member each one is about", () => {
    const statuses = ok('status-group').statuses;
    const group = 'Y2FwaV9ncm91cDoxNTU1MDc4Mzg4MToxMjAzNjM0MDU5NzE0NTMxMjM=';
    expect(statuses.map((s) => [s.status, s.recipientId, s.participantId])).toEqual([
      ['sent', group, undefined],
      ['delivered', group, '16505551234'],
      ['delivered', group, '16505559876'],
      ['read', group, '16505551234'],
      ['failed', group, '16505550000'],
    ]);
    expect(statuses[2]).toMatchObject({ identityKeyHash: 'DF2lS5v2W6x=' });
    expect(statuses[0]).not.toHaveProperty('participantId');
  });

  it("normalises AWS's retries-exhausted status", () => {
    expect(ok('status-retries-exhausted-aws').statuses[0]?.status).toBe('retries_exhausted');
    expect(ok('status-accepted-aws').statuses[0]?.status).toBe('accepted');
  });
});

describe('other fields and value-level errors', () => {
  it.each([
    ['template-status-update', 'message_template_status_update'],
    ['flow-status-change', 'flows'],
    ['phone-number-quality-update', 'phone_number_quality_update'],
  ])('%s becomes an account event with its raw value', (fixture, field) => {
    const parsed = ok(fixture);
    expect(parsed.accountEvents).toHaveLength(1);
    expect(parsed.accountEvents[0]).toMatchObject({ field, wabaId: '1393727385109399', value: entryOf(eumFixture(fixture)).changes[0].value });
  });

  it('reads an account event whose envelope names no phone numbers, or has no context at all', () => {
    // AWS documents the envelope context only for message events.
    const envelope = eumFixture<Record<string, any>>('account-update-no-phone-context');
    expect(envelope.context).not.toHaveProperty('MetaPhoneNumberIds');
    const { context: _, ...contextless } = envelope;

    for (const body of [envelope, contextless]) {
      const r = parseEventBody(snsNotification(body), NOW);
      if (r.kind !== 'ok') throw new Error(r.reason);
      expect(r.problems).toEqual([]);
      expect(r.parsed.accountEvents).toEqual([
        expect.objectContaining({ field: 'account_update', wabaId: '1393727385109399', value: { phone_number: '15550783881', event: 'VERIFIED_ACCOUNT' } }),
      ]);
    }
  });

  it('still reports a message change whose envelope names no phone numbers', () => {
    const { context: _, ...contextless } = eumFixture<Record<string, unknown>>('inbound-text');
    const r = parseEventBody(snsNotification(contextless), NOW);
    if (r.kind !== 'ok') throw new Error(r.reason);
    expect(r.parsed.messages).toEqual([]);
    expect(r.problems).toEqual([expect.stringMatching(/phone number 729155140271006 is not in the envelope context/)]);
  });

  it("carries the envelope's message_timestamp verbatim, nanoseconds and all, on account events", () => {
    const [e] = ok('phone-number-quality-update').accountEvents;
    expect(e).toMatchObject({ eventTimestamp: '2025-06-08T20:59:43.271279391Z', receivedAtMs: Date.parse('2025-06-08T20:59:43.271Z') });
  });

  it('without message_timestamp, dates an account event by the SNS publish and names it by the SNS MessageId', () => {
    const { message_timestamp: _, ...untimed } = eumFixture<Record<string, unknown>>('phone-number-quality-update');
    const notification = JSON.parse(snsNotification(untimed));
    notification.Timestamp = '2025-06-08T21:00:00.123Z';
    const r = parseEventBody(JSON.stringify(notification), NOW);
    if (r.kind !== 'ok') throw new Error(r.reason);
    const [e] = r.parsed.accountEvents;
    expect(e).not.toHaveProperty('eventTimestamp');
    expect(e).toMatchObject({ snsMessageId: notification.MessageId, receivedAtMs: Date.parse('2025-06-08T21:00:00.123Z') });

    // Raw message delivery has no notification: the SQS time is all there is.
    const raw = parseEventBody(JSON.stringify(untimed), NOW);
    if (raw.kind !== 'ok') throw new Error(raw.reason);
    expect(raw.parsed.accountEvents[0]).not.toHaveProperty('snsMessageId');
    expect(raw.parsed.accountEvents[0]?.receivedAtMs).toBe(NOW);
  });

  it('keeps value-level errors as an account event', () => {
    const parsed = ok('value-errors');
    expect(parsed.accountEvents[0]).toMatchObject({ field: 'messages.errors', value: { errors: [expect.objectContaining({ code: 130429 })] } });
  });
});

describe('the content that identifies an event', () => {
  it('is the SNS Message of a notification, the same however many times SNS delivers it', () => {
    const envelope = JSON.stringify(eumFixture('inbound-text'));
    expect(eventContentOf(snsNotification(envelope))).toBe(envelope);
    expect(eventContentOf(snsNotification(envelope))).toBe(eventContentOf(snsNotification(envelope)));
  });

  it('is the body itself when it is no SNS notification', () => {
    for (const body of ['not json', '{"Type":"Notification"}', '[1,2]', JSON.stringify(eumFixture('inbound-text'))]) {
      expect(eventContentOf(body)).toBe(body);
    }
  });
});

describe('bad input', () => {
  it.each([
    ['not JSON at all', 'this is not json', /not JSON/],
    ['an SNS notification without Message', JSON.stringify({ Type: 'Notification', MessageId: 'x' }), /SNS notification/],
    ['an SNS Message that is not JSON', snsNotification('{{{'), /SNS Message is not JSON/],
    ['JSON that is no EUM envelope', snsNotification({ hello: 'world' }), /End User Messaging Social envelope/],
    ['an entry string that is not JSON', snsNotification({ ...eumFixture<Record<string, unknown>>('inbound-text'), whatsAppWebhookEntry: '{oops' }), /whatsAppWebhookEntry is not JSON/],
  ])('reports %s as invalid with a reason', (_, body, reason) => {
    const r = parseEventBody(body, NOW);
    expect(r.kind).toBe('invalid');
    if (r.kind === 'invalid') expect(r.reason).toMatch(reason);
  });

  it('keeps the good messages of an entry and reports the malformed one', () => {
    const env = eumFixture('multi-change');
    const entry = entryOf(env);
    entry.changes[0].value.messages[1].text = { body: 42 };
    const r = parseEventBody(snsNotification(withEntry(env, entry)), NOW);
    if (r.kind !== 'ok') throw new Error(r.reason);
    expect(r.parsed.messages).toHaveLength(1);
    expect(r.parsed.statuses).toHaveLength(2);
    expect(r.problems).toEqual([expect.stringMatching(/^changes\.0\.value\.messages\.1: text\.body/)]);
  });

  it('reports a phone number that the envelope context does not name', () => {
    const env = eumFixture('inbound-text');
    const entry = entryOf(env);
    entry.changes[0].value.metadata.phone_number_id = '999';
    const r = parseEventBody(snsNotification(withEntry(env, entry)), NOW);
    if (r.kind !== 'ok') throw new Error(r.reason);
    expect(r.parsed.messages).toHaveLength(0);
    expect(r.problems[0]).toMatch(/phone number 999 is not in the envelope context/);
  });
});

describe('interactive replies', () => {
  const withInteractive = (interactive: unknown) => {
    const env = eumFixture<Record<string, unknown>>('inbound-interactive-button-reply');
    const entry = entryOf(env);
    entry.changes[0].value.messages[0].interactive = interactive;
    return parseEventBody(snsNotification(withEntry(env, entry)), NOW);
  };

  it('keeps an interactive reply type it does not know verbatim', () => {
    const r = withInteractive({ type: 'call_permission_reply', call_permission_reply: { response: 'accept' } });
    if (r.kind !== 'ok') throw new Error(r.reason);
    expect(r.problems).toEqual([]);
    expect(r.parsed.messages[0]?.content).toEqual({ type: 'call_permission_reply', call_permission_reply: { response: 'accept' } });
  });

  it('still reports a known reply that is malformed, with the path', () => {
    const r = withInteractive({ type: 'button_reply', button_reply: { title: 'Yes' } });
    if (r.kind !== 'ok') throw new Error(r.reason);
    expect(r.parsed.messages).toEqual([]);
    expect(r.problems).toEqual([expect.stringMatching(/interactive\.button_reply\.id/)]);
  });
});
