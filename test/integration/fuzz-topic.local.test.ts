/**
 * Fuzz end to end: mutated envelopes published to the local event topic, as End User Messaging
 * Social publishes them, through SQS, the poller and the inbound handler. None reaches the DLQ;
 * each is stored or quarantined. FUZZ_TOPIC sets the count (`npm run fuzz`: a few thousand).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUZZ_SEED, fuzzCount, mutatedEvents, pool, timeoutFor } from '../support/fuzz.ts';
import { startLocalStack, type LocalStack } from '../support/local-stack.ts';

const COUNT = fuzzCount('FUZZ_TOPIC', 200);

let stack: LocalStack;
beforeAll(async () => {
  stack = await startLocalStack();
});
afterAll(() => stack?.stop());

describe('fuzzed envelopes through the event topic', () => {
  it(
    `leaves none of ${COUNT} mutated envelopes (seed ${FUZZ_SEED + 1}) in the DLQ`,
    async () => {
      const poller = stack.runtime.pollers['inbound-events']!;
      // SNS takes messages up to 256 KB: huge strings stay well under it.
      await pool(mutatedEvents(COUNT, FUZZ_SEED + 1, { maxStringBytes: 60_000 }), 8, async (e) => {
        await stack.publish(e.message);
      });
      await stack.drained(timeoutFor(COUNT, 150));

      const { dlqUrl } = stack.runtime.info.queues['inbound-events']!;
      const inDlq = await stack.depth(dlqUrl);
      const quarantined = (await stack.items('quarantine')).length;
      const c = poller.counters;
      console.info(`fuzz through the topic: ${COUNT} (seed ${FUZZ_SEED + 1}): ${inDlq} in the DLQ, ${quarantined} quarantined items, ${JSON.stringify(c)}`);
      expect(inDlq).toBe(0);
      expect(c.handlerErrors).toBe(0);
      // Every publish was received and deleted once handled (a transient failure may bring one back).
      expect(c.deleted).toBe(COUNT);
      expect(quarantined).toBeGreaterThan(0);
    },
    timeoutFor(COUNT, 200) + 60_000,
  );
});
