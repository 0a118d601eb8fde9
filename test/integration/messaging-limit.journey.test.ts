/**
 * The messaging limit as Meta reports it, on the local runtime: the sandbox lowers the business's
 * tier and publishes `phone_number_quality_update` to the event topic, the inbound pipeline keeps
 * the limit for the WABA, and a broadcast reaches no more users than it allows (the others wait),
 * with no 131048 refusal from the sandbox, which enforces the same tier. Its own runtime: the tier
 * would hold back the other journeys' broadcasts.
 */
import { describe, expect, it } from 'vitest';
import { LIMIT_READ_KEPT_MS } from '../../shared/domain/broadcasts.ts';
import { eventually, useTarget } from './support/target.ts';

const t = useTarget({ localOnly: true });
const local = t.enabled;

let n = 0;
const users = (count: number) => Array.from({ length: count }, () => `1418${String(1_000_000 + ++n).slice(-7)}`);
const hello = { name: 'hello_world', language: { code: 'en_US' } };

describe.runIf(local)('messaging limit', () => {
  it('keeps a broadcast within the tier Meta reports in phone_number_quality_update', async () => {
    // Prepare: a broadcast before any report shows the configured limit (unlimited locally). Its
    // user wrote first: a template inside their window is not business-initiated, and counts
    // toward no limit, in the sandbox as at Meta.
    const pn = t.current.phoneNumbers[0]!.phoneNumberId;
    const [writer] = users(1);
    await t.current.sandbox('POST', '/sandbox/inbound', { from: writer, to: pn, type: 'text', text: { body: 'hi' } });
    const first = await t.current.api('POST', '/v1/broadcasts', { from: pn, template: hello, recipients: [{ to: writer }] });
    const before = await t.current.api('GET', `/v1/broadcasts/${first.body.id}`);

    // Act: Meta lowers the tier to 50 users a day; then a broadcast to 60 users
    const lowered = await t.current.sandbox('POST', '/sandbox/limits', { messagingTier: 'TIER_50' });
    const seen = await eventually(async () => {
      const b = await t.current.api('GET', `/v1/broadcasts/${first.body.id}`);
      return b.body.messagingLimit?.source === 'meta' ? b.body.messagingLimit : undefined;
    }, 'the reported limit', 30_000);
    // The broadcasts function read the limit for the first broadcast, and reads it again after this.
    await new Promise((r) => setTimeout(r, LIMIT_READ_KEPT_MS));
    const to = users(60);
    const created = await t.current.api('POST', '/v1/broadcasts', { from: pn, template: hello, recipients: to.map((x) => ({ to: x })) });
    // Sent until the limit's places are taken (at most 50: the places are split over the ring's
    // shards by the user's hash, so a shard short of users leaves a few unused); then nothing more.
    let last = -1;
    let steady = 0;
    const held = await eventually(async () => {
      const b = (await t.current.api('GET', `/v1/broadcasts/${created.body.id}`)).body;
      steady = b.counts.sent === last && b.counts.sending === 0 && b.statuses?.read === b.counts.sent ? steady + 1 : 0;
      last = b.counts.sent;
      await new Promise((r) => setTimeout(r, 500));
      return steady >= 8 && b.counts.sent > 0 ? b : undefined;
    }, 'the broadcast holding at the limit', 120_000);
    const after = await t.current.api('GET', `/v1/broadcasts/${created.body.id}`);
    const outbox = (await t.current.sandbox('GET', '/sandbox/outbox')).body as { to: string; errorCodes?: number[] }[];
    const limits = await t.current.sandbox('GET', '/sandbox/limits');

    // Assess
    expect(before.body.messagingLimit).toEqual({ users: 'unlimited', source: 'config' });
    expect(lowered).toMatchObject({ status: 200, body: { messagingTier: 'TIER_50' } });
    expect(seen).toEqual({ users: 50, source: 'meta' });
    const sent = held.counts.sent as number;
    expect(held.state).toBe('running');
    expect(sent).toBeGreaterThanOrEqual(40);
    expect(sent).toBeLessThanOrEqual(50);
    expect(after.body.counts).toMatchObject({ sent, queued: 60 - sent, failed: 0, sending: 0 });
    const ours = outbox.filter((m) => to.includes(m.to));
    expect(ours).toHaveLength(sent);
    expect(ours.flatMap((m) => m.errorCodes ?? [])).toEqual([]);
    expect(limits.body).toMatchObject({ messagingTier: 'TIER_50', uniqueUsersLast24h: sent });
  }, 180_000);
});
