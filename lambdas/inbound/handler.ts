/**
 * Inbound events: SQS (fed by the WABA's SNS event destination) → domain records in DynamoDB.
 * A record that cannot be understood is quarantined and acknowledged; a transient failure is
 * reported as a batch item failure so only that record comes back. Each invocation gets its own
 * batch processor: a processor keeps the batch's records and failures, so one shared by two
 * invocations at once would report one batch's failures for the other.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { isTransientFailure } from '../../shared/adapters/transient-errors.ts';
import { describeFailure, ingestEvent, type IngestOutcome, type IngestPorts } from '../../shared/domain/ingest.ts';
import type { InboundMessage } from '../../shared/domain/types.ts';
import { MetricTally } from '../../shared/metrics.ts';
import type { EventStore } from '../../shared/ports/event-store.ts';
import type { MediaJobQueue } from '../../shared/ports/media.ts';
import { loggedIds, logger } from '../../shared/observability.ts';
import { instrumented } from '../../shared/tracing.ts';
import { onFirstUse } from '../../shared/lazy.ts';
import type { TemplateStore } from '../../shared/ports/templates.ts';
import { parseEventBody, type ParseResult } from '../../shared/domain/parse-event.ts';

/** The parser never throws by design; should it ever, the event is quarantined with the reason, not retried. */
function parseSafely(body: string, receivedAtMs: number): ParseResult {
  try {
    return parseEventBody(body, receivedAtMs);
  } catch (err) {
    return { kind: 'invalid', reason: `not parsed: ${describeFailure(err)}` };
  }
}

/** What one batch did, for its log line: ids only (SQS message ids, wamids), never a number or a body. */
interface BatchLog {
  readonly wamids: string[];
  quarantined: number;
}

/**
 * `mediaJobs`: where copy jobs of inbound media go; without it no media is copied (tests, benches).
 * One log line per batch: records, failures, quarantined events and the ids to correlate with.
 */
export function makeHandler(deps: {
  store: EventStore;
  mediaJobs?: MediaJobQueue;
  templates?: Pick<TemplateStore, 'applyChange'>;
  broadcasts?: IngestPorts['broadcasts'];
  now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  const recordHandler = (tally: MetricTally, log: BatchLog) => async (record: SQSRecord) => {
    const receivedAtMs = Number(record.attributes?.SentTimestamp) || now();
    const parsed = parseSafely(record.body, receivedAtMs);
    if (parsed.kind === 'ok') {
      logContactMismatches(parsed.parsed.messages);
      log.wamids.push(...parsed.parsed.messages.map((m) => m.wamid), ...parsed.parsed.statuses.map((st) => st.wamid));
    }
    const outcome = await ingestEvent({ raw: record.body, receivedAtMs, source: record.messageId }, parsed, {
      store: deps.store,
      mediaJobs: deps.mediaJobs,
      templates: deps.templates,
      broadcasts: deps.broadcasts,
      isTransient: isTransientFailure,
    });
    if (outcome.quarantined) {
      log.quarantined++;
      logger.warn('event quarantined', { sqsMessageId: record.messageId, reason: outcome.quarantined });
    }
    countIngested(tally, parsed, outcome);
    return outcome;
  };
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    // A processor per invocation: two batches handled at once must never share failures.
    const processor = new BatchProcessor(EventType.SQS);
    const tally = new MetricTally();
    const log: BatchLog = { wamids: [], quarantined: 0 };
    let failed: number | undefined;
    try {
      const response = await processPartialResponse(event, recordHandler(tally, log), processor, { context });
      failed = response.batchItemFailures.length;
      return response;
    } finally {
      logger.info('inbound batch', {
        records: event.Records.length,
        ...(failed === undefined ? { failedWhole: true } : { failed }),
        quarantined: log.quarantined,
        counts: tally.snapshot(),
        sqsMessageIds: loggedIds(event.Records.map((r) => r.messageId)),
        wamids: loggedIds(log.wamids),
      });
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

/** A `contacts[]` that does not match its message's sender is kept, not trusted, and logged (ids only, no phone numbers). */
function logContactMismatches(messages: readonly InboundMessage[]): void {
  for (const m of messages) {
    if (!m.contactMismatch) continue;
    logger.warn('contacts[] does not match the message sender; the message\'s own from / from_user_id is kept', {
      messageId: m.id,
      phoneNumberId: m.business.phoneNumberId,
      contactEntries: m.contactMismatch.length,
    });
  }
}

// Wired on first use, so tests and benches can import makeHandler without the Lambda's environment.
const wired = onFirstUse(async () => makeHandler((await import('./wiring.ts')).inboundDeps()));
export const handler = instrumented('inbound', async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => (await wired())(event, context));
