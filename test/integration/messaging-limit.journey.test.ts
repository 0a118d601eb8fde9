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
    const held = await eventually(async () => {
      const b = await t.current.api('GET', `/v1/broadcasts/${created.body.id}`);
      return b.body.counts.sent === 50 && b.body.statuses?.read === 50 ? b.body : undefined;
    }, '50 of the broadcast sent and read', 90_000);
    // Nothing more goes out: the other 10 wait for places that free in 24 hours.
    await new Promise((r) => setTimeout(r, 3000));
    const after = await t.current.api('GET', `/v1/broadcasts/${created.body.id}`);
    const outbox = (await t.current.sandbox('GET', '/sandbox/outbox')).body as { to: string; errorCodes?: number[] }[];
    const limits = await t.current.sandbox('GET', '/sandbox/limits');

    // Assess
    expect(before.body.messagingLimit).toEqual({ users: 'unlimited', source: 'config' });
    expect(lowered).toMatchObject({ status: 200, body: { messagingTier: 'TIER_50' } });
    expect(seen).toEqual({ users: 50, source: 'meta' });
    expect(held.state).toBe('running');
    expect(after.body.counts).toMatchObject({ sent: 50, queued: 10, failed: 0 });
    const ours = outbox.filter((m) => to.includes(m.to));
    expect(ours).toHaveLength(50);
    expect(ours.flatMap((m) => m.errorCodes ?? [])).toEqual([]);
    expect(limits.body).toMatchObject({ messagingTier: 'TIER_50', uniqueUsersLast24h: 50 });
  }, 180_000);
});
