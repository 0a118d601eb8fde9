/**
 * Domain types of the backend. Free of AWS Lambda and SDK types.
 */

/** A WhatsApp user as seen by a business number. `waId` is the phone (digits); `userId` the BSUID. */
export interface Contact {
  waId?: string;
  userId?: string;
  name?: string;
}

/** The ids of a `contacts[]` entry. */
export interface ContactIds {
  waId?: string;
  userId?: string;
}

/** The business number a message went through. */
export interface BusinessNumber {
  /** AWS phone number id, `phone-number-id-<32 hex>`. */
  phoneNumberId: string;
  /** Meta's numeric phone number id. */
  metaPhoneNumberId: string;
  displayPhoneNumber?: string;
  /** Meta WABA id (numeric). */
  wabaId?: string;
  /** The AWS WABA id (`waba-<hex>`), from the envelope's context when it names the WABA's ARN. */
  awsWabaId?: string;
}

export interface MessageContext {
  replyTo?: string;
  from?: string;
  forwarded: boolean;
  frequentlyForwarded: boolean;
  referredProduct?: { catalogId?: string; productRetailerId?: string };
}

/** A Meta error object as carried by webhooks (status errors, unsupported messages, value errors). */
export interface MetaError {
  code: number;
  title?: string;
  message?: string;
  details?: string;
  href?: string;
}

export interface InboundMedia {
  id: string;
  mimeType?: string;
  sha256?: string;
  filename?: string;
}

/** One inbound message, normalised from a webhook `messages[]` element. */
export interface InboundMessage {
  /** Project id, derived from the wamid so that redeliveries map to the same record. */
  id: string;
  wamid: string;
  business: BusinessNumber;
  contact: Contact;
  /** `waId` when present, else `userId`: the conversation key of the contact. */
  contactId: string;
  /**
   * The `contacts[]` entries when none matches the sender (`from` / `from_user_id`) without
   * disagreeing on the other id: kept for inspection, never used as the sender.
   */
  contactMismatch?: ContactIds[];
  /** Meta's type as received, including types this project does not know. */
  type: string;
  /** The Meta object of that type, verbatim (decoded where Meta nests JSON in a string). */
  content: unknown;
  context?: MessageContext;
  referral?: Record<string, unknown>;
  errors?: MetaError[];
  media?: InboundMedia;
  /** Meta's timestamp, epoch milliseconds. */
  timestampMs: number;
}

/** One status event of an outbound message, normalised from a webhook `statuses[]` element. */
export interface StatusUpdate {
  wamid: string;
  /** The status as received (Meta's or AWS's word), lower-cased. */
  status: string;
  business: BusinessNumber;
  /** Phone (digits) or BSUID of the recipient, when given; the group id for a group message. */
  recipientId?: string;
  /**
   * For a group message, the member this status is about (`recipient_participant_id`): each member
   * has their own delivered and read.
   */
  participantId?: string;
  /** `recipient_identity_key_hash`, when the business checks the user's identity. */
  identityKeyHash?: string;
  timestampMs: number;
  errors?: MetaError[];
  pricing?: Record<string, unknown>;
  conversation?: Record<string, unknown>;
  /** The project's message id, when the send put it in `biz_opaque_callback_data`. */
  messageId?: string;
  /** The caller's own `biz_opaque_callback_data`, if any. */
  callbackData?: string;
  /** The AWS send id from the envelope, when present. */
  awsMessageId?: string;
}

/** A `changes[]` element whose field is not `messages`: kept as an account event. */
export interface AccountEvent {
  /** Meta's WABA id (the webhook entry's `id`). */
  wabaId: string;
  /** The AWS WABA id (`waba-<hex>`), from the envelope's context when it names the WABA's ARN. */
  awsWabaId?: string;
  field: string;
  value: unknown;
  /** AWS receive time (envelope), epoch ms. */
  receivedAtMs: number;
  /**
   * The envelope's `message_timestamp` verbatim (nanoseconds), when present. It is the same on
   * every redelivery of one event and differs between two events with the same value (FLAGGED,
   * UNFLAGGED, FLAGGED again), so it tells a repeat from a redelivery.
   */
  eventTimestamp?: string;
  /**
   * Only without `eventTimestamp`: the SNS notification's MessageId, the same on every SNS delivery
   * retry of one publish, so such a retry is still one event.
   */
  snsMessageId?: string;
}

/** An event that could not be understood: kept with its raw body and the reason. */
export interface QuarantinedEvent {
  raw: string;
  reason: string;
  receivedAtMs: number;
  /** Where it came from, e.g. the SQS message id. */
  source?: string;
}

/** What one EUM envelope yields once parsed. */
export interface ParsedEnvelope {
  messages: InboundMessage[];
  statuses: StatusUpdate[];
  accountEvents: AccountEvent[];
  /** Value-level `errors[]` (no messages or statuses), kept as account events too. */
}
