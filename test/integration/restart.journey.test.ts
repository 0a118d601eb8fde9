/** Data survives a restart of the local runtime (DynamoDB Local and the emulator keep it under the data dir). */
import { expect, it } from 'vitest';
import { eventually, useTarget } from './support/target.ts';

const t = useTarget({ localOnly: true });

it.runIf(t.enabled)('keeps messages and conversations across a restart', async () => {
  const from = '16505559001';
  const to = t.current.phoneNumbers[0]!.phoneNumberId;
  const sent = await t.current.sandbox('POST', '/sandbox/inbound', { from, to, type: 'text', text: { body: 'remember me' } });
  const wamid = sent.body.wamid as string;
  const before = await eventually(async () => {
    const r = await t.current.api('GET', `/v1/messages/${wamid}`);
    return r.status === 200 ? r.body : undefined;
  }, 'the message before the restart');

  await t.current.restart!();

  const after = await t.current.api('GET', `/v1/messages/${wamid}`);
  expect(after.status).toBe(200);
  expect(after.body).toEqual(before);
  const conv = await t.current.api('GET', `/v1/conversations?phoneNumberId=${to}`);
  expect(conv.body.items).toEqual([expect.objectContaining({ contactId: from, messageCount: 1 })]);
  // and the pipeline still works after the restart
  const again = await t.current.sandbox('POST', '/sandbox/inbound', { from, to, type: 'text', text: { body: 'still here' } });
  await eventually(async () => ((await t.current.api('GET', `/v1/messages/${again.body.wamid}`)).status === 200 ? true : undefined), 'a message after the restart');
}, 120_000);
