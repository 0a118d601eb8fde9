/**
 * Inbound media jobs: SQS (fed by the inbound function) → `runInboundMediaJob` (the file copied
 * from WhatsApp into the media bucket, checked against the webhook's SHA-256, its state recorded on
 * the message). A failed record is reported alone (partial batch response); the use case decides
 * what is kept for the DLQ and when SQS brings a job back.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { MEDIA_QUEUE } from '../../shared/resource-spec.ts';
import { runInboundMediaJob, type InboundJobDeps } from '../../shared/domain/media-jobs.ts';
import { MetricTally } from '../../shared/metrics.ts';
import { loggedIds, logger } from '../../shared/observability.ts';
import { instrumented } from '../../shared/tracing.ts';
import { onFirstUse } from '../../shared/lazy.ts';

export interface MediaHandlerDeps extends Omit<InboundJobDeps, 'maxReceiveCount' | 'log'> {
  /** Receives before the queue moves a job to its DLQ. @default MEDIA_QUEUE.maxReceiveCount */
  maxReceiveCount?: number;
}

export function makeHandler(deps: MediaHandlerDeps) {
  const jobDeps: InboundJobDeps = { ...deps, maxReceiveCount: deps.maxReceiveCount ?? MEDIA_QUEUE.maxReceiveCount, log: logger };
  const recordHandler = (tally: MetricTally) => {
    const counted: InboundJobDeps = { ...jobDeps, count: (outcome) => tally.add('mediaCopies', outcome) };
    return (record: SQSRecord) =>
      runInboundMediaJob(
        {
          body: record.body,
          messageId: record.messageId,
          receiptHandle: record.receiptHandle,
          receiveCount: Number(record.attributes?.ApproximateReceiveCount) || 1,
        },
        counted,
      );
  };

  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const tally = new MetricTally();
    let failed: number | undefined;
    try {
      // A batch where every record failed is still answered with the list, like any other.
      // A processor per invocation: it holds the batch's records and failures, so one shared by two
      // invocations at once would mix their answers.
      const response = await processPartialResponse(event, recordHandler(tally), new BatchProcessor(EventType.SQS), {
        context,
        throwOnFullBatchFailure: false,
      });
      failed = response.batchItemFailures.length;
      return response;
    } finally {
      logger.info('media batch', {
        records: event.Records.length,
        ...(failed === undefined ? { failedWhole: true } : { failed }),
        outcomes: tally.breakdownOf('mediaCopies'),
        sqsMessageIds: loggedIds(event.Records.map((r) => r.messageId)),
        messageIds: loggedIds(event.Records.map((r) => jobMessageId(r.body))),
      });
      tally.publish();
    }
  };
}

/** The project message id a job names, for the log line (a body that is no job names none). */
function jobMessageId(body: string): string | undefined {
  try {
    const id: unknown = (JSON.parse(body) as { messageId?: unknown } | null)?.messageId;
    return typeof id === 'string' && /^msg_[0-9a-f]+$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

// Wired on first use, so tests and benches can import makeHandler without the Lambda's environment.
const wired = onFirstUse(async () => makeHandler((await import('./wiring.ts')).mediaDeps()));
export const handler = instrumented('media', async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => (await wired())(event, context));
