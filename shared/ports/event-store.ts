import type { AccountEvent, InboundMessage, QuarantinedEvent, StatusUpdate } from '../domain/types.ts';

/**
 * Where the inbound pipeline records what it understood. Every method is idempotent: calling it
 * again with the same input, in any order relative to the others, leaves the same stored state.
 */
export interface EventStore {
  /** Stores an inbound message once and moves its conversation's window forward (never back). */
  recordInbound(message: InboundMessage): Promise<{ inserted: boolean }>;
  /** Adds a status to its message's history (each status once); the current status is derived. */
  recordStatus(update: StatusUpdate): Promise<void>;
  /** Keeps a non-message change (template, quality, flow, account events) with its raw value. */
  recordAccountEvent(event: AccountEvent): Promise<void>;
  /** Keeps an event that could not be understood, with its raw body and the reason. */
  quarantine(event: QuarantinedEvent): Promise<void>;
}

/** A write the store refused for good (e.g. an item too large): retrying cannot help. */
export class PermanentWriteError extends Error {
  override readonly name = 'PermanentWriteError';
}

/**
 * Whether a failure thrown by a port (the store, the media job queue) is transient: retrying the
 * same work later may succeed (throttling, timeouts, 5xx). The adapters' side knows their services'
 * words for it (shared/adapters/transient-errors.ts); the domain only hears the verdict.
 */
export type TransientVerdict = (err: unknown) => boolean;

/** What a replay of a quarantined event stored, and when. */
export interface QuarantineReplay {
  replayedAt: string;
  messages: number;
  statuses: number;
  accountEvents: number;
}

/** A quarantined event as kept, with its replay once it has had one. */
export interface StoredQuarantinedEvent extends QuarantinedEvent {
  id: string;
  /** The raw body was cut to fit an item: it cannot be replayed. */
  rawTruncated?: boolean;
  replay?: QuarantineReplay;
}

/** The quarantine, read back and marked once replayed. */
export interface QuarantineRecords {
  getQuarantined(id: string): Promise<StoredQuarantinedEvent | undefined>;
  /**
   * Marks a quarantined event replayed, once: answers the replay that is kept (of two replays at
   * once, the first to land) and whether it is this one.
   */
  markReplayed(id: string, replay: QuarantineReplay): Promise<{ kept: QuarantineReplay; won: boolean }>;
}
