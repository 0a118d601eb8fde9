import type { EventStore, TransientVerdict } from '../ports/event-store.ts';
import { PermanentWriteError } from '../ports/event-store.ts';
import type { MediaJobQueue } from '../ports/media.ts';
import type { TemplateStore } from '../ports/templates.ts';
import { templateChangeOf } from './templates.ts';
import { inboundMediaJob } from './media-jobs.ts';
import type { ParsedEnvelope } from './types.ts';
import type { BroadcastFeedback } from './broadcasts.ts';

/** A log- and store-safe description of a failure: its name and the start of its message. */
export function describeFailure(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 300);
  return `thrown ${typeof err}`;
}

/** Where one event is recorded, and how a failure of theirs is told transient. */
export interface IngestPorts {
  store: EventStore;
  /** Where copy jobs of inbound media go; without it no media is copied (tests, benches). */
  mediaJobs?: MediaJobQueue;
  /** Where template webhooks (status, quality, category) update the catalog; without it they are only stored. */
  templates?: Pick<TemplateStore, 'applyChange'>;
  /** Where statuses of broadcast messages (and stop keywords) go; without it broadcasts hear nothing. */
  broadcasts?: Pick<BroadcastFeedback, 'onStatus' | 'onInbound' | 'onAccountEvent'>;
  isTransient: TransientVerdict;
}

/** Reasons are cut here: a few hundred problems of one event would not help anyone. */
export const QUARANTINE_REASON_MAX = 4000;

export interface IngestOutcome {
  messages: number;
  statuses: number;
  accountEvents: number;
  quarantined?: string;
}

/**
 * Records everything one event carried.
 * 1. Invalid event → quarantine it (raw body + reason), done.
 * 2. Every message, status and account event is recorded (idempotent writes, in parallel). A
 *    media message then gets its copy job sent, on redeliveries too: jobs are idempotent, and a
 *    crash between the write and the send heals when the event comes back. A template webhook
 *    (status, quality, category) also updates the template catalog, if the change is newer than
 *    what it holds (a conditional write: redeliveries and late events change nothing). A status of
 *    a broadcast message then goes to the broadcast (counted once, backs off, settles a send in
 *    doubt), an inbound stop keyword to the suppression list, and a messaging limit Meta reports
 *    (`phone_number_quality_update`) to the broadcasts' tier.
 * 3. An event with nothing to record, elements that failed their schema, or writes that failed for good (refused by the store, or
 *    not even sendable: a value DynamoDB cannot hold), → quarantine the raw event with the reasons;
 *    the good elements beside them are already stored.
 * Only transient failures (throttling, timeouts, 5xx: the `isTransient` verdict) propagate, so the
 * caller can have this event retried; a retry could not cure anything else.
 */
export async function ingestEvent(
  event: { raw: string; receivedAtMs: number; source?: string },
  parsed: { kind: 'ok'; parsed: ParsedEnvelope; problems: string[] } | { kind: 'invalid'; reason: string },
  { store, mediaJobs, templates, broadcasts, isTransient }: IngestPorts,
): Promise<IngestOutcome> {
  const quarantine = async (reason: string) => {
    const kept = reason.length > QUARANTINE_REASON_MAX ? `${reason.slice(0, QUARANTINE_REASON_MAX)}…` : reason;
    // A body DynamoDB cannot hold (a lone surrogate) would fail its quarantine forever: keep it well formed.
    await store.quarantine({ raw: event.raw.toWellFormed(), reason: kept, receivedAtMs: event.receivedAtMs, ...(event.source && { source: event.source }) });
    return kept;
  };
  if (parsed.kind === 'invalid') {
    return { messages: 0, statuses: 0, accountEvents: 0, quarantined: await quarantine(parsed.reason) };
  }
  const { messages, statuses, accountEvents } = parsed.parsed;
  const results = await Promise.allSettled([
    ...messages.map(async (m) => {
      await store.recordInbound(m);
      const job = mediaJobs && inboundMediaJob(m);
      if (job) await mediaJobs.enqueue(job);
      if (broadcasts) await broadcasts.onInbound(m);
    }),
    ...statuses.map(async (s) => {
      await store.recordStatus(s);
      if (broadcasts) await broadcasts.onStatus(s);
    }),
    ...accountEvents.map(async (e) => {
      await store.recordAccountEvent(e);
      const change = templates && e.awsWabaId ? templateChangeOf({ wabaId: e.awsWabaId, field: e.field, value: e.value, atMs: e.receivedAtMs }) : undefined;
      if (change) await templates!.applyChange(change);
      if (broadcasts) await broadcasts.onAccountEvent(e);
    }),
  ]);
  const problems = [...parsed.problems];
  // An event that carries nothing this backend records is kept too, so that nothing is lost unseen.
  if (!results.length && !problems.length) problems.push('the event carries no message, status or account event');
  for (const r of results) {
    if (r.status === 'rejected') {
      if (r.reason instanceof PermanentWriteError) problems.push(r.reason.message);
      else if (isTransient(r.reason)) throw r.reason;
      else problems.push(describeFailure(r.reason));
    }
  }
  const outcome: IngestOutcome = { messages: messages.length, statuses: statuses.length, accountEvents: accountEvents.length };
  if (problems.length) outcome.quarantined = await quarantine(problems.join(' | '));
  return outcome;
}
