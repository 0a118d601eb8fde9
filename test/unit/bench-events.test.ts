/**
 * The events bench's judgement: which rate each goal is judged at, and how it finds the request that
 * writes a message's item whatever the store's write plan (a put, a transaction, a batch).
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { eventsGoals, eventsPhases, messageItemsWritten, type EventsBench, type EventsPhase } from '../../bench/events.ts';

const spread = (p99: number) => ({ p50: p99 / 2, p90: p99, p99, max: p99 });
const phase = (perSecond: number, p99: number, events: number, sns: number, sqs: number): EventsPhase => ({
  messages: events,
  perSecond,
  delivered: events,
  lag: spread(p99),
  lagFromStoreCall: spread(p99 + 100),
  split: {},
  eventsPublished: events,
  snsRequests: sns,
  deliverySqsRequests: sqs,
  deliveryPollerRequests: sqs,
  handlerSqsRequests: 0,
  streamBatches: 1,
  checkpointMsPerWrite: 0,
  streamRecords: 4,
  sustainedPerSecond: perSecond,
});

describe('events bench goals', () => {
  it('judges the lag at the steady rate and the requests at the load rate, each named with its rate', () => {
    const bench: EventsBench = { phases: [phase(50, 5000, 300, 36, 60), phase(10, 800, 300, 60, 120)], streamIdleMs: 250, streamBatchingWindowSeconds: 0 };
    expect(eventsGoals(bench)).toEqual([
      { name: 'events at 10/s (steady): message item write → webhook delivery p99 ms', value: 800, goal: '≤ 1000', pass: true },
      { name: 'events at 50/s (load): SNS publish requests / event', value: 0.12, goal: '≤ 0.15', pass: true },
      { name: 'events at 50/s (load): delivery-side SQS requests / event', value: 0.2, goal: '≤ 0.3', pass: true },
    ]);
    const slow: EventsBench = { ...bench, phases: [phase(10, 1200, 300, 60, 120), phase(50, 900, 300, 60, 120)] };
    expect(eventsGoals(slow).map((g) => g.pass)).toEqual([false, false, false]);
  });

  it('reads its rates and size from the environment, and refuses nonsense', () => {
    expect(eventsPhases({})).toEqual([{ messages: 300, perSecond: 10 }, { messages: 300, perSecond: 50 }]);
    expect(eventsPhases({ BENCH_EVENTS_MESSAGES: '1000', BENCH_EVENTS_RATES: '10,100' })).toEqual([{ messages: 1000, perSecond: 10 }, { messages: 1000, perSecond: 100 }]);
    expect(() => eventsPhases({ BENCH_EVENTS_RATES: '10,fast' })).toThrow(/rates/);
  });
});

describe('the message item a request writes', () => {
  const item = { PK: 'MSG#msg_1', SK: 'MSG', body: 'x' };
  it('is found in a put, a transaction or a batch, marshalled or not', () => {
    expect(messageItemsWritten({ TableName: 't', Item: item })).toEqual(['msg_1']);
    expect(messageItemsWritten({ Item: marshall(item) })).toEqual(['msg_1']);
    expect(messageItemsWritten({ TransactItems: [{ Update: { Key: { PK: 'CONV#1', SK: 'CONV' } } }, { Put: { Item: marshall({ ...item, PK: 'MSG#msg_2' }) } }] })).toEqual(['msg_2']);
    expect(messageItemsWritten({ RequestItems: { t: [{ PutRequest: { Item: item } }, { DeleteRequest: { Key: {} } }] } })).toEqual(['msg_1']);
  });
  it('is not an item of another kind, nor a read', () => {
    expect(messageItemsWritten({ Item: { PK: 'MSG#msg_1', SK: 'STATUS#read' } })).toEqual([]);
    expect(messageItemsWritten({ Key: { PK: 'MSG#msg_1', SK: 'MSG' } })).toEqual([]);
  });
});
