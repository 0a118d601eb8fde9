/**
 * A failure that only WhatsApp can report: the backend's window says open, WhatsApp's says closed
 * (the sandbox's clock is moved 25 h on), so the send is accepted by AWS and then fails with 131047.
 * The message shows `failed` with the error classified and the action to take. Local only.
 */
import { expect, it } from 'vitest';
import { eventually, useTarget } from './support/target.ts';

const t = useTarget({ localOnly: true });
const local = t.enabled;

it.runIf(local)('shows a 131047 failure reported by WhatsApp with its action', async () => {
  const user = '14155557777';
  const pn = t.current.phoneNumbers[0]!.phoneNumberId;
  const inbound = await t.current.sandbox('POST', '/sandbox/inbound', { from: user, to: pn, type: 'text', text: { body: 'hi' } });
  await eventually(async () => ((await t.current.api('GET', `/v1/messages/${inbound.body.wamid}`)).status === 200 ? true : undefined), 'the inbound message');
  await t.current.sandbox('POST', '/sandbox/clock', { advanceMs: 25 * 60 * 60 * 1000 });

  const sent = await t.current.api('POST', '/v1/messages', { from: pn, to: user, type: 'text', text: { body: 'too late for WhatsApp' } });
  expect(sent.status).toBe(202);

  // AWS's own `accepted` and WhatsApp's `failed`, in whichever order they arrive.
  const failed = await eventually(async () => {
    const res = await t.current.api('GET', `/v1/messages/${sent.body.id}`);
    return res.body?.statuses?.length >= 2 ? res.body : undefined;
  }, 'the failed status');
  expect(failed.status).toBe('failed');
  expect(failed.errors).toEqual([expect.objectContaining({ code: 131047, retryable: false, action: 'send_template' })]);
  expect(failed.statuses.map((s: { status: string }) => s.status)).toEqual(['accepted', 'failed']);
}, 60_000);
