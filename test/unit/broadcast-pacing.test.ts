/**
 * Broadcast pacing and feedback against DynamoDB Local, the socialmessaging client mocked (each
 * SendWhatsAppMessage's input asserted): the number's rate with no burst, holds, the pair rate,
 * statuses counted once, 130429 backed off and sent again (and nothing else), AWS throttling backed
 * off, a send stuck in `sending` counted in doubt and settled by its status.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { randomUUID } from 'node:crypto';
import { SendWhatsAppMessageCommand, SocialMessagingClient, ThrottledRequestException } from '@aws-sdk/client-socialmessaging';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbBroadcasts, PACING_SHARE, SLOT_HORIZON_MS } from '../../shared/adapters/dynamodb-broadcasts.ts';
import type { PacerSlot } from '../../shared/ports/broadcasts.ts';
import { messagesPerSecondOf } from '../../shared/adapters/broadcast-wiring.ts';
import { Broadcasts, LIMIT_READ_KEPT_MS, messagingLimitOf, NUMBER_BACKOFF_MS, PAIR_INTERVAL_MS, PERMIT_WAIT_MS, sendKeyOf, type BroadcastJob } from '../../shared/domain/broadcasts.ts';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { messageIdForKey, SEND_IN_PROGRESS_MS } from '../../shared/domain/send-message.ts';
import { broadcastWorld, type BroadcastWorld } from '../support/broadcasts.ts';
import { SecondWindow } from '../../local/sandbox/limits.ts';
import { freshTable } from '../support/dynamodb.ts';
import { DynamoDbSuppressions } from '../../shared/adapters/dynamodb-suppressions.ts';
import { Suppressions } from '../../shared/domain/suppressions.ts';
import { PN, sendWorld, sentCalls, type SendWorld } from '../support/send.ts';

const T0 = Date.parse('2026-03-05T12:00:00.000Z');
const sm = mockClient(SocialMessagingClient);
let w: SendWorld;
let n = 0;
const users = (count: number) => Array.from({ length: count }, () => `1417${String(1_000_000 + ++n).slice(-7)}`);
const hello = { name: 'hello_world', language: { code: 'en_US' } };

beforeAll(async () => {
  w = await sendWorld(T0);
});
beforeEach(() => {
  sm.reset();
  sm.on(SendWhatsAppMessageCommand).callsFake(async () => ({ messageId: randomUUID() }));
  w.clock.now = T0 + n * 100_000;
});
afterAll(() => sm.restore());

async function sentBroadcast(bw: BroadcastWorld, to: string[]) {
  const created = await bw.broadcasts.create({ from: PN, template: hello, recipients: to.map((x) => ({ to: x })) });
  await bw.drain();
  return created.id;
}

const status = (id: string, to: string, messageId: string, st: string, code?: number) => ({
  status: st,
  messageId,
  callbackData: `broadcast:${id}`,
  recipientId: to,
  ...(code !== undefined && { errors: [{ code, title: 'x' }] }),
});

/** A slot the pacer gave (not a `laterMs`). */
function slotOf(got: PacerSlot | { laterMs: number }): PacerSlot {
  if ('laterMs' in got) throw new Error(`no slot: ask again at ${got.laterMs}`);
  return got;
}

/**
 * Senders in virtual time as the broadcast function's permit gate runs them, each step's DynamoDB
 * calls done before the next step: a send runs 0–900 ms behind its slot (the store's work, a busy
 * machine), asks for a permit at that time, arrives 0–50 ms after its call starts and is answered
 * 0–300 ms later; a sender that waits over `PERMIT_WAIT_MS` for a permit gives up. Arrivals are
 * counted as the sandbox counts them: in time order, sends over `mps` in any second.
 */
async function permitRun(opts: { senders: number; sends: number; permits: boolean }) {
  const store = new DynamoDbBroadcasts(w.doc, w.tableName);
  const pn = `phone-number-id-${randomUUID().replace(/-/g, '')}`;
  const mps = 5;
  let seed = 7;
  const random = (max: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31) * max;
  const steps: { at: number; go: (t: number) => Promise<void> }[] = [];
  const at = (t: number, go: (t: number) => Promise<void>) => void steps.push({ at: t, go });
  const arrivals: number[] = [];
  let left = opts.sends;
  let gaveUp = 0;
  const sendOne = async (t: number): Promise<void> => {
    if (left <= 0) return;
    left--;
    const slot = slotOf(await store.reserve(pn, mps, String(left), t));
    const late = Math.max(t, slot.atMs) + random(900);
    if (!opts.permits) {
      arrivals.push(late + random(50));
      return at(late, sendOne);
    }
    const giveUpAt = late + PERMIT_WAIT_MS;
    let asking = slot;
    const ask = async (t2: number): Promise<void> => {
      const got = await store.acquire(asking, t2);
      if (!('permit' in got)) {
        if (t2 > giveUpAt) return void gaveUp++;
        asking = { ...asking, atMs: got.notBeforeMs };
        return at(got.busy ? Math.max(got.askAtMs, t2 + 250) : Math.max(got.askAtMs, t2), ask);
      }
      const arrival = Math.max(t2, got.permit.fromMs) + random(50);
      arrivals.push(arrival);
      at(arrival + random(300), async (t3) => {
        await store.release(got.permit, t3);
        await sendOne(t3);
      });
    };
    at(late, ask);
  };
  for (let i = 0; i < opts.senders; i++) at(T0, sendOne);
  while (steps.length) {
    steps.sort((a, b) => a.at - b.at);
    const next = steps.shift()!;
    await next.go(next.at);
  }
  const window = new SecondWindow();
  const overCap = arrivals.sort((a, b) => a - b).filter((t) => window.record(t) > mps).length;
  return { arrivals: arrivals.length, overCap, gaveUp };
}

describe('the pacer', () => {
  it('gives a number no more than its rate in any second, with no burst, and none before a hold ends', async () => {
    const store = new DynamoDbBroadcasts(w.doc, w.tableName);
    const pn = `phone-number-id-${randomUUID().replace(/-/g, '')}`;
    const now = T0;

    const slots: number[] = [];
    for (let i = 0; i < 120; i += 8) slots.push(...(await Promise.all(Array.from({ length: 8 }, (_, j) => store.reserve(pn, 80, String(i + j), now).then((x) => slotOf(x).atMs)))));
    slots.sort((a, b) => a - b);
    await store.hold(pn, 80, slots.at(-1)! + 5_000);
    const after = await Promise.all(Array.from({ length: 8 }, (_, i) => store.reserve(pn, 80, String(i), now).then((x) => slotOf(x).atMs)));

    for (let i = 0; i + 80 < slots.length; i++) expect(slots[i + 80]! - slots[i]!).toBeGreaterThanOrEqual(1000);
    expect(slots[0]).toBe(now);
    expect(slots.at(-1)! - slots[0]!).toBeLessThan((120 / (80 * PACING_SHARE)) * 1000);
    expect(Math.min(...after)).toBeGreaterThanOrEqual(slots.at(-1)! + 5_000);
  });

  it('lets no second see more sends arrive than the rate, however late each send runs behind its slot; slots alone did', async () => {
    const slotsOnly = await permitRun({ senders: 8, sends: 40, permits: false });
    const withPermits = await permitRun({ senders: 8, sends: 40, permits: true });

    expect(slotsOnly.overCap).toBeGreaterThan(0);
    expect(withPermits.overCap).toBe(0);
    expect(withPermits.arrivals).toBe(40);
  });

  it('serves eight times more waiting senders than permits with none giving up, and still none over the rate', async () => {
    // As the broadcast queue's batches give: far more senders waiting than there are permits.
    const crowd = await permitRun({ senders: 40, sends: 120, permits: true });

    expect(crowd.gaveUp).toBe(0);
    expect(crowd.arrivals).toBe(120);
    expect(crowd.overCap).toBe(0);
  });

  it('gives no slot further ahead than the horizon, and says when to ask again; a later ask gets the next slot', async () => {
    const store = new DynamoDbBroadcasts(w.doc, w.tableName);
    const pn = `phone-number-id-${randomUUID().replace(/-/g, '')}`;
    // One send a second (a single shard, slots 1 / PACING_SHARE seconds apart).
    const interval = 1000 / PACING_SHARE;
    const within = Math.floor(SLOT_HORIZON_MS / interval) + 1;

    const slots = [];
    for (let i = 0; i < within; i++) slots.push(slotOf(await store.reserve(pn, 1, '0', T0)).atMs);
    const refused = await store.reserve(pn, 1, '0', T0);
    const again = await store.reserve(pn, 1, '0', T0);
    const later = 'laterMs' in refused ? refused.laterMs : Number.NaN;
    const next = slotOf(await store.reserve(pn, 1, '0', later));

    // (DynamoDB adds in decimal: equal to a hundredth of a millisecond.)
    expect(slots.at(-1)! - T0).toBeLessThanOrEqual(SLOT_HORIZON_MS);
    expect(later).toBeCloseTo(T0 + within * interval - SLOT_HORIZON_MS, 2);
    // Refused asks take no slot: the next one given is the one after the last.
    expect(again).toEqual(refused);
    expect(next.atMs).toBeCloseTo(T0 + within * interval, 2);
  });

  it('spaces two messages to one user by the pair rate, and holds a pair back', async () => {
    const store = new DynamoDbBroadcasts(w.doc, w.tableName);
    const [u] = users(1);

    const first = await store.reservePair(PN, u!, T0, PAIR_INTERVAL_MS);
    const second = await store.reservePair(PN, u!, T0 + 1000, PAIR_INTERVAL_MS);
    const third = await store.reservePair(PN, u!, T0 + PAIR_INTERVAL_MS, PAIR_INTERVAL_MS);
    await store.holdPair(PN, u!, T0 + 60_000);
    const held = await store.reservePair(PN, u!, T0 + 30_000, PAIR_INTERVAL_MS);

    expect([first, second, third, held]).toEqual([T0, T0 + PAIR_INTERVAL_MS, T0 + PAIR_INTERVAL_MS, T0 + 60_000]);
  });

  it('keeps the messaging limit: at most the tier of unique users in 24 hours, a counted user passes again', async () => {
    const { doc, tableName } = await freshTable();
    const store = new DynamoDbBroadcasts(doc, tableName);
    const people = users(21);

    const first = await Promise.all(people.slice(0, 20).map((u) => store.admitUser(u, 20, 80, T0)));
    const over = await store.admitUser(people[20]!, 20, 80, T0 + 1000);
    const counted = await store.admitUser(people[0]!, 20, 80, T0 + 2000);
    const dayLater = await store.admitUser(people[20]!, 20, 80, T0 + 24 * 3600 * 1000 + 1);

    expect(first).toEqual(people.slice(0, 20).map(() => T0));
    expect(over).toBe(T0 + 24 * 3600 * 1000);
    expect(counted).toBe(T0 + 2000);
    expect(dayLater).toBe(T0 + 24 * 3600 * 1000 + 1);
  });

  it('reads the messaging limit of a phone_number_quality_update: the business tier first, then the older one; nothing from anything else', () => {
    const quality = (value: unknown) => messagingLimitOf({ field: 'phone_number_quality_update', value });
    expect(quality({ event: 'UPGRADE', old_limit: 'TIER_250', current_limit: 'TIER_2K', max_daily_conversations_per_business: 'TIER_2K' })).toBe(2000);
    expect(quality({ event: 'DOWNGRADE', current_limit: 'TIER_1K', max_daily_conversations_per_business: 'TIER_250' })).toBe(250);
    expect(quality({ event: 'UPGRADE', current_limit: 'TIER_10K' })).toBe(10_000);
    expect(quality({ event: 'THROUGHPUT_UPGRADE', current_limit: 'TIER_UNLIMITED', max_daily_conversations_per_business: 'TIER_UNLIMITED' })).toBe(Number.POSITIVE_INFINITY);
    expect(quality({ event: 'ONBOARDING', current_limit: 'TIER_NOT_SET', max_daily_conversations_per_business: 'TIER_NOT_SET' })).toBeUndefined();
    expect(quality({ event: 'FLAGGED', current_limit: 'TIER_5' })).toBeUndefined();
    expect(quality('TIER_50')).toBeUndefined();
    expect(messagingLimitOf({ field: 'account_update', value: { max_daily_conversations_per_business: 'TIER_50' } })).toBeUndefined();
  });

  it("sends to at most the messaging limit Meta last reported for the number's WABA, over the configured one, whatever order the reports arrive in", async () => {
    // Prepare: 20 configured; Meta reports 250, then 50 (a later report), delivered out of order and twice
    const { doc, tableName } = await freshTable();
    const WABA = `waba-${randomUUID().replace(/-/g, '')}`;
    const sender = Object.assign(Object.create(w.sender), { wabaOf: async (id: string) => (id === PN ? WABA : undefined) });
    // 25 messages a second: one shard of the users' ring, which then holds exactly the limit.
    const bw = broadcastWorld(w, { doc, tableName, sender, tierLimit: 20, mps: 25 });
    const report = (tier: string, atMs: number, awsWabaId = WABA) =>
      bw.feedback.onAccountEvent({ field: 'phone_number_quality_update', value: { event: 'DOWNGRADE', max_daily_conversations_per_business: tier }, awsWabaId, receivedAtMs: atMs });
    const sendTimes: number[] = [];
    sm.on(SendWhatsAppMessageCommand).callsFake(async () => {
      sendTimes.push(w.clock.now);
      return { messageId: randomUUID() };
    });
    const start = w.clock.now;

    // Act
    await report('TIER_50', start - 1000);
    await report('TIER_250', start - 2000);
    await report('TIER_50', start - 1000);
    await report('TIER_10K', start, `waba-${randomUUID().replace(/-/g, '')}`);
    const reported = await bw.store.reportedLimit(WABA);
    await sentBroadcast(bw, users(60));

    // Assess: 50 users on the first day, the other 10 once the first day's places free
    expect(reported).toBe(50);
    const day = 24 * 3600 * 1000;
    expect(sendTimes.filter((t) => t < start + day)).toHaveLength(50);
    expect(sendTimes.filter((t) => t >= start + day)).toHaveLength(10);
  });

  it('sends to at most the configured messaging limit while Meta has reported none, and reads a new report within LIMIT_READ_KEPT_MS', async () => {
    // Prepare: 20 configured, no report yet
    const { doc, tableName } = await freshTable();
    const WABA = `waba-${randomUUID().replace(/-/g, '')}`;
    const sender = Object.assign(Object.create(w.sender), { wabaOf: async () => WABA });
    const bw = broadcastWorld(w, { doc, tableName, sender, tierLimit: 20 });
    const sendTimes: number[] = [];
    sm.on(SendWhatsAppMessageCommand).callsFake(async () => {
      sendTimes.push(w.clock.now);
      return { messageId: randomUUID() };
    });
    const start = w.clock.now;

    // Act: 25 users; 24 hours on, Meta reports unlimited, and 30 more users
    await sentBroadcast(bw, users(25));
    const firstDay = sendTimes.filter((t) => t < start + 24 * 3600 * 1000).length;
    await bw.feedback.onAccountEvent({ field: 'phone_number_quality_update', value: { max_daily_conversations_per_business: 'TIER_UNLIMITED' }, awsWabaId: WABA, receivedAtMs: w.clock.now });
    w.clock.now += LIMIT_READ_KEPT_MS;
    const later = w.clock.now;
    await sentBroadcast(bw, users(30));

    // Assess
    expect(firstDay).toBe(20);
    expect(sendTimes.filter((t) => t >= later)).toHaveLength(30);
    expect(Math.max(...sendTimes) - later).toBeLessThan(60_000);
  });

  it('reads each number its own rate, the default for the others', () => {
    const mps = messagesPerSecondOf(80, `${PN}=20, other=2000`);
    expect([mps(PN), mps('other'), mps('third')]).toEqual([20, 1000, 80]);
  });
});

describe('broadcast feedback', () => {
  it('counts each status once, from counters, and a redelivered status changes nothing', async () => {
    const bw = broadcastWorld(w);
    const to = users(3);
    const id = await sentBroadcast(bw, to);
    const mid = (x: string) => messageIdForKey(PN, sendKeyOf(id, x));

    for (const x of to) for (const st of ['sent', 'delivered', 'read', 'read']) await bw.feedback.onStatus(status(id, x, mid(x), st));
    await bw.feedback.onStatus(status(id, to[0]!, 'msg_not_ours', 'failed', 131026));
    const view = await bw.broadcasts.get(id);

    expect(view.counts).toMatchObject({ sent: 3, queued: 0, inDoubt: 0 });
    expect(view.statuses).toEqual({ sent: 3, delivered: 3, read: 3 });
    expect(view.failures).toEqual({});
    expect(view.state).toBe('completed');
  });

  it('backs the number off after 130429 and sends that recipient again with a new key; any other code is not sent again', async () => {
    const bw = broadcastWorld(w);
    const [a, b] = users(2);
    const id = await sentBroadcast(bw, [a!, b!]);
    const first = (x: string) => messageIdForKey(PN, sendKeyOf(id, x));
    sm.resetHistory();

    const before = w.clock.now;
    await bw.feedback.onStatus(status(id, a!, first(a!), 'failed', 130429));
    await bw.feedback.onStatus(status(id, a!, first(a!), 'failed', 130429));
    await bw.feedback.onStatus(status(id, b!, first(b!), 'failed', 131026));
    const queuedJobs = bw.queue.jobs.flatMap((j) => ('to' in j.job ? [{ to: j.job.to, dueMs: j.dueMs - before }] : []));
    const slot = slotOf(await bw.store.reserve(PN, 80, '0', before)).atMs;
    await bw.drain();
    const view = await bw.broadcasts.get(id);
    const recipientA = await bw.store.getRecipient(id, a!);

    expect(queuedJobs).toEqual([{ to: a, dueMs: NUMBER_BACKOFF_MS }, { to: a, dueMs: NUMBER_BACKOFF_MS }]);
    expect(slot).toBeGreaterThanOrEqual(before + NUMBER_BACKOFF_MS);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
    expect(sentCalls(sm)[0]).toMatchObject({ originationPhoneNumberId: PN, message: { to: `+${a}`, type: 'template', template: hello, biz_opaque_callback_data: `${messageIdForKey(PN, sendKeyOf(id, a!, 1))}|broadcast:${id}` } });
    expect(recipientA).toMatchObject({ state: 'sent', attempt: 1, messageId: messageIdForKey(PN, sendKeyOf(id, a!, 1)) });
    expect(view.failures).toEqual({ '131026': 1 });
    expect(view.statuses).toEqual({ failed: 1 });
    expect(view.counts).toMatchObject({ sent: 2, queued: 0 });
    expect(view.state).toBe('completed');
  });

  it('sends no earlier than its slot and permit when timers wake early, as a busy event loop makes them', async () => {
    // Prepare: one message a second; every timer wakes after half the time it was set for
    const bw = broadcastWorld(w, { mps: 1 });
    const early = new Broadcasts({ ...bw.deps, sender: w.sender, queries: new DynamoDbQueries(w.doc, w.tableName), sleep: async (ms) => void (w.clock.now += Math.ceil(ms / 2)) });
    const arrivals: number[] = [];
    sm.on(SendWhatsAppMessageCommand).callsFake(async () => {
      arrivals.push(w.clock.now);
      return { messageId: randomUUID() };
    });

    // Act
    await early.create({ from: PN, template: hello, recipients: users(5).map((to) => ({ to })) });
    await bw.drain(early);

    // Assess: a second between any two sends
    expect(arrivals).toHaveLength(5);
    for (let i = 1; i < arrivals.length; i++) expect(arrivals[i]! - arrivals[i - 1]!).toBeGreaterThanOrEqual(1000);
  });

  it('backs the number off when AWS throttles, then sends', async () => {
    const bw = broadcastWorld(w);
    const [a] = users(1);
    let calls = 0;
    sm.on(SendWhatsAppMessageCommand).callsFake(async () => {
      if (calls++ < 10) throw new ThrottledRequestException({ message: 'slow down', $metadata: {} });
      return { messageId: randomUUID() };
    });

    const created = await bw.broadcasts.create({ from: PN, template: hello, recipients: [{ to: a! }] });
    const start = w.clock.now;
    await bw.drain();
    const view = await bw.broadcasts.get(created.id);

    expect(bw.queue.delays).toContain(NUMBER_BACKOFF_MS);
    expect(w.clock.now - start).toBeGreaterThanOrEqual(NUMBER_BACKOFF_MS);
    expect(view.counts).toMatchObject({ sent: 1, queued: 0, sending: 0 });
  });

  it('sends a job whose slot is beyond the horizon later, without claiming it first, and once', async () => {
    const bw = broadcastWorld(w);
    const [a] = users(1);
    const created = await bw.broadcasts.create({ from: PN, template: hello, recipients: [{ to: a! }] });
    // The number is held back a minute (a 130429 back-off from another broadcast, say).
    const start = w.clock.now;
    await bw.store.hold(PN, 80, start + 60_000);
    const job = bw.queue.take()!.job as BroadcastJob;

    await bw.broadcasts.process(job);
    const deferred = { recipient: await bw.store.getRecipient(created.id, a!), delays: [...bw.queue.delays] };
    await bw.drain();

    expect(deferred.recipient).toMatchObject({ state: 'queued' });
    expect(deferred.delays.at(-1)).toBe(60_000 - SLOT_HORIZON_MS);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
    expect(w.clock.now).toBeGreaterThanOrEqual(start + 60_000);
    expect((await bw.broadcasts.get(created.id)).counts).toMatchObject({ sent: 1, queued: 0, sending: 0 });
  });

  it('does not send from a copy of a job that waited for its slot while the other copy sent it and a 130429 queued the next attempt', async () => {
    const bw = broadcastWorld(w);
    const [a] = users(1);
    const created = await bw.broadcasts.create({ from: PN, template: hello, recipients: [{ to: a! }] });
    const job = bw.queue.take()!.job as BroadcastJob;
    const first = messageIdForKey(PN, sendKeyOf(created.id, a!));
    // The number's next slot is 5 s ahead: this copy reads the recipient, then waits for it.
    await bw.store.hold(PN, 80, w.clock.now + 5_000);
    let meanwhile = async () => {
      meanwhile = async () => {};
      // The other copy claimed and sent attempt 0; WhatsApp failed it with 130429, which queued attempt 1.
      await bw.store.transition(created.id, a!, 'queued', 'sending', { messageId: first }, { seq: job.seq });
      await bw.store.transition(created.id, a!, 'sending', 'sent', {}, { seq: job.seq, messageId: first });
      await bw.feedback.onStatus(status(created.id, a!, first, 'failed', 130429));
    };
    const copy = new Broadcasts({
      ...bw.deps,
      sender: w.sender,
      queries: new DynamoDbQueries(w.doc, w.tableName),
      sleep: async (ms) => {
        await meanwhile();
        w.clock.now += ms;
      },
    });

    await copy.process(job);
    const afterCopy = { recipient: await bw.store.getRecipient(created.id, a!), sends: sentCalls(sm).length };
    await bw.drain();

    expect(afterCopy).toEqual({ recipient: expect.objectContaining({ state: 'queued', attempt: 1 }), sends: 0 });
    expect(sentCalls(sm).map((c) => c.message.biz_opaque_callback_data)).toEqual([`${messageIdForKey(PN, sendKeyOf(created.id, a!, 1))}|broadcast:${created.id}`]);
    expect(await bw.store.getRecipient(created.id, a!)).toMatchObject({ state: 'sent', attempt: 1 });
  });

  it('counts a send stuck in sending as in doubt, never sends it again, and its status settles it', async () => {
    const bw = broadcastWorld(w);
    const [a] = users(1);
    const created = await bw.broadcasts.create({ from: PN, template: hello, recipients: [{ to: a! }] });
    const job = bw.queue.take()!.job as BroadcastJob;
    // The attempt claims the recipient, then its container dies before AWS answers.
    sm.on(SendWhatsAppMessageCommand).callsFake(() => new Promise(() => {}));
    void bw.broadcasts.process(job);
    await expectEventually(async () => sm.commandCalls(SendWhatsAppMessageCommand).length === 1);
    sm.on(SendWhatsAppMessageCommand).callsFake(async () => ({ messageId: randomUUID() }));
    const before = (await bw.broadcasts.get(created.id)).counts;

    await bw.broadcasts.process(job); // SQS redelivers the job: too early to call it
    const early = bw.queue.jobs.length;
    w.clock.now += SEND_IN_PROGRESS_MS + 1000;
    await bw.drain();
    const inDoubt = await bw.broadcasts.get(created.id);
    await bw.feedback.onStatus(status(created.id, a!, messageIdForKey(PN, sendKeyOf(created.id, a!)), 'delivered'));
    const settled = await bw.broadcasts.get(created.id);

    expect(before).toMatchObject({ sending: 1 });
    expect(early).toBe(1);
    expect(inDoubt.counts).toMatchObject({ sending: 0, inDoubt: 1 });
    expect(inDoubt.state).toBe('completed');
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, 1);
    expect(settled.counts).toMatchObject({ inDoubt: 0, sent: 1 });
    expect(settled.statuses).toEqual({ delivered: 1 });
  });
});

describe('suppressions', () => {
  it("skips the users suppressed for the business in a MARKETING broadcast from any of its numbers: a STOP to another number, a 131050 failure, a number's own list of before; other codes and categories suppress nobody", async () => {
    const WABA = `waba-${randomUUID().replace(/-/g, '')}`;
    const SALES = `phone-number-id-${randomUUID().replace(/-/g, '')}`;
    const store = new DynamoDbSuppressions(w.doc, w.tableName);
    const wabaOf = async (id: string) => (id === PN || id === SALES ? WABA : undefined);
    const suppressions = new Suppressions({ store, now: () => w.clock.now, wabaOf });
    const bw = broadcastWorld(w, { suppressions });
    const [stopper, optedOut, other, reached, before] = users(5);
    // An earlier MARKETING broadcast: one user answers STOP to the business's other number, another's
    // send fails with 131050, a third with 131026; a fourth is on the number's own list, kept by an earlier version.
    const earlier = `bc_${randomUUID().replace(/-/g, '')}`;
    const marketing = (id: string, to: string[]) =>
      bw.store.create({ id, state: 'queued', phoneNumberId: PN, template: hello, total: to.length, createdAt: new Date(w.clock.now).toISOString(), counts: { queued: to.length, sending: 0, sent: 0, failed: 0, in_doubt: 0, cancelled: 0, skipped: 0 }, category: 'MARKETING' });
    await marketing(earlier, [optedOut!, other!]);
    await bw.store.addRecipients(earlier, [optedOut!, other!].map((to, seq) => ({ to, seq, state: 'queued' as const })));
    await bw.queue.enqueue([optedOut!, other!].map((to, seq) => ({ broadcastId: earlier, to, seq })));
    await bw.drain();
    await bw.feedback.onInbound({ type: 'text', content: { body: ' stop ' }, contactId: stopper!, business: { phoneNumberId: SALES, metaPhoneNumberId: '2', awsWabaId: WABA } });
    await bw.feedback.onInbound({ type: 'text', content: { body: 'stop please' }, contactId: reached!, business: { phoneNumberId: SALES, metaPhoneNumberId: '2', awsWabaId: WABA } });
    const withBusiness = (x: ReturnType<typeof status>) => ({ ...x, business: { awsWabaId: WABA } });
    await bw.feedback.onStatus(withBusiness(status(earlier, optedOut!, messageIdForKey(PN, sendKeyOf(earlier, optedOut!)), 'failed', 131050)));
    await bw.feedback.onStatus(withBusiness(status(earlier, other!, messageIdForKey(PN, sendKeyOf(earlier, other!)), 'failed', 131026)));
    await store.add(PN, before!, 'api', w.clock.now);
    sm.resetHistory();

    const next = `bc_${randomUUID().replace(/-/g, '')}`;
    const all = [stopper!, optedOut!, other!, reached!, before!];
    await marketing(next, all);
    await bw.store.addRecipients(next, all.map((to, seq) => ({ to, seq, state: 'queued' as const })));
    await bw.queue.enqueue(all.map((to, seq) => ({ broadcastId: next, to, seq })));
    w.clock.now += PAIR_INTERVAL_MS;
    await bw.drain();
    const view = await bw.broadcasts.get(next);
    const listed = await suppressions.list(WABA, { limit: 10 });

    expect(view.counts).toMatchObject({ skipped: 3, sent: 2, queued: 0 });
    expect(sentCalls(sm).map((c) => c.message.to).sort()).toEqual([`+${other}`, `+${reached}`].sort());
    expect(listed.items.map((x) => [x.to, x.reason, x.wabaId, x.phoneNumberId]).sort()).toEqual(
      [
        [optedOut, 'meta_131050', WABA, PN],
        [stopper, 'stop_keyword', WABA, SALES],
      ].sort(),
    );
  });

  it("keeps a stop under the number when the WABA is not known: a check reads it, the business's list shows it, a removal through the business clears it", async () => {
    const store = new DynamoDbSuppressions(w.doc, w.tableName);
    const WABA = `waba-${randomUUID().replace(/-/g, '')}`;
    const [u] = users(1);
    // The inbound function cannot look a WABA up: an envelope that names none keeps the stop under the number.
    await new Suppressions({ store, now: () => w.clock.now }).suppress({ phoneNumberId: PN }, u!, 'stop_keyword');
    const api = new Suppressions({ store, now: () => w.clock.now, wabaOf: async () => WABA });

    const suppressed = await api.isSuppressed(PN, u!);
    const listed = await api.list(WABA, { limit: 10 }, [PN]);
    await api.remove(WABA, u!, [PN]);
    const after = await api.isSuppressed(PN, u!);
    const again = await api.remove(WABA, u!, [PN]).catch((err: { code?: string }) => err.code);

    expect(suppressed).toBe(true);
    expect(listed.items.filter((x) => x.to === u)).toMatchObject([{ to: u, wabaId: PN, reason: 'stop_keyword' }]);
    expect(after).toBe(false);
    expect(again).toBe('suppression_not_found');
  });
});

async function expectEventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition never held');
}
