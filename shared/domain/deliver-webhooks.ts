/**
 * Use case: deliver domain events to the registered webhooks, one job per (event, endpoint), so an
 * endpoint that fails never causes the others to be sent to again.
 *
 * 1. `fanOut`: for each event, a job for every webhook that subscribes to its type, tried now.
 * 2. A failed attempt is scheduled again after the backoff of `RETRY_DELAYS_SECONDS`; after the
 *    last one the job is parked, and `replayParked` puts it back in line.
 * 3. `runJobs` (the retry queue): a job whose webhook was deleted is dropped; one not yet due waits
 *    again; a due one is tried.
 * Every attempt is recorded (GET /v1/webhooks/{id}/deliveries). A job whose next attempt cannot be
 * queued is parked; only a job that can be kept nowhere makes its SQS record come again.
 */
import type { DomainEvent } from './events.ts';
import { nextAttemptAt, signatureHeaders, subscribes, type Delivery, type DeliveryJob, type StoredWebhook } from './webhooks.ts';
import type { RetryQueue, SecretCipher, WebhookStore, WebhookTransport } from '../ports/webhooks.ts';

export interface DeliveryDeps {
  readonly webhooks: WebhookStore;
  readonly secrets: SecretCipher;
  readonly transport: WebhookTransport;
  readonly retries: RetryQueue;
  readonly now: () => number;
  /** Told of each attempt (the local terminal prints a line; deployed, a log line). */
  readonly onDelivery?: (d: Delivery & { webhookId: string; url: string }) => void;
  readonly log?: { warn(message: string, extra?: Record<string, unknown>): void };
}

/** Jobs whose next attempt could be kept neither in the retry queue nor in the table. */
export type UnkeptJobs = DeliveryJob[];

/** Attempts made at once per invocation. */
const CONCURRENCY = 16;

/**
 * Keeps failed jobs for their next attempt: in the retry queue, or, when it refuses them, parked in
 * the table at once (`POST /v1/webhooks/{id}/replay` delivers them). Never by failing the batch:
 * its record would come back and every endpoint of the event would be sent to again. Answers the
 * jobs that could be kept nowhere, and the jobs parked (those past their last attempt, and those the
 * queue refused).
 */
async function keep(again: DeliveryJob[], parked: DeliveryJob[], deps: DeliveryDeps): Promise<{ unkept: UnkeptJobs; parked: Set<DeliveryJob> }> {
  const toPark = [...parked];
  if (again.length) {
    try {
      await deps.retries.schedule(again, deps.now());
    } catch (err) {
      deps.log?.warn('could not queue webhook retries; parking them', { jobs: again.length, error: (err as Error).name });
      toPark.push(...again);
    }
  }
  if (!toPark.length) return { unkept: [], parked: new Set() };
  try {
    await deps.webhooks.park(toPark, deps.now());
    return { unkept: [], parked: new Set(toPark) };
  } catch (err) {
    deps.log?.warn('could not park webhook jobs', { jobs: toPark.length, error: (err as Error).name });
    return { unkept: toPark, parked: new Set() };
  }
}

async function attemptAll(jobs: DeliveryJob[], hooks: Map<string, StoredWebhook>, deps: DeliveryDeps): Promise<UnkeptJobs> {
  const keys = new Map<string, Promise<string[]>>();
  const secretsOf = (w: StoredWebhook) => {
    let p = keys.get(w.id);
    if (!p) {
      const stored = w as StoredWebhook & { previousSecretCiphertext?: string; previousUntilMs?: number };
      const ciphertexts = [w.secretCiphertext];
      if (stored.previousSecretCiphertext && (stored.previousUntilMs ?? 0) > deps.now()) ciphertexts.push(stored.previousSecretCiphertext);
      keys.set(w.id, (p = Promise.all(ciphertexts.map((c) => deps.secrets.decrypt(c, w.id)))));
    }
    return p;
  };
  /** Each attempt, with the job kept for the next one when it failed. */
  const attempts: Array<{ base: Omit<Delivery, 'outcome'> & { webhookId: string }; url: string; error?: string; next?: DeliveryJob; last?: boolean }> = [];
  const again: DeliveryJob[] = [];
  const parked: DeliveryJob[] = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      const hook = hooks.get(job.webhookId)!;
      const body = JSON.stringify(job.event);
      const started = deps.now();
      let status: number | undefined;
      let error: string | undefined;
      try {
        const headers = signatureHeaders(await secretsOf(hook), job.event.id, Math.floor(started / 1000), body);
        status = (await deps.transport.post(hook.url, headers, body)).status;
        if (status < 200 || status > 299) error = `HTTP ${status}`;
      } catch (err) {
        error = (err as Error).message.slice(0, 200);
      }
      const attempt = job.attempts + 1;
      const base = { webhookId: job.webhookId, eventId: job.event.id, eventType: job.event.type, attempt, at: new Date(started).toISOString(), ...(status !== undefined && { httpStatus: status }) };
      if (!error) {
        attempts.push({ base, url: hook.url });
        continue;
      }
      const due = nextAttemptAt(attempt, started);
      const kept: DeliveryJob = { ...job, attempts: attempt, dueAtMs: due ?? started };
      (due === undefined ? parked : again).push(kept);
      attempts.push({ base, url: hook.url, error, next: kept, last: due === undefined });
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, jobs.length) }, worker));
  const kept = await keep(again, parked, deps);
  // Told once the failed jobs are kept: one the retry queue refused is parked, with no next attempt.
  const records = attempts.map(({ base, error, next, last }): Delivery & { webhookId: string } => {
    if (error === undefined) return { ...base, outcome: 'delivered' };
    if (last || kept.parked.has(next!)) return { ...base, outcome: 'parked', error };
    return { ...base, outcome: 'failed', error, nextAttemptAt: new Date(next!.dueAtMs).toISOString() };
  });
  for (const [i, r] of records.entries()) deps.onDelivery?.({ ...r, url: attempts[i]!.url });
  // The log is written once the jobs are kept; losing it is better than sending again.
  if (records.length) {
    await deps.webhooks.recordDeliveries(records).catch((err: unknown) => deps.log?.warn('could not write the delivery log', { records: records.length, error: (err as Error).name }));
  }
  return kept.unkept;
}

/**
 * Delivers fresh events to every webhook subscribed to their type. Answers the jobs whose next
 * attempt could be kept nowhere: only their events need to come again.
 */
export async function fanOut(events: readonly DomainEvent[], deps: DeliveryDeps): Promise<UnkeptJobs> {
  const hooks = await deps.webhooks.list();
  const now = deps.now();
  const jobs: DeliveryJob[] = [];
  for (const event of events) {
    for (const hook of hooks) if (subscribes(hook, event.type)) jobs.push({ webhookId: hook.id, event, attempts: 0, dueAtMs: now });
  }
  return attemptAll(jobs, new Map(hooks.map((h) => [h.id, h])), deps);
}

/**
 * Runs jobs that were waiting: deleted webhooks get nothing, jobs not yet due wait again. Answers
 * the jobs that could be kept nowhere (only they need to come again).
 */
export async function runJobs(jobs: readonly DeliveryJob[], deps: DeliveryDeps): Promise<UnkeptJobs> {
  const ids = [...new Set(jobs.map((j) => j.webhookId))];
  const found = await Promise.all(ids.map((id) => deps.webhooks.get(id)));
  const hooks = new Map(found.filter((h): h is StoredWebhook => h !== undefined).map((h) => [h.id, h]));
  const now = deps.now();
  const live = jobs.filter((j) => hooks.has(j.webhookId));
  const waiting = live.filter((j) => j.dueAtMs > now);
  const unkept: UnkeptJobs = [];
  if (waiting.length) {
    try {
      await deps.retries.schedule(waiting, now);
    } catch (err) {
      // Not attempted yet: they come again as they are.
      deps.log?.warn('could not queue waiting webhook jobs', { jobs: waiting.length, error: (err as Error).name });
      unkept.push(...waiting);
    }
  }
  return [...unkept, ...(await attemptAll(live.filter((j) => j.dueAtMs <= now), hooks, deps))];
}

/** Puts a webhook's parked jobs back in line, due now; answers how many. */
export async function replayParked(webhookId: string, deps: Pick<DeliveryDeps, 'webhooks' | 'retries' | 'now'>): Promise<number> {
  let total = 0;
  for (;;) {
    const jobs = await deps.webhooks.parked(webhookId, 100);
    if (!jobs.length) return total;
    const now = deps.now();
    await deps.retries.schedule(jobs.map((j) => ({ ...j, attempts: 0, dueAtMs: now })), now);
    await deps.webhooks.unpark(webhookId, jobs.map((j) => j.event.id));
    total += jobs.length;
  }
}
