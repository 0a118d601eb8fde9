/**
 * Use case: replay a quarantined event (`POST /v1/quarantine/{id}/replay`), once the cause of its
 * quarantine is fixed: the raw body goes through the same parse and ingest as a fresh delivery.
 *
 * 1. Unknown id → `quarantine_not_found`. Already replayed → the replay kept then, nothing again.
 * 2. A body cut to fit the table cannot be replayed → `quarantine_raw_truncated`.
 * 3. Parse and ingest it as the inbound function does (its original receive time and source). Every
 *    write there is idempotent, so a replay racing another, or a retry after a lost answer, stores
 *    each message, status and account event once.
 * 4. Still not understood, or still refused → `quarantine_still_invalid` with today's reason;
 *    the item stays as it was, to be replayed after the next fix.
 * 5. Otherwise the item is marked replayed, conditionally: the first replay to land is the one kept
 *    and answered (to this caller and to every later one).
 */
import type { EventStore, QuarantineRecords, QuarantineReplay, TransientVerdict } from '../ports/event-store.ts';
import type { MediaJobQueue } from '../ports/media.ts';
import { ApiError, ConflictError, NotFoundError } from './errors.ts';
import { ingestEvent } from './ingest.ts';
import { parseEventBody } from './parse-event.ts';

export interface ReplayDeps {
  readonly store: EventStore & QuarantineRecords;
  /** Where copy jobs of inbound media go, as from the inbound function. */
  readonly mediaJobs?: MediaJobQueue;
  /** The adapters' verdict on a failure, as for the inbound function: a transient one propagates. */
  readonly isTransient: TransientVerdict;
  readonly now: () => number;
}

/** A quarantine id: the SHA-256 (hex) of the event's content. */
export const QUARANTINE_ID = /^[0-9a-f]{64}$/;

export interface ReplayResult extends QuarantineReplay {
  id: string;
  /** True when another call replayed the event first (this one stored nothing new). */
  alreadyReplayed: boolean;
}

export async function replayQuarantined(id: string, deps: ReplayDeps): Promise<ReplayResult> {
  const item = QUARANTINE_ID.test(id) ? await deps.store.getQuarantined(id) : undefined;
  if (!item) throw new NotFoundError(`No quarantined event has the id ${id.slice(0, 80)}. GET /v1/quarantine lists them.`, 'quarantine_not_found');
  if (item.replay) return { id, ...item.replay, alreadyReplayed: true };
  if (item.rawTruncated) {
    throw new ConflictError(
      'The stored body of this event was cut to fit the table, so it cannot be replayed. Replay it from its source (the dead-letter queue or the WABA events), if it is still there.',
      'quarantine_raw_truncated',
    );
  }
  const parsed = parseEventBody(item.raw, item.receivedAtMs);
  const outcome = await ingestEvent({ raw: item.raw, receivedAtMs: item.receivedAtMs, ...(item.source && { source: item.source }) }, parsed, {
    store: deps.store,
    ...(deps.mediaJobs && { mediaJobs: deps.mediaJobs }),
    isTransient: deps.isTransient,
  });
  if (outcome.quarantined) {
    throw new ApiError('unprocessable', 'quarantine_still_invalid', `The event still cannot be stored: ${outcome.quarantined}`);
  }
  const { kept, won } = await deps.store.markReplayed(id, {
    replayedAt: new Date(deps.now()).toISOString(),
    messages: outcome.messages,
    statuses: outcome.statuses,
    accountEvents: outcome.accountEvents,
  });
  return { id, ...kept, alreadyReplayed: !won };
}
