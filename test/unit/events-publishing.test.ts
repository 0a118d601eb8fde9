import { PublishBatchCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbUnpublishedEvents } from '../../shared/adapters/dynamodb-unpublished.ts';
import { batchesOf, MAX_BATCH_BYTES, SnsEventPublisher } from '../../shared/adapters/sns-events.ts';
import type { DomainEvent } from '../../shared/domain/events.ts';
import { publishChanges, replayUnpublished } from '../../shared/domain/publish-events.ts';
import { freshTable } from '../support/dynamodb.ts';

const quar = (n: number) => ({ PK: `QUAR#${n}`, SK: 'QUAR', entity: 'quarantine', id: `q${n}`, reason: 'bad', receivedAt: `2026-01-01T00:00:${String(n).padStart(2, '0')}.000Z` });
const noReads = { getMessage: async () => undefined };
const noSleep = { sleep: async () => {} };

let unpublished: DynamoDbUnpublishedEvents;
beforeAll(async () => {
  const { doc, tableName } = await freshTable();
  unpublished = new DynamoDbUnpublishedEvents(doc, tableName);
});

describe('publishing events to SNS', () => {
  it('publishes in PublishBatch requests of 10 with the type and phoneNumberId attributes', async () => {
    const sns = mockClient(SNSClient);
    sns.on(PublishBatchCommand).callsFake((input) => ({ Successful: input.PublishBatchRequestEntries.map((e: { Id: string }) => ({ Id: e.Id })) }));
    const changes = Array.from({ length: 23 }, (_, n) => ({ id: String(n), newImage: quar(n) }));
    const out = await publishChanges(changes, { messages: noReads, publisher: new SnsEventPublisher(new SNSClient({}), 'arn:topic', noSleep), unpublished });
    expect(out).toEqual({ failedChangeIds: [], published: 23, parked: 0 });
    const calls = sns.commandCalls(PublishBatchCommand);
    expect(calls.map((c) => c.args[0].input.PublishBatchRequestEntries!.length)).toEqual([10, 10, 3]);
    const entry = calls[0]!.args[0].input.PublishBatchRequestEntries![0]!;
    expect(calls[0]!.args[0].input.TopicArn).toBe('arn:topic');
    expect(entry.MessageAttributes).toEqual({ type: { DataType: 'String', StringValue: 'event.quarantined' } });
    expect(JSON.parse(entry.Message!)).toMatchObject({ specversion: '1.0', type: 'event.quarantined', subject: 'q0' });
    sns.restore();
  });

  it('retries only the entries SNS failed as retryable; what still fails is parked whole, and the replay publishes it', async () => {
    const sns = mockClient(SNSClient);
    let calls = 0;
    sns.on(PublishBatchCommand).callsFake((input) => {
      calls++;
      const entries = input.PublishBatchRequestEntries as Array<{ Id: string; Message: string }>;
      // q1 is refused every time (a server fault), q2 once.
      const failed = entries.filter((e) => e.Message.includes('"q1"') || (calls === 1 && e.Message.includes('"q2"')));
      return { Successful: entries.filter((e) => !failed.includes(e)).map((e) => ({ Id: e.Id })), Failed: failed.map((e) => ({ Id: e.Id, Code: 'InternalError', SenderFault: false })) };
    });
    const publisher = new SnsEventPublisher(new SNSClient({}), 'arn:topic', noSleep);
    const out = await publishChanges([0, 1, 2].map((n) => ({ id: String(n), newImage: quar(n) })), { messages: noReads, publisher, unpublished });
    expect(out).toEqual({ failedChangeIds: [], published: 2, parked: 1 });
    const parked = await unpublished.list(10);
    expect(parked.map((e) => e.subject)).toEqual(['q1']);

    sns.on(PublishBatchCommand).callsFake((input) => ({ Successful: input.PublishBatchRequestEntries.map((e: { Id: string }) => ({ Id: e.Id })) }));
    expect(await replayUnpublished({ publisher, unpublished })).toBe(1);
    expect(await unpublished.list(10)).toEqual([]);
    sns.restore();
  });

  it('reports the change when its events can be neither published nor parked, and when its message cannot be read', async () => {
    const failing = { publish: async (events: readonly DomainEvent[]) => ({ failed: [...events] }) };
    const brokenPark = { park: async () => Promise.reject(new Error('down')), list: async () => [], remove: async () => {} };
    // A send's event needs the merged Message (its statuses may live on other items): a read.
    const send = { PK: 'MSG#m', SK: 'MSG', entity: 'message', id: 'msg_x', direction: 'outbound', type: 'text', sendState: 'sent' };
    const out = await publishChanges(
      [
        { id: 's1', newImage: quar(1) },
        { id: 's2', newImage: send },
      ],
      { messages: { getMessage: async () => Promise.reject(new Error('throttled')) }, publisher: failing, unpublished: brokenPark },
    );
    expect(out.failedChangeIds.sort()).toEqual(['s1', 's2']);
    // An inbound message is whole in its own image: no read, so a failing read side does not hold it.
    const inbound = { ...send, direction: 'inbound', sendState: undefined, wamid: 'wamid.x' };
    const c: DomainEvent[] = [];
    const ok = await publishChanges([{ id: 's3', newImage: inbound }], {
      messages: { getMessage: async () => Promise.reject(new Error('throttled')) },
      publisher: { publish: async (events) => (c.push(...events), { failed: [] }) },
      unpublished: brokenPark,
    });
    expect(ok.failedChangeIds).toEqual([]);
    expect(c.map((e) => e.type)).toEqual(['message.received']);
  });

  it('keeps requests under 256 KiB and ten entries', () => {
    const big = (n: number) => ({ id: `e${n}`, type: 'event.quarantined', data: { reason: 'x'.repeat(100_000) } }) as unknown as DomainEvent;
    const batches = batchesOf([big(1), big(2), big(3), big(4)]);
    expect(batches.map((b) => b.length)).toEqual([2, 2]);
    expect(batches.every((b) => JSON.stringify(b).length < MAX_BATCH_BYTES)).toBe(true);
  });
});
