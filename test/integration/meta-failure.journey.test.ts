/**
 * A failure that only WhatsApp can report: the backend's window says open, WhatsApp's says closed
 * (the sandbox's clock is moved 25 h on), so the send is accepted by AWS and then fails with 131047.
 * The message shows `failed` with the error classified and the action to take. Local only.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, startTarget, type Target } from './support/target.ts';

const local = !process.env.WB_API_URL;
let target: Target;
beforeAll(async () => {
  if (local) target = await startTarget();
}, 120_000);
afterAll(async () => {
  await target?.stop();
});

it.runIf(local)('shows a 131047 failure reported by WhatsApp with its action', async () => {
  const user = '14155557777';
  const pn = target.phoneNumbers[0]!.phoneNumberId;
  const inbound = await target.sandbox('POST', '/sandbox/inbound', { from: user, to: pn, type: 'text', text: { body: 'hi' } });
  await eventually(async () => ((await target.api('GET', `/v1/messages/${inbound.body.wamid}`)).status === 200 ? true : undefined), 'the inbound message');
  await target.sandbox('POST', '/sandbox/clock', { advanceMs: 25 * 60 * 60 * 1000 });

  const sent = await target.api('POST', '/v1/messages', { from: pn, to: user, type: 'text', text: { body: 'too late for WhatsApp' } });
  expect(sent.status).toBe(202);

  const failed = await eventually(async () => {
    const res = await target.api('GET', `/v1/messages/${sent.body.id}`);
    return res.body?.status === 'failed' ? res.body : undefined;
  }, 'the failed status');
  expect(failed.errors).toEqual([expect.objectContaining({ code: 131047, retryable: false, action: 'send_template' })]);
  expect(failed.statuses.map((s: { status: string }) => s.status)).toEqual(['failed']);
}, 60_000);
