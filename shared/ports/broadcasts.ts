/**
 * What broadcasts need: the broadcast and its recipients in the table
 * (`shared/adapters/dynamodb-broadcasts.ts`), the queue of send jobs
 * (`shared/adapters/sqs-broadcast-queue.ts`) and a pacer per business number (the same DynamoDB
 * adapter: a sharded rate schedule kept with conditional writes).
 */
import type { Broadcast, BroadcastDefinition, BroadcastJob, Recipient, RecipientState, SettleJob } from '../domain/broadcasts.ts';
import type { PageTally, RecipientsLoadJob, RejectReason } from '../domain/broadcast-uploads.ts';

export interface BroadcastStore {
  /** Writes the broadcast if its id is free; false when it exists already. */
  create(b: Broadcast): Promise<boolean>;
  get(id: string): Promise<Broadcast | undefined>;
  /** The broadcast without its counts (one read): what to send, and its state. */
  definition(id: string): Promise<BroadcastDefinition | undefined>;
  /**
   * Writes each recipient that is not there yet (`queued`, or `skipped` with a reason); answers
   * those that were there already, with the sequence number they were written with.
   */
  addRecipients(broadcastId: string, recipients: readonly Recipient[]): Promise<{ to: string; seq: number }[]>;
  /**
   * Counts one loaded page of an uploaded list on the broadcast, once (a retried page counts
   * nothing); the last page ends its loading. `samples` are kept while fewer than the cap are.
   */
  recordPage(broadcastId: string, offset: number, tally: PageTally, samples: { line: number; reason: RejectReason }[]): Promise<boolean>;
  /** Whether the jobs that follow a recorded page (its sends, the next page) were queued. */
  pageQueued(broadcastId: string, offset: number): Promise<boolean>;
  /** Notes that the jobs that follow a recorded page were queued. */
  markPageQueued(broadcastId: string, offset: number): Promise<void>;
  getRecipient(broadcastId: string, to: string): Promise<Recipient | undefined>;
  /**
   * Moves a recipient from `from` to `to` (with the fields given) and counts it on the broadcast,
   * in one transaction; false when the recipient is not in `from` (someone else moved it).
   */
  transition(
    broadcastId: string,
    to: string,
    from: RecipientState,
    next: RecipientState,
    fields?: Partial<Recipient>,
    opts?: {
      /** Only if the recipient is still on this message (the attempt the caller knows). */
      messageId?: string;
      /** Only if the recipient is still at this attempt (a job that read it, then waited for its slot). */
      attempt?: number;
      /** Status and failure counters (`st_<status>`, `fc_<code>`) moved in the same write. */
      counters?: Record<string, number>;
      /** The recipient's position (its job's `seq`): spares reading the recipient for its counter shard. */
      seq?: number;
      /** Only while the broadcast is `queued` or `running` (not stopping): false otherwise. */
      whileSending?: boolean;
    },
  ): Promise<boolean>;
  /**
   * Counts a WhatsApp status (and a failed one's code) of the recipient's message once, if that
   * message is still the recipient's; false when counted already or it is not.
   */
  countStatus(broadcastId: string, to: string, seq: number, messageId: string, status: string, failureCode?: string): Promise<boolean>;
  /** Sets the broadcast's state if it is one of `from`. */
  setState(id: string, from: readonly Broadcast['state'][], next: Broadcast['state']): Promise<boolean>;
  /** A page of recipients, by phone, optionally in one state. */
  listRecipients(broadcastId: string, opts: { state?: RecipientState; limit: number; cursor?: string }): Promise<{ items: Recipient[]; nextCursor: string | null }>;
}

export interface BroadcastQueue {
  /**
   * Sends one job per recipient (or per page of an uploaded list); with `delayMs`, each is delivered
   * that much later (SQS: up to 15 minutes).
   */
  enqueue(jobs: readonly (BroadcastJob | RecipientsLoadJob | SettleJob)[], opts?: { delayMs?: number }): Promise<void>;
}

/** Uploaded recipient lists in the media bucket (`shared/adapters/s3-media.ts`). */
export interface RecipientListStorage {
  presignPut(key: string, opts: { expiresInSeconds: number; contentType: string; contentLength: number }): Promise<{ url: string; headers: Record<string, string> }>;
  head(key: string): Promise<{ size: number } | undefined>;
  /** Bytes `start` to `end` (exclusive) of the object: a range, never the whole file. */
  readRange(key: string, start: number, end: number): Promise<Uint8Array>;
}

export interface Pacer {
  /**
   * Reserves the next send slot of `phoneNumberId`, whose throughput is `messagesPerSecond`:
   * when the send may go out (now, or later when the number is busy), and the permit it asks for
   * first; or, when the next slot is too far ahead to wait for, none, and when to ask again (`laterMs`).
   */
  reserve(phoneNumberId: string, messagesPerSecond: number, shardKey: string, nowMs: number): Promise<PacerSlot | { laterMs: number }>;
  /** Gives the number no slot (and no send permit) before `untilMs` (a back-off); holds never move it back. */
  hold(phoneNumberId: string, messagesPerSecond: number, untilMs: number): Promise<void>;
  /**
   * Takes a send permit of the slot's shard, from the slot's time (or now if later): free only once
   * the send that last held it got its answer over a second before, so that no second ever sees
   * more than `messagesPerSecond` sends arrive, however late each send runs behind its slot. Any
   * free permit will do (no order among senders). Answers the permit (the send goes at
   * `permit.fromMs`, not before), or when to ask again and for no earlier than when (`busy`: every
   * permit's send is still out).
   */
  acquire(slot: PacerSlot, nowMs: number): Promise<{ permit: SendPermit } | { askAtMs: number; notBeforeMs: number; busy: boolean }>;
  /** The send of `permit` got its answer at `answeredAtMs`: its permit is free a second later. */
  release(permit: SendPermit, answeredAtMs: number): Promise<void>;
}

/** A reserved send slot: when, and which permit of which shard it asks for. */
export interface PacerSlot {
  phoneNumberId: string;
  shard: number;
  /** Permits of the shard. */
  permits: number;
  /** The slot's place in the shard's order: the permit it asks for first (`ticket % permits`), and its mark on the permit it holds. */
  ticket: number;
  atMs: number;
}

/** A send permit held (until released, or its lease runs out). */
export interface SendPermit {
  phoneNumberId: string;
  shard: number;
  index: number;
  ticket: number;
  /** The send may go from then. */
  fromMs: number;
  /** Until when it is held if never released (a crash between taking it and the answer). */
  leaseUntilMs: number;
}

/** WhatsApp's pair rate: how often one number may message one user. */
export interface PairGate {
  /** `nowMs` when the user may get a message now (and the slot is taken), else when they may. */
  reservePair(phoneNumberId: string, to: string, nowMs: number, intervalMs: number): Promise<number>;
  /** No message to this user before `untilMs` (a back-off after 131056). */
  holdPair(phoneNumberId: string, to: string, untilMs: number): Promise<void>;
}

/** The messaging limits Meta reported (`phone_number_quality_update`), per WABA. */
export interface MessagingLimits {
  /** Keeps the limit (unique users in 24 hours; Infinity: unlimited) reported for the WABA at `atMs`, unless a later report is kept. */
  reportLimit(wabaId: string, limit: number, atMs: number): Promise<void>;
  /** The limit last reported for the WABA, if any. */
  reportedLimit(wabaId: string): Promise<number | undefined>;
}

/** The business's messaging limit: unique users reached in a rolling 24 hours. */
export interface TierGate {
  /** `nowMs` when the user may be messaged (counted now, or already within 24 hours), else when to try again. */
  admitUser(to: string, tier: number, ratePerSecond: number, nowMs: number): Promise<number>;
}
