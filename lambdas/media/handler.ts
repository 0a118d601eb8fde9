/**
 * Inbound media jobs: SQS (fed by the inbound function) → the file copied from WhatsApp into the
 * media bucket, checked against the webhook's SHA-256, its state recorded on the message.
 * A malformed job is failed and so kept for the DLQ; a transient failure is reported for that
 * record alone, and SQS brings it back after a delay that grows with each receive.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { MEDIA_QUEUE } from '../../lib/resource-spec.ts';
import { documentClient } from '../../shared/adapters/aws-clients.ts';
import { DynamoDbMediaRecords } from '../../shared/adapters/dynamodb-media.ts';
import { mediaS3Client, S3MediaStorage } from '../../shared/adapters/s3-media.ts';
import { SocialMessagingMedia } from '../../shared/adapters/socialmessaging-media.ts';
import { SqsMediaJobQueue } from '../../shared/adapters/sqs-media-queue.ts';
import { loadConfig } from '../../shared/config.ts';
import { copyInboundMedia, InboundMediaJobSchema, retryDelaySeconds, type InboundCopyDeps } from '../../shared/domain/media-jobs.ts';
import { MetricTally } from '../../shared/metrics.ts';
import { logger } from '../../shared/observability.ts';

export interface MediaHandlerDeps extends InboundCopyDeps {
  /** Delays the next delivery of a failed job; without it the queue's visibility timeout applies. */
  retry?: { retryAfter(receiptHandle: string, seconds: number): Promise<void> };
  /** @default retryDelaySeconds (30 s doubling, at most 10 min) */
  retryDelaySeconds?: (receiveCount: number) => number;
  /** Receives before the queue moves a job to its DLQ. @default MEDIA_QUEUE.maxReceiveCount */
  maxReceiveCount?: number;
}

export function makeHandler(deps: MediaHandlerDeps) {
  const processor = new BatchProcessor(EventType.SQS);
  const maxReceiveCount = deps.maxReceiveCount ?? MEDIA_QUEUE.maxReceiveCount;
  const delayOf = deps.retryDelaySeconds ?? retryDelaySeconds;

  const recordHandler = (tally: MetricTally) => async (record: SQSRecord) => {
    let body: unknown;
    try {
      body = JSON.parse(record.body);
    } catch {
      body = undefined;
    }
    const parsed = InboundMediaJobSchema.safeParse(body);
    if (!parsed.success) {
      // Jobs are made by the inbound handler, so this is a bug, not user input: keep the job by
      // failing it, so that the queue moves it to its DLQ after its receives, where it can be redriven.
      logger.error('media job is not valid; left for the DLQ', { sqsMessageId: record.messageId });
      throw new Error('invalid media job');
    }
    const job = parsed.data;
    const receiveCount = Number(record.attributes?.ApproximateReceiveCount) || 1;
    const keys = { messageId: job.messageId, phoneNumberId: job.phoneNumberId, receiveCount };
    try {
      const result = await copyInboundMedia(job, deps, { finalAttempt: receiveCount >= maxReceiveCount });
      logger.info('media job done', { ...keys, ...result });
      tally.add('mediaCopies', result.outcome);
      return result;
    } catch (err) {
      logger.warn('media copy failed; the job will be retried', { ...keys, error: (err as Error).name });
      tally.add('mediaCopies', 'retry');
      if (deps.retry) {
        await deps.retry.retryAfter(record.receiptHandle, delayOf(receiveCount)).catch((e: unknown) => {
          logger.warn('could not delay the retry', { ...keys, error: (e as Error).name });
        });
      }
      throw err;
    }
  };

  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const tally = new MetricTally();
    try {
      // A batch where every record failed is still answered with the list, like any other.
      return await processPartialResponse(event, recordHandler(tally), processor, { context, throwOnFullBatchFailure: false });
    } finally {
      tally.publish();
    }
  };
}

// Wired on first use, so tests and benches can import makeHandler without the Lambda's environment.
let wired: ReturnType<typeof makeHandler> | undefined;
export const handler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  wired ??= (() => {
    const config = loadConfig(['TABLE_NAME', 'MEDIA_BUCKET', 'MEDIA_QUEUE_URL']);
    return makeHandler({
      records: new DynamoDbMediaRecords(documentClient(), config.TABLE_NAME),
      storage: new S3MediaStorage(mediaS3Client(), config.MEDIA_BUCKET),
      whatsapp: new SocialMessagingMedia(new SocialMessagingClient({})),
      retry: new SqsMediaJobQueue(new SQSClient({}), config.MEDIA_QUEUE_URL),
      now: Date.now,
    });
  })();
  return wired(event, context);
};
