/**
 * `POST /v1/quarantine/{id}/replay` from the outside, on the local stack (event topic → SQS →
 * inbound handler → DynamoDB Local; the HTTP API): events an earlier version of the inbound code
 * refused sit in quarantine; after the fix (the API runs today's code) a replay stores each once,
 * however often and however concurrently it is asked for.
 */
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHandler as makeInbound } from '../../lambdas/inbound/handler.ts';
import { documentClient } from '../../shared/adapters/aws-clients.ts';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import type { InboundMessage } from '../../shared/domain/types.ts';
import { PermanentWriteError } from '../../shared/ports/event-store.ts';
import { entryOf, eumFixture, withEntry } from '../support/events.ts';
import { startLocalStack, type LocalStack } from '../support/local-stack.ts';
import { eventually } from './support/target.ts';

/** The inbound code before the fix: it refused every message whose wamid starts `wamid.BUG`. */
class BuggyStore extends DynamoDbStore {
  override async recordInbound(m: InboundMessage) {
    if (m.wamid.startsWith('wamid.BUG')) throw new PermanentWriteError('refused by the code before the fix');
    return super.recordInbound(m);
  }
}

let stack: LocalStack;
beforeAll(async () => {
  let inbound: ReturnType<typeof makeInbound> | undefined;
  stack = await startLocalStack({
    handlers: {
      queues: {
        // Built on first use: the runtime sets the table's name and endpoint when it starts.
        'inbound-events': (event: SQSEvent, context) =>
          (inbound ??= makeInbound({ store: new BuggyStore(documentClient(), process.env.TABLE_NAME!) }))(event, context),
      },
    },
  });
});
afterAll(() => stack?.stop());

const api = async (method: string, path: string) => {
  const res = await fetch(`${stack.runtime.info.apiUrl}${path}`, { method });
  return { status: res.status, body: (await res.json()) as any };
};

function textMessage(wamid: string, from: string): string {
  const env = eumFixture('inbound-text');
  const entry = entryOf(env);
  const msg = entry.changes[0].value.messages[0];
  msg.id = wamid;
  msg.from = from;
  entry.changes[0].value.contacts[0].wa_id = from;
  return JSON.stringify(withEntry(env, entry));
}

/** The quarantine item of the event that carried `marker`, once the API lists it. */
const quarantinedWith = (marker: string) =>
  eventually(async () => {
    const { body } = await api('GET', '/v1/quarantine?limit=100');
    return (body.items as Array<{ id: string; raw: string; reason: string; replayedAt?: string }>).find((q) => q.raw.includes(marker));
  }, `the quarantined event holding ${marker}`, 60_000);

describe('quarantine replay', () => {
  it('stores a refused event after the fix, once: a second replay answers the first and stores nothing', async () => {
    // Prepare
    await stack.publish(textMessage('wamid.BUG1', '16505550101'));
    const item = await quarantinedWith('wamid.BUG1');
    expect(item.reason).toContain('refused by the code before the fix');
    expect((await api('GET', '/v1/messages/wamid.BUG1')).status).toBe(404);

    // Act
    const first = await api('POST', `/v1/quarantine/${item.id}/replay`);
    const second = await api('POST', `/v1/quarantine/${item.id}/replay`);

    // Assess
    expect(first).toEqual({ status: 200, body: { id: item.id, replayedAt: expect.any(String), messages: 1, statuses: 0, accountEvents: 0, alreadyReplayed: false } });
    expect(second).toEqual({ status: 200, body: { ...first.body, alreadyReplayed: true } });
    const message = await api('GET', '/v1/messages/wamid.BUG1');
    expect(message.body).toMatchObject({ wamid: 'wamid.BUG1', direction: 'inbound', status: 'received', content: { body: 'Does it come in another color?' } });
    expect((await quarantinedWith('wamid.BUG1')).replayedAt).toBe(first.body.replayedAt);
    const conversations = await stack.items('conversation');
    expect(conversations.filter((c) => c.contactId === '16505550101').map((c) => c.messageCount)).toEqual([1]);
  });

  it('of five replays at once, one stores the event and all answer that one', async () => {
    // Prepare
    await stack.publish(textMessage('wamid.BUG2', '16505550102'));
    const item = await quarantinedWith('wamid.BUG2');

    // Act
    const answers = await Promise.all(Array.from({ length: 5 }, () => api('POST', `/v1/quarantine/${item.id}/replay`)));

    // Assess
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.filter((a) => !a.body.alreadyReplayed)).toHaveLength(1);
    expect(new Set(answers.map((a) => a.body.replayedAt)).size).toBe(1);
    const messages = (await stack.items('message')).filter((m) => m.wamid === 'wamid.BUG2');
    expect(messages).toHaveLength(1);
    const conversations = await stack.items('conversation');
    expect(conversations.filter((c) => c.contactId === '16505550102').map((c) => c.messageCount)).toEqual([1]);
  });

  it('answers 422 with the reason for an event that still cannot be stored, and leaves it to replay later', async () => {
    // Prepare
    await stack.publish('not json {wamid.POISON');
    const item = await quarantinedWith('wamid.POISON');

    // Act
    const answer = await api('POST', `/v1/quarantine/${item.id}/replay`);

    // Assess
    expect(answer).toEqual({ status: 422, body: { error: { code: 'quarantine_still_invalid', message: `The event still cannot be stored: ${item.reason}` } } });
    expect(item.reason).toBe('SNS Message is not JSON');
    expect((await quarantinedWith('wamid.POISON')).replayedAt).toBeUndefined();
  });

  it('answers 404 for an id no event has, well-formed or not', async () => {
    for (const id of ['0'.repeat(64), 'abc', encodeURIComponent('../../x')]) {
      const answer = await api('POST', `/v1/quarantine/${id}/replay`);
      expect(answer.status, id).toBe(404);
      expect(answer.body.error.code, id).toBe('quarantine_not_found');
    }
  });
});
