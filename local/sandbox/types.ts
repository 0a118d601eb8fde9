/**
 * Types shared by the parts of the sandbox: its observable state and the internal core that the
 * route modules work on.
 */
import type { SecondWindow, UniqueUsersWindow } from './limits.ts';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SandboxConfig, SandboxPhoneNumber } from './config.ts';
import type { Rng } from './rng.ts';
import type { SandboxTemplate } from './templates.ts';
import type { EumEnvelope } from './webhooks.ts';

export interface StatusDelays {
  sent: number;
  delivered: number;
  read: number;
}

export interface SandboxOptions {
  /** Business numbers, users and limits (see `loadSandboxConfig`). */
  config: SandboxConfig;
  /** Client used to publish EUM envelopes (SNS Publish). */
  sns: SNSClient;
  /** The event destination: where every envelope is published. */
  topicArn: string;
  /** Client for media: GetWhatsAppMessageMedia writes with it, PostWhatsAppMessageMedia reads. */
  s3: S3Client;
  /** Region and account of the ARNs the sandbox reports. */
  region: string;
  accountId: string;
  /** Epoch ms; default `Date.now`. Sandbox time is this plus what `/sandbox/clock` advanced. */
  clock?: () => number;
  /** Delays (ms after the send was accepted) of the status events; default 50/150/300. */
  statusDelaysMs?: StatusDelays;
  /** Seed of the RNG behind chaos decisions; default random. */
  seed?: number;
  /**
   * A queue subscribed to the event topic: the sandbox reads every envelope on it and learns from
   * each inbound message, whoever published it, what Meta would know (the user, their window).
   * Without it only messages sent through `POST /sandbox/inbound` are known.
   */
  observe?: { sqs: SQSClient; queueUrl: string };
  /** Where the sandbox reports background failures (publish errors); default `console.error`. */
  log?: (line: string) => void;
}

/** Settings of `/sandbox/chaos`; all off by default. */
export interface ChaosSettings {
  /** Probability that an envelope is published twice. */
  duplicateRate: number;
  /** Publish the status events of each message in a shuffled order (never the natural one). */
  reorder: boolean;
  /** Added latency of API answers and of event publication, ms. */
  delayMs: number;
  /** Probability that SendWhatsAppMessage answers DependencyException. */
  failRate: number;
  /** Probability that a socialmessaging API call answers ThrottledRequestException. */
  throttleRate: number;
  /**
   * Probability that AWS accepts a send (answers its messageId, publishes `accepted`) but never
   * hands it to WhatsApp, then publishes "Message retries exhausted, dropping message.".
   */
  dropRate: number;
}

export const NO_CHAOS: Readonly<ChaosSettings> = { duplicateRate: 0, reorder: false, delayMs: 0, failRate: 0, throttleRate: 0, dropRate: 0 };

/** What the business sent through SendWhatsAppMessage. */
export interface OutboxEntry {
  awsMessageId: string;
  /** The wamid WhatsApp assigned; null for a mark-as-read request, which has none. */
  wamid: string | null;
  /** Recipient: phone digits, or the BSUID when the message was addressed with `recipient`. */
  to: string | null;
  /** The decoded Meta JSON, as sent. */
  message: unknown;
  /**
   * The latest status published for it, AWS's included (`accepted`, "Message retries exhausted,
   * dropping message."); `accepted` before the first one and for a mark-as-read request.
   */
  status: string;
  /** Every status published for it, in publication order. */
  statuses: string[];
  /** Meta's error codes of its `failed` status (130429, 131056 …), once that status is published. */
  errorCodes?: number[];
  kind: 'message' | 'mark_read';
  phoneNumberId: string;
  /** Sandbox time of acceptance, ISO. */
  acceptedAt: string;
}

/** A message a user sent to a business number. */
export interface InboundRecord {
  phoneNumberId: string;
  /** The user's key: phone, else BSUID. */
  from: string;
  type: string;
  /** The message's object of its type (`text`, `image`, …), as Meta wrote it. */
  content: unknown;
  /** The wamid of the business message it answers (`context.id`). */
  replyTo?: string;
  /** Sandbox time it was sent (ms). */
  atMs: number;
}

/** One envelope of the event topic, as the console lists it. */
export interface EventRecord {
  /** Increasing number, so a reader can ask for what came after the last one it saw. */
  seq: number;
  /** Sandbox time it was seen, ISO. */
  at: string;
  /** `message:<type>`, `status:<status>`, or the webhook field. */
  kinds: string[];
  envelope: unknown;
}

/** A media file WhatsApp holds: received from a user, or uploaded by the business. */
export interface StoredMedia {
  mediaId: string;
  bytes: Buffer;
  /** As Meta reports it (audio: `audio/ogg; codecs=opus`). */
  mimeType: string;
  /** Base64 of the SHA-256 of the bytes, as webhooks carry it. */
  sha256: string;
  /**
   * What GetWhatsAppMessageMedia appends after the media id in the S3 key: `extensionFor(mimeType)`
   * of `shared/domain/media.ts` (see `storedExtension`), fixed when the media is stored.
   */
  extension: string;
  filename?: string;
  source: 'inbound' | 'upload';
  phoneNumberId: string;
  /** AWS WABA id of the number that received or uploaded it: media is visible within its WABA. */
  wabaId: string;
  createdAtMs: number;
  expiresAtMs: number;
}

/** A WhatsApp user the sandbox knows: configured, or seen sending a message. */
export interface KnownUser {
  /** Absent for a user seen only by BSUID (a username user whose phone Meta did not share). */
  phone?: string;
  name?: string;
  userId?: string;
  onWhatsApp: boolean;
}

/** The sandbox's bookkeeping, readable by the runtime and by tests. */
export interface SandboxState {
  readonly config: SandboxConfig;
  readonly outbox: OutboxEntry[];
  readonly media: Map<string, StoredMedia>;
  /** Last inbound message time (sandbox ms) per `windowKey(phoneNumberId, userPhone)`. */
  readonly lastInboundMs: Map<string, number>;
  /** Users by phone (by BSUID for a user seen without one). */
  readonly users: Map<string, KnownUser>;
  /** Inbound messages by wamid (for mark-as-read, and the user's side of the console), oldest first. */
  readonly inbound: Map<string, InboundRecord>;
  /** The latest envelopes on the event topic (seen by the observer, else published), newest last. */
  readonly events: EventRecord[];
  /** Every WABA's message templates (deleted ones stay, as DELETED). */
  readonly templates: SandboxTemplate[];
  chaos: ChaosSettings;
  /** What `/sandbox/clock` added to the clock, ms. */
  clockOffsetMs: number;
  /** Sandbox time, epoch ms. */
  now(): number;
}

/** Key of the 24-hour window of a user with a business number. */
export function windowKey(phoneNumberId: string, userPhone: string): string {
  return `${phoneNumberId}|${userPhone}`;
}

/** What the route modules work on. */
export interface SandboxCore {
  readonly opts: SandboxOptions;
  readonly state: SandboxState;
  readonly delays: StatusDelays;
  rng: Rng;
  /** Meta's sending limits (see `limits.ts`): sends per number in the last second, pair buckets by window key, the business's unique users. */
  readonly sendTimes: { byNumber: Map<string, SecondWindow>; byPair: Map<string, { tokens: number; atMs: number }>; uniqueUsers: UniqueUsersWindow };
  /** Open pricing conversations by window key. */
  readonly conversations: Map<string, { id: string; expiresMs: number }>;
  /** The business number given by AWS id, ARN, Meta id or display number. */
  findNumber(ref: string): SandboxPhoneNumber | undefined;
  /** Publishes an envelope now (twice when `duplicate`). */
  publish(envelope: EumEnvelope, duplicate: boolean): Promise<void>;
  /** Runs `task` after `ms`; `idle()` waits for it. `stop()` cancels it and calls `cancelled`. */
  later(ms: number, task: () => Promise<void>, cancelled?: () => void): void;
  /** Reports a background failure without personal data. */
  log(line: string): void;
  /** Reads what the event topic carried so far (a no-op without `observe`). */
  catchUp(): Promise<void>;
}
