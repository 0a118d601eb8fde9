/**
 * Records of outbound sends, as the send use case (shared/domain/send-message.ts) needs them. The
 * record is written before WhatsApp is called and completed after, so that a retry, a concurrent
 * duplicate or a crash in between never sends the same request twice.
 *
 * States of `sendState`:
 * - `sending`: the call to WhatsApp is under way, or its outcome was lost (crash between the call
 *   and the update). Never sent again.
 * - `sent`: AWS accepted the message (`awsMessageId`).
 * - `rejected`: AWS refused it as a client error (4xx); `sendError` is answered again on retry.
 * - `retryable_failure`: AWS throttled or failed (5xx) before accepting it; a retry may take over.
 * - `in_doubt`: the call ended without an answer from AWS (network error, timeout). Never sent again.
 */
import type { Contact, MessageContext } from '../domain/types.ts';

export type SendState = 'sending' | 'sent' | 'rejected' | 'retryable_failure' | 'in_doubt';

/** The error a failed send answered, kept so that a retry gets the same answer. */
export interface StoredSendError {
  status: number;
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
}

export type BeginResult = { created: true } | { created: false; existing: StoredOutbound };
export type TakeOverResult = { taken: true } | { taken: false; existing: StoredOutbound | undefined };

export interface OutboundStore {
  /** When the user last wrote in this conversation (epoch ms), read consistently; undefined if never. */
  lastInboundAt(phoneNumberId: string, contactId: string): Promise<number | undefined>;
  /** The record under an id, read consistently. */
  find(id: string): Promise<StoredOutbound | undefined>;
  /** Writes the record in state `sending` if the id is free; otherwise returns what is there. */
  begin(record: OutboundRecord, nowMs: number): Promise<BeginResult>;
  /**
   * `retryable_failure` → `sending` for the same request hash (a retry takes over a send that AWS
   * refused for a transient reason). Returns what is there when the record is in another state.
   */
  takeOver(record: OutboundRecord, nowMs: number): Promise<TakeOverResult>;
  /**
   * `sending` → `sent`, counted in its conversation, whose last activity moves forward (never
   * back). A record no longer `sending` is left alone.
   */
  markSent(record: OutboundRecord, awsMessageId: string | undefined, nowMs: number): Promise<void>;
  /** `sending` → `rejected` or `retryable_failure`, with the error answered. */
  markFailed(id: string, state: 'rejected' | 'retryable_failure', error: StoredSendError, nowMs: number): Promise<void>;
  /** `sending` → `in_doubt`: the call ended without an answer. */
  markInDoubt(id: string, nowMs: number): Promise<void>;
}
