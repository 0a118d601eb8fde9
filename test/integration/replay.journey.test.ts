/**
 * Real envelopes replayed onto the event topic (Meta's documented examples, as AWS relays them),
 * then replies to their senders through the API: the sandbox reads the topic like any consumer, so
 * it knows those users and their windows as Meta does, and the replies reach `read`. Local only:
 * the replies need the sandbox as the WhatsApp side.
 */
import { describe, expect, it } from 'vitest';
import { wabaArn } from '../../local/sandbox/index.ts';
import type { RuntimePhoneNumber } from '../../local/runtime.ts';
import { entryOf, eumFixture, withEntry } from '../support/events.ts';
import { eventually, useTarget } from './support/target.ts';

const t = useTarget({ localOnly: true });

let n = 0;
/** A number the sandbox has never seen (not in the not-on-WhatsApp range). */
const freshNumber = () => `1628555${String(1000 + ++n).slice(-4)}${Math.floor(Math.random() * 10)}`;

/**
 * `fixture` re-addressed to a local business number, sent now, from `sender` (its phone and/or
 * BSUID replace the fixture's in the message and in its contacts entry).
 */
function replayed(fixture: string, number: RuntimePhoneNumber, sender: { phone?: string; userId?: string }) {
  const envelope = eumFixture(fixture);
  const entry = entryOf(envelope);
  const [region, account] = number.phoneNumberArn.split(':').slice(3, 5) as [string, string];
  envelope.context = {
    MetaWabaIds: [{ wabaId: number.metaWabaId, arn: wabaArn(number.wabaId, region, account) }],
    MetaPhoneNumberIds: [{ metaPhoneNumberId: number.metaPhoneNumberId, arn: number.phoneNumberArn }],
  };
  entry.id = number.metaWabaId;
  const value = entry.changes[0].value;
  value.metadata = { display_phone_number: number.displayPhoneNumber, phone_number_id: number.metaPhoneNumberId };
  const wamid = `wamid.REPLAY${Date.now()}${++n}`;
  for (const m of value.messages) {
    m.id = wamid;
    m.timestamp = String(Math.floor(Date.now() / 1000));
    if (sender.phone !== undefined) m.from = sender.phone;
    if (sender.userId !== undefined) m.from_user_id = sender.userId;
  }
  for (const c of value.contacts ?? []) {
    if (sender.phone !== undefined) c.wa_id = sender.phone;
    if (sender.userId !== undefined) c.user_id = sender.userId;
  }
  return { envelope: withEntry(envelope, entry), wamid };
}

/** Replays, waits for the backend to store the message, replies at once, and waits for the reply's last status. */
async function replayAndReply(fixture: string, sender: { phone?: string; userId?: string }, to: Record<string, string>) {
  const number = t.current.phoneNumbers[0]!;
  const { envelope, wamid } = replayed(fixture, number, sender);
  await t.current.publish(JSON.stringify(envelope));
  await eventually(async () => ((await t.current.api('GET', `/v1/messages/${wamid}`)).status === 200 ? true : undefined), `the replayed ${fixture}`);

  const reply = await t.current.api('POST', '/v1/messages', { from: number.phoneNumberId, ...to, type: 'text', text: { body: `re: ${fixture}` } });
  expect(reply.status, JSON.stringify(reply.body)).toBe(202);
  return eventually(async () => {
    const m = (await t.current.api('GET', `/v1/messages/${reply.body.id}`)).body;
    return m?.status === 'read' || m?.status === 'failed' ? m : undefined;
  }, `the reply to ${fixture} reaching its last status`);
}

describe.runIf(t.enabled)('replies to users whose messages were replayed onto the topic', () => {
  for (const fixture of ['inbound-text', 'inbound-location', 'inbound-interactive-button-reply', 'inbound-button', 'inbound-contacts', 'inbound-text-ad-referral']) {
    it(`reaches read for the sender of ${fixture}`, async () => {
      const phone = freshNumber();
      const message = await replayAndReply(fixture, { phone }, { to: phone });
      expect(message.status).toBe('read');
      const [sent] = (await t.current.sandbox('GET', `/sandbox/outbox?to=${phone}`)).body;
      expect(sent.statuses).toEqual(['accepted', 'sent', 'delivered', 'read']);
    });
  }

  it("reaches read for Meta's username example, answered by its BSUID", async () => {
    const userId = `US.${Date.now()}${++n}`;
    const message = await replayAndReply('inbound-username', { userId }, { recipient: userId });
    expect(message.status).toBe('read');
  });

  it('knows the sender by the name and BSUID the envelope carried', async () => {
    const phone = freshNumber();
    await replayAndReply('inbound-text', { phone, userId: 'US.55501234567890' }, { to: phone });
    const users = (await t.current.sandbox('GET', '/sandbox/users')).body as any[];
    expect(users).toContainEqual(expect.objectContaining({ phone, userId: 'US.55501234567890', name: 'Sheena Nelson', onWhatsApp: true }));
  });

  it('still refuses a number in the not-on-WhatsApp range that never wrote (131026)', async () => {
    const number = t.current.phoneNumbers[0]!;
    const res = await t.current.api('POST', '/v1/messages', {
      from: number.phoneNumberId,
      to: '15550109123',
      type: 'template',
      template: { name: 'hello_world', language: { code: 'en_US' } },
    });
    expect(res.status).toBe(202);
    const failed = await eventually(async () => {
      const m = (await t.current.api('GET', `/v1/messages/${res.body.id}`)).body;
      return m?.status === 'failed' ? m : undefined;
    }, 'the failed status');
    expect(JSON.stringify(failed)).toContain('131026');
  });
});
