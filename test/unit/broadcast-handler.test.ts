/**
 * The broadcast function's handler: a malformed job is never acknowledged (it fails, so SQS moves it
 * to the queue's DLQ after `maxReceiveCount` deliveries), and never holds back the good jobs beside it.
 */
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { makeHandler } from '../../lambdas/broadcasts/handler.ts';
import type { Broadcasts } from '../../shared/domain/broadcasts.ts';

const record = (messageId: string, body: string): SQSRecord => ({
  messageId,
  receiptHandle: `rh-${messageId}`,
  body,
  attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:broadcast-sends',
  awsRegion: 'us-east-1',
});

describe('the broadcast function', () => {
  it('fails a malformed job (to the DLQ, not dropped) and handles the good ones beside it', async () => {
    const handled: unknown[] = [];
    const handler = makeHandler(() => ({ handle: async (job: unknown) => void handled.push(job) }) as unknown as Broadcasts);
    const id = `bc_${'a'.repeat(32)}`;
    const good = [
      { broadcastId: id, to: '14155550100', seq: 0 },
      { broadcastId: id, settle: true },
      { broadcastId: id, load: { offset: 512, line: 9, accepted: 8 } },
    ];
    const event: SQSEvent = {
      Records: [
        record('m1', JSON.stringify(good[0])),
        record('bad-json', '{"broadcastId":'),
        record('m2', JSON.stringify(good[1])),
        record('bad-shape', JSON.stringify({ broadcastId: id, to: 'not digits', seq: -1 })),
        record('m3', JSON.stringify(good[2])),
      ],
    };

    const out = await handler(event, {} as Context);

    expect(out.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['bad-json', 'bad-shape']);
    expect(handled).toEqual(expect.arrayContaining(good));
    expect(handled).toHaveLength(3);
  });
});
