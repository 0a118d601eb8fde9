import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetWhatsAppMessageMediaCommand } from '@aws-sdk/client-socialmessaging';
import { describe, expect, it } from 'vitest';
import { storedObjectKey } from '../../shared/domain/media.ts';
import { ACCOUNT_ID, REGION, drain, useSandboxSuite } from '../sandbox/harness.ts';

const BASE_MS = Date.parse('2026-03-01T10:00:00.000Z');
const SHEENA = '16505551234'; // default user with a BSUID
const ALEX = '14155550100'; // default user without one
const DAY_MS = 24 * 60 * 60 * 1000;

const suite = useSandboxSuite(BASE_MS);

const number = () => suite.sb.config.phoneNumbers[0]!;

async function inbound(body: Record<string, unknown>) {
  const res = await suite.sb.call('POST', '/sandbox/inbound', { to: number().phoneNumberId, ...body });
  const [event] = await drain(suite.emu);
  return { res, event: event!, message: event?.value.messages?.[0] as Record<string, any> };
}

describe('POST /sandbox/inbound', () => {
  it('publishes a text message as the AWS envelope around the Meta webhook entry', async () => {
    // Prepare
    const n = number();
    const hex = n.phoneNumberId.slice('phone-number-id-'.length);

    // Act
    const { res, event, message } = await inbound({ from: SHEENA, type: 'text', text: { body: 'hi' } });

    // Assess
    expect(res.status).toBe(201);
    expect(event.sns.Type).toBe('Notification');
    expect(event.sns.TopicArn).toBe(suite.emu.topicArn);
    expect(event.envelope.context).toEqual({
      MetaWabaIds: [{ wabaId: n.metaWabaId, arn: `arn:aws:social-messaging:${REGION}:${ACCOUNT_ID}:waba/${n.wabaId.slice(5)}` }],
      MetaPhoneNumberIds: [{ metaPhoneNumberId: n.metaPhoneNumberId, arn: `arn:aws:social-messaging:${REGION}:${ACCOUNT_ID}:phone-number-id/${hex}` }],
    });
    expect(typeof event.envelope.whatsAppWebhookEntry).toBe('string');
    expect(event.envelope.aws_account_id).toBe(ACCOUNT_ID);
    expect(event.envelope.message_timestamp).toMatch(/^2026-03-01T10:\d{2}:\d{2}\.\d{9}Z$/);
    expect(event.envelope).not.toHaveProperty('messageId');
    expect(event.entry.id).toBe(n.metaWabaId);
    expect(event.entry.changes).toHaveLength(1);
    expect(event.entry.changes[0]!.field).toBe('messages');
    expect(event.value.messaging_product).toBe('whatsapp');
    expect(event.value.metadata).toEqual({ display_phone_number: n.displayPhoneNumber, phone_number_id: n.metaPhoneNumberId });
    expect(event.value.contacts).toEqual([{ profile: { name: 'Sheena Nelson' }, wa_id: SHEENA, user_id: 'US.13491208655302741918' }]);
    expect(message).toMatchObject({ from: SHEENA, id: res.body.wamid, type: 'text', text: { body: 'hi' } });
    expect(message.timestamp).toMatch(/^\d+$/);
    expect(Math.abs(Number(message.timestamp) * 1000 - BASE_MS)).toBeLessThan(60_000);
  });

  it('makes a unique wamid that carries the sender number, base64 as WhatsApp does', async () => {
    // Act
    const a = await inbound({ from: ALEX, type: 'text', text: { body: 'one' } });
    const b = await inbound({ from: ALEX, type: 'text', text: { body: 'two' } });

    // Assess
    expect(a.res.body.wamid).not.toBe(b.res.body.wamid);
    expect(a.res.body.wamid).toMatch(/^wamid\.[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(a.res.body.wamid.slice(6), 'base64').toString('latin1')).toContain(ALEX);
    expect(a.event.value.contacts[0]).not.toHaveProperty('user_id');
  });

  it('accepts the display number, with or without +, as "to" and keeps context and referral', async () => {
    // Prepare
    const context = { from: number().displayPhoneNumber, id: 'wamid.HBgLMTU1NTAxMDAwMDEVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA' };
    const referral = { source_url: 'https://fb.me/x', source_id: '123', source_type: 'ad', headline: 'Sale', ctwa_clid: 'abc' };

    // Act
    const { res, message, event } = await inbound({
      from: ALEX,
      to: `+${number().displayPhoneNumber}`,
      type: 'text',
      text: { body: 'is this on sale?' },
      context,
      referral,
    });

    // Assess
    expect(res.status).toBe(201);
    expect(event.value.metadata.phone_number_id).toBe(number().metaPhoneNumberId);
    expect(message.context).toEqual(context);
    expect(message.referral).toEqual(referral);
  });

  const passThrough: [string, Record<string, unknown>][] = [
    ['location', { location: { latitude: 37.44, longitude: -122.16, name: 'Philz Coffee', address: '101 Forest Ave' } }],
    ['contacts', { contacts: [{ name: { formatted_name: 'Barbara J. Johnson', first_name: 'Barbara' }, phones: [{ phone: '+1 (415) 555-0829', type: 'MOBILE' }] }] }],
    ['interactive', { interactive: { type: 'button_reply', button_reply: { id: 'cancel-button', title: 'Cancel' } } }],
    ['interactive', { interactive: { type: 'list_reply', list_reply: { id: 'priority_express', title: 'Priority Mail Express', description: 'Next Day' } } }],
    ['button', { button: { payload: 'Unsubscribe', text: 'Unsubscribe' } }],
    ['reaction', { reaction: { message_id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA', emoji: '👍' } }],
    ['order', { order: { catalog_id: '194836987003835', text: 'Love these!', product_items: [{ product_retailer_id: 'di9ozbzfi4', quantity: 2, item_price: 30, currency: 'USD' }] } }],
    ['poll_vote', { poll_vote: { option: 'B', anything: [1, 2, { deep: true }] } }],
  ];

  it.each(passThrough)('passes a %s message object through verbatim', async (type, fields) => {
    // Act
    const { res, message } = await inbound({ from: SHEENA, type, ...fields });

    // Assess
    expect(res.status).toBe(201);
    expect(message.type).toBe(type);
    expect(message[type]).toEqual(fields[type]);
  });

  it('sends a Flow reply with response_json as a JSON string, even when given an object', async () => {
    // Act
    const { message } = await inbound({
      from: SHEENA,
      type: 'interactive',
      context: { from: number().displayPhoneNumber, id: 'wamid.flowmsg' },
      interactive: { type: 'nfm_reply', nfm_reply: { name: 'flow', body: 'Sent', response_json: { flow_token: 'tok-1', rating: 5 } } },
    });

    // Assess
    expect(typeof message.interactive.nfm_reply.response_json).toBe('string');
    expect(JSON.parse(message.interactive.nfm_reply.response_json)).toEqual({ flow_token: 'tok-1', rating: 5 });
  });

  it('sends a system message without contacts and an unsupported one with error 131051', async () => {
    // Act
    const system = await inbound({ from: ALEX, type: 'system', system: { body: 'User changed number', wa_id: '12195555358', type: 'user_changed_number' } });
    const unsupported = await inbound({ from: ALEX, type: 'unsupported' });

    // Assess
    expect(system.event.value).not.toHaveProperty('contacts');
    expect(system.message.system.type).toBe('user_changed_number');
    expect(unsupported.message.errors).toEqual([expect.objectContaining({ code: 131051, title: 'Message type unknown' })]);
    expect(unsupported.message.unsupported).toEqual({ type: 'unknown' });
  });

  it('refuses a message Meta could not send, an unknown business number and a user not on WhatsApp', async () => {
    // Act
    const noFrom = await suite.sb.call('POST', '/sandbox/inbound', { type: 'text', text: { body: 'x' } });
    const noBody = await suite.sb.call('POST', '/sandbox/inbound', { from: ALEX, type: 'text', text: {} });
    const noLatitude = await suite.sb.call('POST', '/sandbox/inbound', { from: ALEX, type: 'location', location: { longitude: 1 } });
    const unknownTo = await suite.sb.call('POST', '/sandbox/inbound', { from: ALEX, to: '19999999999', type: 'text', text: { body: 'x' } });
    const notOnWhatsApp = await suite.sb.call('POST', '/sandbox/inbound', { from: '15550109999', type: 'text', text: { body: 'x' } });

    // Assess
    expect([noFrom.status, noBody.status, noLatitude.status, unknownTo.status, notOnWhatsApp.status]).toEqual([400, 400, 400, 404, 409]);
    expect(noBody.body.error.code).toBe('invalid_request');
    expect(unknownTo.body.error.code).toBe('unknown_phone_number');
    expect(await drain(suite.emu)).toEqual([]);
  });

  it('publishes the same envelope twice when chaos duplicates everything', async () => {
    // Prepare
    await suite.sb.call('POST', '/sandbox/chaos', { duplicateRate: 1 });

    // Act
    const res = await suite.sb.call('POST', '/sandbox/inbound', { from: ALEX, type: 'text', text: { body: 'dup' } });
    const events = await drain(suite.emu);

    // Assess
    expect(res.status).toBe(201);
    expect(events).toHaveLength(2);
    expect(events[0]!.sns.Message).toBe(events[1]!.sns.Message);
    expect(events[0]!.sns.MessageId).not.toBe(events[1]!.sns.MessageId);
  });
});

describe('inbound media', () => {
  const kinds = [
    ['image', 'image/jpeg', 'jpeg', [0xff, 0xd8, 0xff]],
    ['video', 'video/mp4', 'mp4', [...Buffer.from('ftyp')]],
    ['audio', 'audio/ogg; codecs=opus', 'ogg', [...Buffer.from('OggS')]],
    ['document', 'application/pdf', 'pdf', [...Buffer.from('%PDF-')]],
    ['sticker', 'image/webp', 'webp', [...Buffer.from('RIFF')]],
  ] as const;

  it.each(kinds)('creates a real %s file that GetWhatsAppMessageMedia writes byte for byte under the key the media worker looks for', async (kind, mime, ext, magic) => {
    // Prepare
    const prefix = `inbound/${kind}/`;

    // Act
    const { res, message } = await inbound({ from: SHEENA, type: kind, [kind]: kind === 'image' ? { caption: 'look' } : {} });
    const out = await suite.sb.sm.send(
      new GetWhatsAppMessageMediaCommand({
        mediaId: res.body.mediaId,
        originationPhoneNumberId: number().phoneNumberId,
        destinationS3File: { bucketName: suite.emu.bucket, key: prefix },
      }),
    );
    const key = `${prefix}${res.body.mediaId}.${ext}`;
    const object = await suite.emu.s3.send(new GetObjectCommand({ Bucket: suite.emu.bucket, Key: key }));
    const bytes = Buffer.from(await object.Body!.transformToByteArray());

    // Assess
    expect(res.body.mediaId).toMatch(/^[0-9]+$/);
    expect(storedObjectKey(prefix, res.body.mediaId, mime)).toBe(key);
    const media = message[kind];
    expect(media).toMatchObject({ id: res.body.mediaId, mime_type: mime });
    expect(media.url).toMatch(/^https:\/\//);
    expect(createHash('sha256').update(bytes).digest('base64')).toBe(media.sha256);
    expect([...bytes.subarray(kind === 'video' ? 4 : 0, (kind === 'video' ? 4 : 0) + magic.length)]).toEqual([...magic]);
    expect(out.mimeType).toBe(mime);
    expect(out.fileSize).toBe(bytes.length);
    if (kind === 'image') expect(media.caption).toBe('look');
    if (kind === 'audio') expect(media.voice).toBe(true);
    if (kind === 'document') expect(media.filename).toMatch(/\.pdf$/);
    if (kind === 'sticker') expect(media.animated).toBe(false);
  });

  it('passes a media object that already has an id through untouched', async () => {
    // Prepare
    const given = { id: '1003383421387256', mime_type: 'image/jpeg', sha256: 'abc=', caption: 'Taj Mahal' };

    // Act
    const { res, message } = await inbound({ from: SHEENA, type: 'image', image: given });

    // Assess
    expect(res.body).not.toHaveProperty('mediaId');
    expect(message.image).toEqual(given);
  });

  it('answers metadata only without writing anything to S3', async () => {
    // Prepare
    const { res } = await inbound({ from: ALEX, type: 'document', document: { filename: 'receipt.pdf' } });
    const keys = async () => (await suite.emu.s3.send(new ListObjectsV2Command({ Bucket: suite.emu.bucket }))).Contents?.map((o) => o.Key) ?? [];
    const before = await keys();

    // Act
    const out = await suite.sb.sm.send(
      new GetWhatsAppMessageMediaCommand({
        mediaId: res.body.mediaId,
        originationPhoneNumberId: number().phoneNumberId,
        metadataOnly: true,
        destinationS3File: { bucketName: suite.emu.bucket, key: 'meta-only/' },
      }),
    );

    // Assess
    expect(out.mimeType).toBe('application/pdf');
    expect(out.fileSize).toBe(suite.sb.sandbox.state.media.get(res.body.mediaId)!.bytes.length);
    expect(await keys()).toEqual(before);
  });

  it('keeps an inbound media id for 7 days of sandbox time, then answers ResourceNotFoundException', async () => {
    // Prepare
    const { res } = await inbound({ from: ALEX, type: 'image' });
    const get = () =>
      suite.sb.sm.send(new GetWhatsAppMessageMediaCommand({ mediaId: res.body.mediaId, originationPhoneNumberId: number().phoneNumberId, metadataOnly: true }));

    // Act
    await suite.sb.call('POST', '/sandbox/clock', { advanceMs: 7 * DAY_MS - 60_000 });
    const before = await get();
    const clock = await suite.sb.call('POST', '/sandbox/clock', { advanceMs: 120_000 });
    const after = await get().catch((err: Error) => err);

    // Assess
    expect(before.mimeType).toBe('image/jpeg');
    expect(clock.body.offsetMs).toBeGreaterThanOrEqual(7 * DAY_MS);
    expect((after as Error).name).toBe('ResourceNotFoundException');
    expect((after as Error).message).toMatch(/expired/);
  });
});
