/**
 * Inbound journeys, end to end: a simulated user (the sandbox WABA) → SNS → SQS → inbound handler →
 * DynamoDB → the HTTP API. Runs against a local runtime, or a deployed stack (see support/t.current.ts).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { eventually, useTarget } from './support/target.ts';

const t = useTarget();

let n = 0;
/** A user phone of its own for each test, so conversations do not mix. */
const newUser = () => `1650555${String(1000 + ++n).slice(-4)}`;
const pn = () => t.current.phoneNumbers[0]!;

async function userSends(from: string, message: Record<string, unknown>): Promise<string> {
  const res = await t.current.sandbox('POST', '/sandbox/inbound', { from, to: pn().phoneNumberId, name: 'Journey User', ...message });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.wamid as string;
}

const readable = (wamid: string) =>
  eventually(async () => {
    const res = await t.current.api('GET', `/v1/messages/${encodeURIComponent(wamid)}`);
    return res.status === 200 ? res.body : undefined;
  }, `message ${wamid} readable through the API`);

describe('each inbound type arrives and is readable', () => {
  const cases: Array<[string, Record<string, unknown>, (m: any) => void]> = [
    ['text with reply context', { type: 'text', text: { body: 'hello' }, context: { from: '15550100001', id: 'wamid.CTX1' } }, (m) => {
      expect(m.content).toEqual({ body: 'hello' });
      expect(m.context).toMatchObject({ replyTo: 'wamid.CTX1', forwarded: false });
    }],
    ['forwarded text', { type: 'text', text: { body: 'fwd' }, context: { forwarded: true } }, (m) => expect(m.context.forwarded).toBe(true)],
    ['image', { type: 'image', image: { caption: 'a photo' } }, (m) => expect(m.media).toMatchObject({ mimeType: 'image/jpeg', sha256: expect.any(String) })],
    ['video', { type: 'video' }, (m) => expect(m.media.mimeType).toMatch(/^video\//)],
    ['voice note', { type: 'audio', audio: { voice: true } }, (m) => expect(m.media.mimeType).toMatch(/^audio\/ogg/)],
    ['document', { type: 'document', document: { filename: 'invoice.pdf' } }, (m) => expect(m.media).toMatchObject({ mimeType: 'application/pdf' })],
    ['sticker', { type: 'sticker' }, (m) => expect(m.media.mimeType).toBe('image/webp')],
    ['location', { type: 'location', location: { latitude: 52.52, longitude: 13.405, name: 'Berlin' } }, (m) => expect(m.content).toMatchObject({ latitude: 52.52 })],
    ['contacts', { type: 'contacts', contacts: [{ name: { formatted_name: 'Ada L', first_name: 'Ada' }, phones: [{ phone: '+44 20 7946 0958', type: 'WORK' }] }] }, (m) => expect(m.content[0].name.formatted_name).toBe('Ada L')],
    ['button reply', { type: 'interactive', interactive: { type: 'button_reply', button_reply: { id: 'yes', title: 'Yes' } } }, (m) => expect(m.content.button_reply.id).toBe('yes')],
    ['list reply', { type: 'interactive', interactive: { type: 'list_reply', list_reply: { id: 'r1', title: 'Row 1' } } }, (m) => expect(m.content.list_reply.id).toBe('r1')],
    ['flow reply', { type: 'interactive', interactive: { type: 'nfm_reply', nfm_reply: { name: 'flow', body: 'Sent', response_json: '{"flow_token":"t-1","size":"M"}' } } }, (m) => expect(m.content.nfm_reply.response).toEqual({ flow_token: 't-1', size: 'M' })],
    ['template button', { type: 'button', button: { payload: 'STOP', text: 'Stop' } }, (m) => expect(m.content.payload).toBe('STOP')],
    ['reaction', { type: 'reaction', reaction: { message_id: 'wamid.TARGET', emoji: '❤️' } }, (m) => expect(m.content.emoji).toBe('❤️')],
    ['reaction removed', { type: 'reaction', reaction: { message_id: 'wamid.TARGET' } }, (m) => expect(m.content).not.toHaveProperty('emoji')],
    ['order', { type: 'order', order: { catalog_id: 'c1', product_items: [{ product_retailer_id: 'p1', quantity: 1, item_price: 9.5, currency: 'EUR' }] } }, (m) => expect(m.content.product_items).toHaveLength(1)],
    ['unsupported', { type: 'unsupported' }, (m) => expect(m.errors[0]).toMatchObject({ code: 131051 })],
    ['a type this backend does not know', { type: 'poll_vote', poll_vote: { option: 'B' } }, (m) => expect(m.content).toEqual({ option: 'B' })],
  ];

  it.each(cases)('%s', async (_, message, check) => {
    const from = newUser();
    const wamid = await userSends(from, message);
    const m = await readable(wamid);
    expect(m).toMatchObject({ wamid, direction: 'inbound', status: 'received', type: message.type, contact: { waId: from } });
    check(m);
  });
});

describe('conversations', () => {
  it('lists the conversation with an open 24-hour window and its messages newest first', async () => {
    const from = newUser();
    const first = await userSends(from, { type: 'text', text: { body: 'one' } });
    const second = await userSends(from, { type: 'text', text: { body: 'two' } });
    await readable(first);
    await readable(second);
    const conv = await t.current.api('GET', `/v1/conversations?phoneNumberId=${pn().phoneNumberId}&limit=100`);
    const mine = conv.body.items.find((c: { contactId: string }) => c.contactId === from);
    expect(mine).toMatchObject({ windowOpen: true, messageCount: 2, contact: { name: 'Journey User' } });
    const page = await t.current.api('GET', `/v1/conversations/${pn().phoneNumberId}/${from}/messages?limit=1`);
    expect(page.body.items).toHaveLength(1);
    const next = await t.current.api('GET', `/v1/conversations/${pn().phoneNumberId}/${from}/messages?limit=1&cursor=${page.body.nextCursor}`);
    expect([page.body.items[0].wamid, next.body.items[0].wamid].sort()).toEqual([first, second].sort());
  });
});

describe('bad input', () => {
  it('keeps a poison event in quarantine while the events beside it are stored', async () => {
    const marker = `poison-${randomUUID()}`;
    await t.current.publish(marker);
    const from = newUser();
    const wamid = await userSends(from, { type: 'text', text: { body: 'after the poison' } });
    await readable(wamid);
    const q = await eventually(async () => {
      const res = await t.current.api('GET', '/v1/quarantine?limit=100');
      return res.body.items.find((i: { raw: string }) => i.raw.includes(marker));
    }, 'the poison event in quarantine');
    expect(q.reason).toBe('SNS Message is not JSON');
  });
});
