/**
 * Records of outbound sends, as the send use case (shared/domain/send-message.ts) needs them. The
 * record is written before WhatsApp is called and completed after, so that a retry, a concurrent
 * duplicate or a crash in between never sends the same request twice.
 *
 * States of `sendState`:
 * - `sending`: the call to WhatsApp is under way, or its outcome was lost (crash between the call
 *   and the update). Never sent again.
 * - `sent`: AWS accepted the message (`awsMessageId`).
 * - `rejected`: AWS refused the request itself as invalid (nothing was sent); final: `sendError`
 *   is answered again on retry.
 * - `in_doubt`: the call ended without a clear answer (5xx, network error, timeout, an unknown
 *   exception): AWS may have accepted it. Never sent again.
 * A send AWS throttled, or refused for a reason outside the request (our IAM or credentials, a
 * number not linked in this account and Region), leaves no record at all (`discard`): nothing was
 * accepted, so a retry with the same key simply starts again.
 */
import type { ErrorKind } from '../domain/errors.ts';
import type { Contact, MessageContext } from '../domain/types.ts';

export type SendState = 'sending' | 'sent' | 'rejected' | 'in_doubt';

/**
 * The error a failed send answered, kept so that a retry gets the same answer. (Records written
 * before errors had a kind kept the HTTP status instead; the store reads it as the kind it stood for.)
 */
export interface StoredSendError {
  kind: ErrorKind;
  code: string;
  message: string;
  details?: Readonly<Record<string, unknown>>;
}

/** What a send records before calling WhatsApp. */
export interface OutboundRecord {
  /** `msg_<32 hex>`: derived from the Idempotency-Key, or random. */
  id: string;
  phoneNumberId: string;
  /** The recipient's wa_id (digits), BSUID or group id: the conversation key. */
  contactId: string;
  contact: Contact;
  type: string;
  /** The Meta object of the type, as sent. */
  content: unknown;
  context?: MessageContext;
  /** The caller's own `biz_opaque_callback_data`, if any. */
  callbackData?: string;
  /** When the request was made, epoch ms: the message's place in its conversation. */
  timestampMs: number;
  /** sha256 of the canonical request: a key reused with another body is refused. */
  requestHash: string;
  idempotencyKey?: string;
  /**
   * Random token of this attempt, written with the record: every later change is conditioned on
   * it, so a late write of an earlier attempt can never touch a newer attempt's record.
   */
  attemptId: string;
  /** A template send: whether the catalog checked it (a replay answers the same). */
  templateChecked?: boolean;
}

/** A record found under an id, as far as the send needs to know it. */
export interface StoredOutbound {
  id: string;
  /** Absent when the item under this id is not a send record. */
  sendState?: SendState;
  requestHash?: string;
  awsMessageId?: string;
  sendError?: StoredSendError;
  /** When the current attempt began, epoch ms. */
  attemptStartedAtMs?: number;
  timestampMs?: number;
  /** Whether the first attempt's template was checked (template sends only). */
  templateChecked?: boolean;
}

export type BeginResult = { created: true } | { created: false; existing: StoredOutbound | undefined };

export interface OutboundStore {
  /** When the user last wrote in this conversation (epoch ms), read consistently; undefined if never. */
  lastInboundAt(phoneNumberId: string, contactId: string): Promise<number | undefined>;
  /**
   * The wa_id the inbound path filed a business-scoped user id (BSUID) under, read consistently;
   * undefined when no message of that user carried both.
   */
  waIdOf(phoneNumberId: string, userId: string): Promise<string | undefined>;
  /** The record under an id, read consistently. */
  find(id: string): Promise<StoredOutbound | undefined>;
  /**
   * Writes the record in state `sending` if the id is free, in its conversation's timeline and
   * counted by its conversation at once; otherwise returns what is there (`undefined` when it
   * vanished in between).
   */
  begin(record: OutboundRecord, nowMs: number): Promise<BeginResult>;
  /**
   * `sending` → `sent`; its conversation's last activity moves forward (never back). A record no longer `sending` (or of another attempt) is left alone.
   */
  markSent(record: OutboundRecord, awsMessageId: string | undefined, nowMs: number): Promise<void>;
  /**
   * `sending` → `sent` on the record alone, its conversation untouched: the fallback when `markSent`
   * failed, so that a retry replays the accepted send. A record no longer this attempt's `sending`
   * is left alone.
   */
  markSentOnly(record: OutboundRecord, awsMessageId: string | undefined, nowMs: number): Promise<void>;
  /** `sending` → `rejected`, with the error answered (final); it leaves its conversation's timeline and count. */
  markRejected(record: OutboundRecord, error: StoredSendError, nowMs: number): Promise<void>;
  /** `sending` → `in_doubt`: the call ended without a clear answer; it stays listed and counted. */
  markInDoubt(record: OutboundRecord, nowMs: number): Promise<void>;
  /**
   * Deletes the record of this attempt, still `sending` (AWS accepted nothing: throttled, or refused
   * before looking at the request), so that a retry with the same key starts again; its conversation
   * stops counting it in the same write. A failed
   * delete is tried again in place before it throws.
   */
  discard(record: OutboundRecord): Promise<void>;
}
