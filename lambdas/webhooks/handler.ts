/**
 * Webhook delivery: SQS records of two queues. A CloudEvent (raw delivery from the events topic) is
 * fanned out to every subscribed webhook; a job (from the retry queue) is tried again when due. A
 * record whose work failed is reported alone; one that is not an event or a job is reported too, and
 * lands in its queue's DLQ, kept.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { fanOut, runJobs, type DeliveryDeps } from '../../shared/domain/deliver-webhooks.ts';
import { DomainEventSchema, type DomainEvent } from '../../shared/domain/event-schemas.ts';
import { DeliveryJobSchema, type DeliveryJob } from '../../shared/domain/webhooks.ts';
import { MetricTally } from '../../shared/metrics.ts';
import { loggedIds, logger, safeError } from '../../shared/observability.ts';
import { instrumented } from '../../shared/tracing.ts';
import { onFirstUse } from '../../shared/lazy.ts';

function parse(body: string): { event: DomainEvent } | { job: DeliveryJob } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  const job = DeliveryJobSchema.safeParse(value);
  if (job.success) return { job: job.data as unknown as DeliveryJob };
  const event = DomainEventSchema.safeParse(value);
  return event.success ? { event: event.data } : undefined;
}

const jobKey = (j: DeliveryJob) => `${j.webhookId} ${j.event.id}`;

/**
 * Every attempt is counted (`WebhookDeliveries` by outcome) and each batch logs one line: records,
 * failures, attempts by outcome and the event ids (never a URL: it may hold its receiver's secret).
 */
export function makeHandler(deps: DeliveryDeps) {
  deps = { log: { warn: (m, extra) => logger.warn(m, extra ?? {}) }, ...deps };
  return async (event: SQSEvent, _context?: Context): Promise<SQSBatchResponse> => {
    const tally = new MetricTally();
    const counted: DeliveryDeps = {
      ...deps,
      onDelivery: (d) => {
        tally.add('webhookDeliveries', d.outcome);
        deps.onDelivery?.(d);
      },
    };
    const failures: string[] = [];
    const events: Array<{ id: string; event: DomainEvent }> = [];
    const jobs: Array<{ id: string; job: DeliveryJob }> = [];
    for (const r of event.Records) {
      const parsed = parse(r.body);
      if (!parsed) {
        logger.error('not a domain event or a delivery job; left for the DLQ', { sqsMessageId: r.messageId });
        failures.push(r.messageId);
      } else if ('job' in parsed) jobs.push({ id: r.messageId, job: parsed.job });
      else events.push({ id: r.messageId, event: parsed.event });
    }
    const run = async (what: string, ids: string[], work: () => Promise<unknown>) => {
      if (!ids.length) return;
      try {
        await work();
      } catch (err) {
        logger.error(`${what} failed; the records come back`, { error: safeError(err), records: ids.length });
        failures.push(...ids);
      }
    };
    try {
      // Only the records of jobs that could be kept nowhere come again (one job per event and
      // endpoint: the endpoints already served are not sent to again unless their event must be).
      await run('fan-out', events.map((e) => e.id), async () => {
        const unkept = new Set((await fanOut(events.map((e) => e.event), counted)).map((j) => j.event.id));
        failures.push(...events.filter((e) => unkept.has(e.event.id)).map((e) => e.id));
      });
      await run('retries', jobs.map((j) => j.id), async () => {
        const unkept = new Set((await runJobs(jobs.map((j) => j.job), counted)).map(jobKey));
        failures.push(...jobs.filter((j) => unkept.has(jobKey(j.job))).map((j) => j.id));
      });
    } finally {
      logger.info('webhooks batch', {
        records: event.Records.length,
        events: events.length,
        jobs: jobs.length,
        failed: failures.length,
        attempts: tally.breakdownOf('webhookDeliveries'),
        eventIds: loggedIds([...events.map((e) => e.event.id), ...jobs.map((j) => j.job.event.id)]),
      });
      tally.publish();
    }
    return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

/**
 * The deployed wiring; `onDelivery` replaces the log line per attempt (the local terminal). The
 * adapters and SDK clients are imported on the first invocation (shared/lazy.ts).
 */
export function wireHandler(opts: { onDelivery?: DeliveryDeps['onDelivery'] } = {}) {
  const wired = onFirstUse(async () => makeHandler((await import('./wiring.ts')).deliveryDeps(opts)));
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => (await wired())(event, context);
}

const wired = wireHandler();
export const handler = instrumented('webhooks', (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => wired(event, context));
