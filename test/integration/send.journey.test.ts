/**
 * Send journeys against the sandbox WABA: the reply goes out through SendWhatsAppMessage, shows in
 * the sandbox outbox, and its statuses come back through SNS to the message record. Local only: a
 * deployed stack sends through the real service, where there is no outbox to look at.
 */
import { describe, expect, it } from 'vitest';
import { eventually, useTarget } from './support/target.ts';

const t = useTarget({ localOnly: true });
const local = t.enabled;

let n = 0;
const newUser = () => `1415555${String(2000 + ++n).slice(-4)}`;
const pn = () => t.current.phoneNumbers[0]!;

async function userWrites(from: string): Promise<string> {
  const res = await t.current.sandbox('POST', '/sandbox/inbound', { from, to: pn().phoneNumberId, type: 'text', text: { body: 'hello business' } });
  const wamid = res.body.wamid as string;
  await eventually(async () => ((await t.current.api('GET', `/v1/messages/${wamid}`)).status === 200 ? true : undefined), 'the inbound message');
  return wamid;
}

const outboxOf = async (to: string) => (await t.current.sandbox('GET', `/sandbox/outbox?to=${to}`)).body as any[];

/** The message once `count` statuses arrived: they can come in any order, `read` first included. */
const withStatuses = (id: string, count: number) =>
  eventually(async () => {
    const res = await t.current.api('GET', `/v1/messages/${id}`);
    return res.body?.statuses?.length >= count ? res.body : undefined;
  }, `message ${id} with ${count} statuses`);

describe.runIf(local)('sending', () => {
  it('sends a reply that shows in the outbox and reaches read, with its wamid', async () => {
    const user = newUser();
    await userWrites(user);

    const res = await t.current.api('POST', '/v1/messages', { from: pn().displayPhoneNumber, to: user, type: 'text', text: { body: 'Thanks, on its way' }, biz_opaque_callback_data: 'order-9' });

    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: expect.stringMatching(/^msg_/), status: 'accepted', awsMessageId: expect.any(String) });
    const [sent] = await outboxOf(user);
    expect(sent).toMatchObject({ awsMessageId: res.body.awsMessageId, message: { type: 'text', text: { body: 'Thanks, on its way' }, to: `+${user}` } });
    expect(sent.message.biz_opaque_callback_data).toBe(`${res.body.id}|order-9`);
    // AWS's own `accepted`, then WhatsApp's sent, delivered, read.
    const message = await withStatuses(res.body.id, 4);
    expect(message).toMatchObject({ status: 'read', direction: 'outbound', wamid: sent.wamid, bizOpaqueCallbackData: 'order-9' });
    expect(message.statuses.map((s: { status: string }) => s.status)).toEqual(['accepted', 'sent', 'delivered', 'read']);
    const byWamid = await t.current.api('GET', `/v1/messages/${encodeURIComponent(sent.wamid)}`);
    expect(byWamid.body.id).toBe(res.body.id);
  });

  it('sends nothing new when the same request is repeated with its Idempotency-Key', async () => {
    const user = newUser();
    await userWrites(user);
    const body = { from: pn().phoneNumberId, to: user, type: 'text', text: { body: 'once only' } };
    const headers = { 'idempotency-key': `key-${user}` };

    const first = await t.current.api('POST', '/v1/messages', body, headers);
    const second = await t.current.api('POST', '/v1/messages', body, headers);
    const reused = await t.current.api('POST', '/v1/messages', { ...body, text: { body: 'something else' } }, headers);

    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body);
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
    expect(await outboxOf(user)).toHaveLength(1);
  });

  it('refuses a free-form message to a user who never wrote, before anything is sent', async () => {
    const user = newUser();

    const res = await t.current.api('POST', '/v1/messages', { from: pn().phoneNumberId, to: user, type: 'text', text: { body: 'cold message' } });

    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'window_closed', details: { action: 'send_template' } });
    expect(await outboxOf(user)).toEqual([]);
  });

  it('sends a template to a user who never wrote', async () => {
    const user = newUser();
    const res = await t.current.api('POST', '/v1/messages', { from: pn().phoneNumberId, to: user, type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } });
    expect(res.status).toBe(202);
    expect((await outboxOf(user))[0].message.type).toBe('template');
  });

  it('refuses an invalid message with the path of the offending field', async () => {
    const user = newUser();
    await userWrites(user);
    const res = await t.current.api('POST', '/v1/messages', {
      from: pn().phoneNumberId,
      to: user,
      type: 'interactive',
      interactive: { type: 'button', body: { text: 'Pick' }, action: { buttons: [{ type: 'reply', reply: { id: 'a', title: 'A title that is too long' } }] } },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details.path).toBe('interactive.action.buttons.0.reply.title');
    expect(await outboxOf(user)).toEqual([]);
  });

  it('marks an inbound message read with a typing indicator', async () => {
    const user = newUser();
    const wamid = await userWrites(user);
    const res = await t.current.api('POST', `/v1/messages/${encodeURIComponent(wamid)}/read`, { typingIndicator: true });
    expect(res.status).toBe(200);
    const [entry] = await outboxOf(user).then((all) => all.filter((e) => e.kind === 'mark_read'));
    expect(entry?.message).toMatchObject({ status: 'read', message_id: wamid, typing_indicator: { type: 'text' } });
  });

  it('shows a message that AWS accepted and then dropped as failed', async () => {
    await t.current.sandbox('POST', '/sandbox/chaos', { dropRate: 1 });
    try {
      const user = newUser();
      await userWrites(user);
      const res = await t.current.api('POST', '/v1/messages', { from: pn().phoneNumberId, to: user, type: 'text', text: { body: 'never delivered' } });
      expect(res.status).toBe(202);
      // Neither of AWS's own events carries our id: they find the message by its AWS message id.
      const m = await withStatuses(res.body.id, 2);
      expect(m.status).toBe('failed');
      expect(m.statuses.map((s: { status: string }) => s.status).sort()).toEqual(['accepted', 'retries_exhausted']);
      const list = await t.current.api('GET', `/v1/conversations/${pn().phoneNumberId}/${user}/messages`);
      expect(list.body.items.find((i: { id: string }) => i.id === res.body.id)).toEqual(m);
    } finally {
      await t.current.sandbox('DELETE', '/sandbox/chaos');
    }
  });

  it('ends every message at read with each status once when statuses are duplicated and reordered', async () => {
    await t.current.sandbox('POST', '/sandbox/chaos', { duplicateRate: 0.7, reorder: true, seed: 11 });
    try {
      const user = newUser();
      await userWrites(user);
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await t.current.api('POST', '/v1/messages', { from: pn().phoneNumberId, to: user, type: 'text', text: { body: `chaos ${i}` } });
        expect(res.status).toBe(202);
        ids.push(res.body.id);
      }
      for (const id of ids) {
        const m = await withStatuses(id, 4);
        expect(m.status).toBe('read');
        expect(m.statuses.map((s: { status: string }) => s.status).sort()).toEqual(['accepted', 'delivered', 'read', 'sent']);
      }
    } finally {
      await t.current.sandbox('DELETE', '/sandbox/chaos');
    }
  }, 60_000);
});
