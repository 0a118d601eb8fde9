/** The inbound handler sends a copy job for every inbound media message, redeliveries included. */
import type { Context } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeHandler } from '../../lambdas/inbound/handler.ts';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import { messageIdFromWamid } from '../../shared/domain/ids.ts';
import type { InboundMediaJob, MediaJobQueue } from '../../shared/ports/media.ts';
import { freshTable } from '../support/dynamodb.ts';
import { entryOf, eumFixture, snsNotification, sqsEvent } from '../support/events.ts';

const context = { functionName: 'inbound', awsRequestId: 'req', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

class RecordingQueue implements MediaJobQueue {
  jobs: InboundMediaJob[] = [];
  failures = 0;
  async enqueue(job: InboundMediaJob): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw Object.assign(new Error('queue unavailable'), { name: 'ServiceUnavailable' });
    }
    this.jobs.push(job);
  }
}

let store: DynamoDbStore;
let queue: RecordingQueue;

beforeEach(async () => {
  const { doc, tableName } = await freshTable();
  store = new DynamoDbStore(doc, tableName);
  queue = new RecordingQueue();
});

describe('media jobs from the inbound path', () => {
  it('sends one job with the message, media and business ids for an inbound image', async () => {
    const envelope = eumFixture('inbound-image');
    const message = entryOf(envelope).changes[0].value.messages[0];

    const response = await makeHandler({ store, mediaJobs: queue })(sqsEvent([snsNotification(envelope)]), context);

    expect(response.batchItemFailures).toEqual([]);
    expect(queue.jobs).toEqual([
      {
        messageId: messageIdFromWamid(message.id),
        mediaId: message.image.id,
        phoneNumberId: expect.stringMatching(/^phone-number-id-/),
        contactId: message.from,
        timestampMs: Number(message.timestamp) * 1000,
        mimeType: message.image.mime_type,
        sha256: message.image.sha256,
      },
    ]);
  });

  it('sends the job again when the event is redelivered, so a crash before the send heals', async () => {
    const body = snsNotification(eumFixture('inbound-document'));
    const handler = makeHandler({ store, mediaJobs: queue });

    await handler(sqsEvent([body]), context);
    await handler(sqsEvent([body]), context);

    expect(queue.jobs).toHaveLength(2);
    expect(queue.jobs[1]).toEqual(queue.jobs[0]);
  });

  it('sends no job for messages without media', async () => {
    const fixtures = ['inbound-text', 'inbound-location', 'inbound-reaction', 'status-sent'];

    await makeHandler({ store, mediaJobs: queue })(sqsEvent(fixtures.map((f) => snsNotification(eumFixture(f)))), context);

    expect(queue.jobs).toEqual([]);
  });

  it('reports only that record for retry when its job cannot be sent, and sends the job on the retry', async () => {
    const event = sqsEvent([snsNotification(eumFixture('inbound-video')), snsNotification(eumFixture('inbound-text'))]);
    const handler = makeHandler({ store, mediaJobs: queue });
    queue.failures = 1;

    const first = await handler(event, context);
    const retry = await handler({ Records: [event.Records[0]!] }, context);

    expect(first.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0]!.messageId }]);
    expect(retry.batchItemFailures).toEqual([]);
    expect(queue.jobs.map((j) => j.mediaId)).toEqual([entryOf(eumFixture('inbound-video')).changes[0].value.messages[0].video.id]);
  });
});
