/**
 * Loose edges of the API closed with 400s naming the field: whitespace-only path parameters,
 * cursors of another list, lone surrogates, unknown fields of POST /v1/media, media links Meta can
 * never fetch. Link refusals only validate strings: nothing is fetched.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { SendWhatsAppMessageCommand, SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../shared/adapters/dynamodb-queries.ts';
import { unreachableHostReason } from '../../shared/whatsapp/public-url.ts';
import { parseSendMessageRequest } from '../../shared/whatsapp/outbound.ts';
import { call } from '../support/api.ts';
import { PN, sendWorld, USER, type SendWorld } from '../support/send.ts';

const T0 = Date.parse('2026-03-02T12:00:00.000Z');
const sm = mockClient(SocialMessagingClient);
let w: SendWorld;

beforeAll(async () => {
  w = await sendWorld(T0);
  await w.userWrites(T0 - 1000);
});
beforeEach(() => {
  sm.reset();
  sm.on(SendWhatsAppMessageCommand).resolves({ messageId: 'aws-1' });
});
afterAll(() => sm.restore());

describe('path parameters that are only whitespace', () => {
  it.each([
    ['GET', '/v1/messages/%20', 'path.id'],
    ['GET', '/v1/messages/%0A', 'path.id'],
    ['GET', '/v1/messages/%09/media', 'path.id'],
    ['POST', '/v1/messages/%20/read', 'path.id'],
    ['GET', '/v1/conversations/%09/16505551234/messages', 'path.phoneNumberId'],
    ['GET', `/v1/conversations/${PN}/%20%20/messages`, 'path.contactId'],
    ['POST', '/v1/media/%0D/complete', 'path.uploadId'],
  ])('%s %s answers 400 naming %s', async (method, path, field) => {
    const res = await call(w.api, method, path, method === 'POST' ? { body: {} } : {});
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_error', details: { path: field } });
  });
});

describe('cursors of another list', () => {
  const cursors = {
    quarantine: encodeCursor({ PK: 'QUAR#x', SK: 'QUAR', GSI1PK: 'QUARANTINE', GSI1SK: '2026#x' }),
    allConversations: encodeCursor({ PK: 'CONV#a#b', SK: 'CONV', GSI2PK: 'CONVS', GSI2SK: '2026#x' }),
    otherTimeline: encodeCursor({ PK: 'MSG#x', SK: 'MSG', GSI1PK: `CONV#${PN}#999`, GSI1SK: '2026#x' }),
    emptyKeys: encodeCursor({ PK: '', SK: '', GSI1PK: 'QUARANTINE', GSI1SK: '' }),
  };
  it.each([
    ['/v1/conversations', cursors.quarantine],
    ['/v1/conversations', cursors.otherTimeline],
    [`/v1/conversations?phoneNumberId=${PN}`, cursors.allConversations],
    [`/v1/conversations/${PN}/${USER}/messages`, cursors.otherTimeline],
    [`/v1/conversations/${PN}/${USER}/messages`, cursors.quarantine],
    ['/v1/quarantine', cursors.otherTimeline],
    ['/v1/quarantine', cursors.emptyKeys],
  ])('%s answers 400 for a cursor of another list', async (path, cursor) => {
    const res = await call(w.api, 'GET', `${path}${path.includes('?') ? '&' : '?'}cursor=${cursor}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_error', details: { path: 'cursor' } });
  });

  it('still pages with its own cursor', async () => {
    for (let i = 0; i < 3; i++) await w.userWrites(T0 + i);
    const first = await call(w.api, 'GET', `/v1/conversations/${PN}/${USER}/messages?limit=2`);
    const second = await call(w.api, 'GET', `/v1/conversations/${PN}/${USER}/messages?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.status).toBe(200);
    expect(second.body.items.length).toBeGreaterThan(0);
  });
});

describe('lone UTF-16 surrogates', () => {
  it.each([
    ['a text body', '{"from":"PN","to":"USER","type":"text","text":{"body":"hi \\ud800 there"}}', 'text.body'],
    ['a caption', '{"from":"PN","to":"USER","type":"image","image":{"link":"https://example.com/a.png","caption":"\\udfff"}}', 'image.caption'],
    ['a key', '{"from":"PN","to":"USER","type":"text","text":{"body":"hi","\\ud83d":1}}', 'text["\\ud83d"]'],
  ])('refuses %s with a lone surrogate, naming the field, and sends nothing', async (_, raw, field) => {
    const res = await call(w.api, 'POST', '/v1/messages', { body: raw.replace('"PN"', `"${PN}"`).replace('"USER"', `"${USER}"`) });
    expect(res.status).toBe(400);
    expect(res.body.error.details.path).toBe(`body.${field}`.replace('.[', '['));
    expect(res.body.error.message).toMatch(/lone UTF-16 surrogate/);
    expect(sm).not.toHaveReceivedCommand(SendWhatsAppMessageCommand);
  });

  it('accepts a well-formed surrogate pair (an emoji)', async () => {
    const res = await call(w.api, 'POST', '/v1/messages', { body: { from: PN, to: USER, type: 'text', text: { body: 'hi \ud83d\ude00' } } });
    expect(res.status).toBe(202);
  });
});

describe('POST /v1/media refuses unknown fields', () => {
  it('answers 400 naming the unknown field', async () => {
    const res = await call(w.api, 'POST', '/v1/media', { body: { from: PN, contentType: 'image/jpeg', size: 10, colour: 'red' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_error', details: { path: 'body.colour' } });
  });
});

describe('media links Meta can never fetch', () => {
  const refused = [
    'http://localhost/a.jpg',
    'https://LOCALHOST./a.jpg',
    'http://api.localhost:8080/a.jpg',
    'http://127.0.0.1/a.jpg',
    'http://127.1/a.jpg',
    'http://0x7f.0.0.1/a.jpg',
    'http://2130706433/a.jpg',
    'http://0177.0.0.1/a.jpg',
    'http://0.0.0.0/a.jpg',
    'http://10.1.2.3/a.jpg',
    'http://172.16.0.9/a.jpg',
    'http://192.168.1.1/a.jpg',
    'http://169.254.169.254/latest/meta-data',
    'http://100.64.0.1/a.jpg',
    'http://[::1]/a.jpg',
    'http://[::]/a.jpg',
    'http://[::ffff:127.0.0.1]/a.jpg',
    'http://[::ffff:10.0.0.1]/a.jpg',
    'http://[fe80::1]/a.jpg',
    'http://[fd00::1]/a.jpg',
    'http://[fc00::abcd]/a.jpg',
    'http://[ff02::1]/a.jpg',
  ];
  const kept = ['https://example.com/a.jpg', 'http://93.184.215.14/a.jpg', 'https://[2606:4700::1111]/a.jpg', 'https://cdn.example.com:8443/x.png'];

  it.each(refused)('refuses %s', (link) => {
    expect(unreachableHostReason(link)).toBeDefined();
    const r = parseSendMessageRequest({ from: PN, to: USER, type: 'image', image: { link } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ path: 'image.link', message: expect.stringMatching(/public URL/) });
  });

  it.each(kept)('accepts %s', (link) => {
    expect(unreachableHostReason(link)).toBeUndefined();
    expect(parseSendMessageRequest({ from: PN, to: USER, type: 'image', image: { link } }).ok).toBe(true);
  });

  it.each(['file:///etc/passwd', 'ftp://example.com/a.jpg', 'not a url'])('keeps refusing %s', (link) => {
    expect(parseSendMessageRequest({ from: PN, to: USER, type: 'image', image: { link } }).ok).toBe(false);
  });

  it('answers 400 through the API and sends nothing', async () => {
    const res = await call(w.api, 'POST', '/v1/messages', { body: { from: PN, to: USER, type: 'document', document: { link: 'http://127.1/f.pdf' } } });
    expect(res.status).toBe(400);
    expect(res.body.error.details.path).toBe('document.link');
    expect(res.body.error.message).toMatch(/public URL/);
    expect(sm).not.toHaveReceivedCommand(SendWhatsAppMessageCommand);
  });
});
