/**
 * What broadcasts need: the broadcast and its recipients in the table
 * (`shared/adapters/dynamodb-broadcasts.ts`), the queue of send jobs
 * (`shared/adapters/sqs-broadcast-queue.ts`) and a pacer per business number (the same DynamoDB
 * adapter: a sharded rate schedule kept with conditional writes).
 */
import type { Broadcast, BroadcastJob, Recipient, RecipientState } from '../domain/broadcasts.ts';
import type { PageTally, RecipientsLoadJob, RejectReason } from '../domain/broadcast-uploads.ts';

export interface BroadcastStore {
  /** Writes the broadcast if its id is free; false when it exists already. */
  create(b: Broadcast): Promise<boolean>;
  get(id: string): Promise<Broadcast | undefined>;
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
  transition(broadcastId: string, to: string, from: RecipientState, next: RecipientState, fields?: Partial<Recipient>): Promise<boolean>;
  /** Sets the broadcast's state if it is one of `from`. */
  setState(id: string, from: readonly Broadcast['state'][], next: Broadcast['state']): Promise<boolean>;
  /** A page of recipients, by phone, optionally in one state. */
  listRecipients(broadcastId: string, opts: { state?: RecipientState; limit: number; cursor?: string }): Promise<{ items: Recipient[]; nextCursor: string | null }>;
}

export interface BroadcastQueue {
  /** Sends one job per recipient (or per page of an uploaded list). */
  enqueue(jobs: readonly (BroadcastJob | RecipientsLoadJob)[]): Promise<void>;
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
   * Reserves the next send slot of `phoneNumberId` at `ratePerSecond`: the epoch ms at which the
   * send may go out (now, or later when the number is busy).
   */
  reserve(phoneNumberId: string, ratePerSecond: number, shardKey: string, nowMs: number): Promise<number>;
}
