/**
 * Crash points of the broadcast worker (DynamoDB Local, the socialmessaging client mocked): the
 * worker's container dies at any one of its calls to DynamoDB or AWS, before the call or after it
 * took effect (its promise never settles, so no code after it runs), then SQS redelivers the jobs
 * to a new container. Whatever the point: no recipient is sent twice, and every recipient not in
 * doubt is sent exactly once, with the exact command input.
 */
import { randomUUID } from 'node:crypto';
import { SendWhatsAppMessageCommand, SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOutbound } from '../../shared/adapters/dynamodb-outbound.ts';
import { sendKeyOf } from '../../shared/domain/broadcasts.ts';
import type { WhatsAppGateway } from '../../shared/ports/whatsapp-gateway.ts';
import { messageIdForKey, SEND_IN_PROGRESS_MS } from '../../shared/domain/send-message.ts';
import { broadcastWorld, MemoryQueue } from '../support/broadcasts.ts';
import { PN, sendWorld, sentCalls, type SendWorld } from '../support/send.ts';

const T0 = Date.parse('2026-03-06T08:00:00.000Z');
const sm = mockClient(SocialMessagingClient);
let w: SendWorld;
let run = 0;
/** What the runs went through: the property must have met crashes, and sends left in doubt. */
const seen = { crashed: 0, inDoubt: 0 };
const hello = { name: 'hello_world', language: { code: 'en_US' } };

beforeAll(async () => {
  w = await sendWorld(T0);
});
afterAll(() => sm.restore());

/** Counts calls; at call `at` (before it, or after it took effect) hangs for ever and says so. */
function crashPoint(at: number, after: boolean) {
  let calls = 0;
  let crashed!: () => void;
  const signal = new Promise<'crashed'>((resolve) => (crashed = () => resolve('crashed')));
  const hang = () => new Promise<never>(() => {});
  const wrap = async <T>(call: () => Promise<T>): Promise<T> => {
    const i = calls++;
    if (i !== at) return call();
    if (!after) {
      crashed();
      return hang();
    }
    await call();
    crashed();
    return hang();
  };
  return { wrap, signal, calls: () => calls };
}

describe('broadcast worker crash points', () => {
  it('no recipient is sent twice; every one not in doubt is sent exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.nat({ max: 60 }), fc.boolean(), async (size, at, after) => {
        run++;
        w.clock.now = T0 + run * 3_600_000;
        sm.reset();
        sm.on(SendWhatsAppMessageCommand).callsFake(async () => ({ messageId: randomUUID() }));
        const to = Array.from({ length: size }, (_, i) => `1418${String(run).padStart(4, '0')}${i}00`);
        const crash = crashPoint(at, after);
        // The dying container: every DynamoDB and AWS call goes through the crash point.
        const doc = new Proxy(w.doc, {
          get: (target, prop, receiver) => (prop === 'send' ? (cmd: unknown) => crash.wrap(() => (target.send as (c: unknown) => Promise<unknown>)(cmd)) : Reflect.get(target, prop, receiver)),
        }) as DynamoDBDocumentClient;
        const gateway: WhatsAppGateway = { sendMessage: (input) => crash.wrap(() => w.gateway.sendMessage(input)), getPhoneNumber: (id) => w.gateway.getPhoneNumber(id) };
        const dying = w.restart({ gateway, store: new DynamoDbOutbound(doc, w.tableName) });
        const queue = new MemoryQueue(w.clock);
        const first = broadcastWorld(w, { doc, sender: dying.sender, queue });
        const healthy = broadcastWorld(w, { queue });

        const created = await healthy.broadcasts.create({ from: PN, template: hello, recipients: to.map((x) => ({ to: x })) });
        // The first container takes jobs until it dies; the job it held comes back (not acknowledged).
        for (let next = queue.take(); next; next = queue.take()) {
          w.clock.now = Math.max(w.clock.now, next.dueMs);
          const outcome = await Promise.race([first.broadcasts.handle(next.job).then(() => 'done' as const, () => 'threw' as const), crash.signal]);
          if (outcome !== 'done') {
            queue.jobs.push({ job: next.job, dueMs: w.clock.now + SEND_IN_PROGRESS_MS + 1000 });
            if (outcome === 'crashed') {
              seen.crashed++;
              break;
            }
          }
        }
        await healthy.drain();

        const sends = sentCalls(sm);
        const view = await healthy.broadcasts.get(created.id);
        const states = await Promise.all(to.map((x) => healthy.store.getRecipient(created.id, x)));
        for (const [i, x] of to.entries()) {
          const mine = sends.filter((s) => s.message.to === `+${x}`);
          expect(mine.length).toBeLessThanOrEqual(1);
          if (states[i]!.state !== 'in_doubt') {
            expect(states[i]!.state).toBe('sent');
            expect(mine).toHaveLength(1);
            expect(mine[0]).toEqual({
              originationPhoneNumberId: PN,
              metaApiVersion: 'v24.0',
              message: {
                messaging_product: 'whatsapp',
                to: `+${x}`,
                type: 'template',
                template: hello,
                biz_opaque_callback_data: `${messageIdForKey(PN, sendKeyOf(created.id, x))}|broadcast:${created.id}`,
              },
            });
          }
        }
        if (view.counts.inDoubt > 0) seen.inDoubt++;
        expect(view.counts.sent + view.counts.inDoubt).toBe(size);
        expect(view.counts).toMatchObject({ queued: 0, sending: 0, failed: 0 });
        expect(view.state).toBe('completed');
      }),
      { numRuns: Number(process.env.BROADCAST_CRASH_RUNS ?? 12), seed: Number(process.env.BROADCAST_CRASH_SEED ?? 1616) },
    );
    expect(seen.crashed).toBeGreaterThan(0);
    expect(seen.inDoubt).toBeGreaterThan(0);
  }, 240_000);
});
