/**
 * Against the real local stack (event topic → SQS → poller → inbound handler → DynamoDB Local):
 * concurrent batches that mix poison and good events store each good event once and quarantine
 * each poison one, and nothing reaches the DLQ or is deleted unseen. Events the previous code
 * parked in the DLQ, redriven, end in quarantine.
 */
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryOf, eumFixture, snsNotification, withEntry } from '../support/events.ts';
import { startLocalStack, type LocalStack } from '../support/local-stack.ts';

let stack: LocalStack;
beforeAll(async () => {
  stack = await startLocalStack();
});
afterAll(() => stack?.stop());

/** A good inbound text message, its own wamid and sender. */
function goodMessage(n: number): { envelope: string; wamid: string } {
  const env = eumFixture('inbound-text');
  const entry = entryOf(env);
  const msg = entry.changes[0].value.messages[0];
  msg.id = `wamid.GOOD${n}`;
  msg.from = `1650555${String(n).padStart(4, '0')}`;
  entry.changes[0].value.contacts[0].wa_id = msg.from;
  return { envelope: JSON.stringify(withEntry(env, entry)), wamid: msg.id };
}

function editedText(edit: (entry: any) => void): string {
  const env = eumFixture('inbound-text');
  const entry = entryOf(env);
  edit(entry);
  return JSON.stringify(withEntry(env, entry));
}

/** Envelopes no code can make sense of; each distinct, so each is one quarantined item. */
const POISON: string[] = [
  'not json {',
  '[]',
  'null',
  '{}',
  JSON.stringify({ whatsAppWebhookEntry: '{}' }),
  JSON.stringify({ ...eumFixture('inbound-text'), whatsAppWebhookEntry: '{oops' }),
  editedText((e) => (e.changes = 'nope')),
  editedText((e) => (e.changes[0].value.messages[0].timestamp = '99999999999999')),
  editedText((e) => (e.changes[0].value.messages[0].timestamp = '1e999')),
  editedText((e) => delete e.changes[0].value.messages[0].from),
  editedText((e) => (e.changes[0].value.messages[0].text = { body: 42 })),
  editedText((e) => delete e.changes[0].value.metadata),
  editedText((e) => (e.changes[0].value.metadata.phone_number_id = '000')),
  editedText((e) => (e.changes[0].value.messages = [])),
];

describe('concurrent batches of poison and good events', () => {
  it('stores each good event once, quarantines each poison one, and leaves nothing in the DLQ', async () => {
    const goods = Array.from({ length: 80 }, (_, i) => goodMessage(i));
    // Poison spread through the load, published in parallel so that batches mix both.
    const load = goods.map((g) => g.envelope);
    POISON.forEach((p, i) => load.splice((i * 7) % load.length, 0, p));
    const poller = stack.runtime.pollers['inbound-events']!;
    const before = { ...poller.counters };

    await Promise.all(load.map((m) => stack.publish(m)));
    await stack.drained(120_000);

    const messages = await stack.items('message');
    const stored = messages.filter((m) => String(m.wamid).startsWith('wamid.GOOD'));
    expect(stored.map((m) => m.wamid).sort()).toEqual(goods.map((g) => g.wamid).sort());
    const quarantined = await stack.items('quarantine');
    expect(quarantined).toHaveLength(POISON.length);
    for (const q of quarantined) expect(q.reason).toEqual(expect.any(String));
    expect(new Set(quarantined.map((q) => JSON.parse(q.raw).Message))).toEqual(new Set(POISON));
    const inbound = stack.runtime.info.queues['inbound-events']!;
    expect(await stack.depth(inbound.dlqUrl)).toBe(0);
    // Nothing deleted unseen: every record taken was handled, and each was deleted once.
    const c = poller.counters;
    expect(c.handlerErrors - before.handlerErrors).toBe(0);
    expect(c.deleted - before.deleted).toBe(c.records - before.records - (c.failures - before.failures));
    expect(c.deleted - before.deleted).toBe(load.length);
  }, 150_000);
});

describe('events parked in the DLQ by the previous code', () => {
  it('end in quarantine with their reason once redriven through the fixed handler', async () => {
    // What the previous handler threw on, and so left to the DLQ after its receives.
    const parked = [
      editedText((e) => Object.assign(e.changes[0].value.messages[0], { type: 'constructor', id: 'wamid.PARKED1' })),
      editedText((e) => (e.changes[0].value.messages[0].timestamp = '99999999999998')),
      JSON.stringify({
        ...eumFixture('template-status-update'),
        whatsAppWebhookEntry: (eumFixture('template-status-update').whatsAppWebhookEntry as string).replace('1689556908129832', '16895569081298329999'),
      }),
      editedText((e) => {
        e.changes[0].value.statuses = [{ id: 'wamid.X', status: 'sent', timestamp: '99999999999997', recipient_id: '1' }];
        delete e.changes[0].value.messages;
      }),
    ];
    const { url, dlqUrl } = stack.runtime.info.queues['inbound-events']!;
    for (const p of parked) await stack.sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: snsNotification(p) }));

    // A redrive: each message moved from the DLQ back to its source queue.
    let moved = 0;
    while (moved < parked.length) {
      const out = await stack.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of out.Messages ?? []) {
        await stack.sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: m.Body! }));
        await stack.sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: m.ReceiptHandle! }));
        moved++;
      }
    }
    await stack.drained(60_000);

    expect(await stack.depth(dlqUrl)).toBe(0);
    // The unknown type and the large template id are understood now: stored, not quarantined.
    const messages = await stack.items('message');
    expect(messages.some((m) => m.type === 'constructor')).toBe(true);
    const [template] = (await stack.items('accountEvent')).filter((a) => a.field === 'message_template_status_update');
    expect(template!.value.message_template_id).toBe('16895569081298329999');
    // The out-of-range timestamps are quarantined with the reason.
    const redriven = (await stack.items('quarantine')).filter((q) => /9999999999999[78]/.test(q.raw));
    expect(redriven).toHaveLength(2);
    for (const q of redriven) expect(q.reason).toMatch(/timestamp: out of the range of dates/);
  }, 90_000);
});
