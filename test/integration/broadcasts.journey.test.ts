/**
 * Broadcast journeys against the local runtime and the sandbox WABA, through the HTTP API: a
 * broadcast reaches every recipient once and its counts reach read; a stop leaves the rest unsent;
 * recipients whose template would be refused are named before anything is sent.
 */
import { describe, expect, it } from 'vitest';
import { eventually, useTarget } from './support/target.ts';

const t = useTarget({ localOnly: true });
const local = t.enabled;

let n = 0;
const users = (count: number) => Array.from({ length: count }, () => `1416${String(1_000_000 + ++n).slice(-7)}`);
const pn = () => t.current.phoneNumbers[0]!;
const hello = { name: 'hello_world', language: { code: 'en_US' } };
const outbox = async () => (await t.current.sandbox('GET', '/sandbox/outbox')).body as any[];

describe.runIf(local)('broadcasts', () => {
  it('sends a template to every recipient once, and its counts reach read', async () => {
    const to = users(25);

    const created = await t.current.api('POST', '/v1/broadcasts', { from: pn().displayPhoneNumber, template: hello, recipients: to.map((x) => ({ to: x })) }, { 'idempotency-key': 'journey-bc-1' });
    const again = await t.current.api('POST', '/v1/broadcasts', { from: pn().displayPhoneNumber, template: hello, recipients: to.map((x) => ({ to: x })) }, { 'idempotency-key': 'journey-bc-1' });
    const done = await eventually(async () => {
      const b = await t.current.api('GET', `/v1/broadcasts/${created.body.id}`);
      return b.body.state === 'completed' && b.body.statuses?.read === to.length ? b.body : undefined;
    }, 'the broadcast completed and read', 60_000);
    const sent = (await outbox()).filter((e) => to.includes(e.to));
    const recipients = await t.current.api('GET', `/v1/broadcasts/${created.body.id}/recipients?status=sent&limit=10`);

    expect(created).toMatchObject({ status: 202, body: { id: expect.stringMatching(/^bc_/), total: 25, template: { name: 'hello_world', language: 'en_US' } } });
    expect(again.body.id).toBe(created.body.id);
    expect(done.counts).toEqual({ queued: 0, sending: 0, sent: 25, failed: 0, inDoubt: 0, cancelled: 0, skipped: 0 });
    expect(sent).toHaveLength(25);
    expect(new Set(sent.map((e) => e.to)).size).toBe(25);
    expect(recipients.body.items).toHaveLength(10);
    expect(recipients.body.items[0]).toMatchObject({ state: 'sent', messageId: expect.stringMatching(/^msg_/) });
    const message = await t.current.api('GET', `/v1/messages/${recipients.body.items[0].messageId}`);
    expect(message.body).toMatchObject({ status: 'read', bizOpaqueCallbackData: `broadcast:${created.body.id}` });
  }, 120_000);

  it('sends to an uploaded list, reporting its bad rows without stopping the good ones', async () => {
    const to = users(6);
    const list = ['to', ...to.slice(0, 3), 'call me maybe', `{"to":"+${to[3]}"}`, to[0], '{"to":', ...to.slice(4)].join('\n');

    const ticket = await t.current.api('POST', '/v1/broadcasts/uploads', { size: Buffer.byteLength(list) });
    const put = await fetch(ticket.body.uploadUrl, { method: 'PUT', headers: ticket.body.headers, body: list });
    const created = await t.current.api('POST', '/v1/broadcasts', { from: pn().phoneNumberId, template: hello, recipientsUpload: ticket.body.uploadId });
    const missing = await t.current.api('POST', '/v1/broadcasts', { from: pn().phoneNumberId, template: hello, recipientsUpload: `rcl_${'f'.repeat(32)}` });
    const both = await t.current.api('POST', '/v1/broadcasts', { from: pn().phoneNumberId, template: hello, recipients: [{ to: to[0] }], recipientsUpload: ticket.body.uploadId });
    const done = await eventually(async () => {
      const b = await t.current.api('GET', `/v1/broadcasts/${created.body.id}`);
      return b.body.state === 'completed' && b.body.statuses?.read === to.length ? b.body : undefined;
    }, 'the uploaded broadcast completed and read', 60_000);
    const sent = (await outbox()).filter((e) => to.includes(e.to));

    expect(ticket).toMatchObject({ status: 201, body: { uploadId: expect.stringMatching(/^rcl_[0-9a-f]{32}$/), method: 'PUT' } });
    expect(put.status).toBe(200);
    expect(created).toMatchObject({ status: 202, body: { state: 'queued', recipientsUpload: { uploadId: ticket.body.uploadId, loading: true } } });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('recipients_upload_not_found');
    expect(both.status).toBe(400);
    expect(done).toMatchObject({ total: 6, counts: { sent: 6, failed: 0 } });
    expect(done.recipientsUpload).toMatchObject({ loading: false, rows: 9, rejected: 3, rejectedBy: { invalid_phone: 1, duplicate: 1, invalid_row: 1 } });
    expect(done.recipientsUpload.rejectedSamples.map((x: any) => x.line).sort()).toEqual([5, 7, 8]);
    expect(sent.map((e) => e.to).sort()).toEqual([...to].sort());
  }, 120_000);

  it('names the recipients whose parameters do not fit before sending anything', async () => {
    const [a, b] = users(2);
    const template = { name: 'order_update', language: { code: 'es' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'x' }, { type: 'text', text: 'y' }, { type: 'text', text: 'z' }] }] };

    const res = await t.current.api('POST', '/v1/broadcasts', {
      from: pn().phoneNumberId,
      template,
      recipients: [{ to: a }, { to: b, parameters: [{ type: 'body', parameters: [{ type: 'text', text: 'only one' }] }] }],
    });

    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'broadcast_recipients_invalid', details: { refusedCount: 1, refused: [{ to: b, code: 'template_parameter_mismatch' }] } });
    expect((await outbox()).filter((e) => e.to === a || e.to === b)).toEqual([]);
  });

  it('stops halfway: what was not sent stays unsent', async () => {
    const to = users(300);

    const created = await t.current.api('POST', '/v1/broadcasts', { from: pn().phoneNumberId, template: hello, recipients: to.map((x) => ({ to: x })) });
    await eventually(async () => ((await t.current.api('GET', `/v1/broadcasts/${created.body.id}`)).body.counts.sent >= 10 ? true : undefined), 'some sends', 60_000);
    const stopping = await t.current.api('DELETE', `/v1/broadcasts/${created.body.id}`);
    const stopped = await eventually(async () => {
      const b = await t.current.api('GET', `/v1/broadcasts/${created.body.id}`);
      return b.body.state === 'stopped' ? b.body : undefined;
    }, 'the broadcast stopped', 60_000);
    const sent = (await outbox()).filter((e) => to.includes(e.to));

    expect(stopping).toMatchObject({ status: 200, body: { state: expect.stringMatching(/^stop/) } });
    expect(stopped.counts.cancelled).toBeGreaterThan(0);
    expect(stopped.counts.sent + stopped.counts.cancelled + stopped.counts.failed + stopped.counts.inDoubt).toBe(300);
    expect(sent).toHaveLength(stopped.counts.sent);
    expect(stopped.counts.sent).toBeLessThan(300);
    expect((await t.current.api('DELETE', `/v1/broadcasts/${created.body.id}`)).body.error.code).toBe('broadcast_finished');
  }, 180_000);

  it("skips suppressed users in a MARKETING broadcast: one added through the API, one who answered STOP to the business's other number", async () => {
    const [listed, stopped, reached] = users(3);
    const offer = {
      name: 'welcome_offer',
      language: { code: 'en_US' },
      components: [
        { type: 'header', parameters: [{ type: 'image', image: { id: '1234' } }] },
        { type: 'body', parameters: [{ type: 'text', parameter_name: 'first_name', text: 'Sam' }, { type: 'text', parameter_name: 'code', text: 'W10' }] },
      ],
    };

    const added = await t.current.api('POST', '/v1/suppressions', { to: listed });
    // The other number of the same WABA: a stop is for the business, not for one number.
    const sales = t.current.phoneNumbers.find((p) => p.phoneNumberId !== pn().phoneNumberId && p.wabaId === pn().wabaId)!;
    await t.current.sandbox('POST', '/sandbox/inbound', { from: stopped, to: sales.phoneNumberId, type: 'text', text: { body: ' Stop ' } });
    const list = await eventually(async () => {
      const page = await t.current.api('GET', '/v1/suppressions?limit=100');
      return page.body.items?.some((x: any) => x.to === stopped) ? page.body.items : undefined;
    }, 'the STOP answer reached the suppression list', 60_000);
    const created = await t.current.api('POST', '/v1/broadcasts', { from: pn().phoneNumberId, template: offer, recipients: [listed, stopped, reached].map((x) => ({ to: x })) });
    const done = await eventually(async () => {
      const b = await t.current.api('GET', `/v1/broadcasts/${created.body.id}`);
      return b.body.state === 'completed' ? b.body : undefined;
    }, 'the broadcast completed', 60_000);
    const sent = (await outbox()).filter((e) => [listed, stopped, reached].includes(e.to));
    const removed = await t.current.api('DELETE', `/v1/suppressions/${listed}`);
    const again = await t.current.api('DELETE', `/v1/suppressions/${listed}`);

    expect(added).toMatchObject({ status: 201, body: { to: listed, reason: 'api', wabaId: pn().wabaId } });
    expect(list.find((x: any) => x.to === stopped)).toMatchObject({ reason: 'stop_keyword', wabaId: pn().wabaId, phoneNumberId: sales.phoneNumberId });
    expect(done.counts).toMatchObject({ skipped: 2, sent: 1, queued: 0 });
    expect(sent.map((e) => e.to)).toEqual([reached]);
    expect(removed.status).toBe(204);
    expect(again).toMatchObject({ status: 404, body: { error: { code: 'suppression_not_found' } } });
  }, 120_000);
});
