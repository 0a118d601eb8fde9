/**
 * Inbound events: SQS (fed by the WABA's SNS event destination) → domain records in DynamoDB.
 * A record that cannot be understood is quarantined and acknowledged; a transient failure is
 * reported as a batch item failure so only that record comes back.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import { documentClient } from '../../shared/adapters/aws-clients.ts';
import { SqsMediaJobQueue } from '../../shared/adapters/sqs-media-queue.ts';
import { loadConfig } from '../../shared/config.ts';
import { ingestEvent, type IngestOutcome } from '../../shared/domain/ingest.ts';
import { MetricTally } from '../../shared/metrics.ts';
import type { EventStore } from '../../shared/ports/event-store.ts';
import type { MediaJobQueue } from '../../shared/ports/media.ts';
import { logger } from '../../shared/observability.ts';
import { parseEventBody, type ParseResult } from '../../shared/whatsapp/parse-event.ts';

/** `mediaJobs`: where copy jobs of inbound media go; without it no media is copied (tests, benches). */
export function makeHandler(deps: { store: EventStore; mediaJobs?: MediaJobQueue; now?: () => number }) {
  const now = deps.now ?? Date.now;
  const processor = new BatchProcessor(EventType.SQS);
  const recordHandler = (tally: MetricTally) => async (record: SQSRecord) => {
    const receivedAtMs = Number(record.attributes?.SentTimestamp) || now();
    const parsed = parseEventBody(record.body, receivedAtMs);
    const outcome = await ingestEvent({ raw: record.body, receivedAtMs, source: record.messageId }, parsed, deps.store, deps.mediaJobs);
    if (outcome.quarantined) logger.warn('event quarantined', { sqsMessageId: record.messageId, reason: outcome.quarantined });
    countIngested(tally, parsed, outcome);
    return outcome;
  };
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const tally = new MetricTally();
    try {
      const response = await processPartialResponse(event, recordHandler(tally), processor, { context });
      if (response.batchItemFailures.length) {
        logger.warn('records left for retry', { failed: response.batchItemFailures.length, total: event.Records.length });
      }
      return response;
    } finally {
      tally.publish();
    }
  };
}

/** Counts what an event stored (after its writes succeeded, so a retried event counts once per delivery). */
function countIngested(tally: MetricTally, parsed: ParseResult, outcome: IngestOutcome): void {
  if (parsed.kind === 'ok') {
    for (const m of parsed.parsed.messages) tally.add('inboundMessages', m.type);
    for (const s of parsed.parsed.statuses) {
      tally.add('statuses', s.status);
      if (s.status === 'failed') tally.add('failedStatuses', s.errors?.[0]?.code ?? 'none');
    }
  }
  if (outcome.quarantined) tally.add('quarantinedEvents');
}

// Wired on first use, so tests and benches can import makeHandler without the Lambda's environment.
let wired: ReturnType<typeof makeHandler> | undefined;
export const handler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  wired ??= (() => {
    const config = loadConfig(['TABLE_NAME', 'MEDIA_QUEUE_URL']);
    return makeHandler({
      store: new DynamoDbStore(documentClient(), config.TABLE_NAME),
      mediaJobs: new SqsMediaJobQueue(new SQSClient({}), config.MEDIA_QUEUE_URL),
    });
  })();
  return wired(event, context);
};
