/**
 * Turns one queued event (an SNS notification carrying an EUM envelope) into domain records.
 *
 * Steps: JSON → SNS notification (or a raw-delivered envelope) → EUM envelope → webhook entry (a
 * JSON string inside the envelope) → every change → every message, status and value-level error.
 * Nothing is read as `[0]`. An element that fails its schema is reported as a problem and the rest
 * of the event is still used; an event that is not understood at all is reported as invalid.
 */
import * as z from 'zod/mini';
import '../zod-locale.ts';
import { messageIdFromWamid, phoneNumberIdFromArn, wabaIdFromArn } from './ids.ts';
import { decodeCallbackData } from './callback.ts';
import { normaliseStatus } from './status.ts';
import type {
  AccountEvent,
  BusinessNumber,
  Contact,
  ContactIds,
  InboundMessage,
  MetaError,
  ParsedEnvelope,
  StatusUpdate,
} from './types.ts';
import {
  EumEnvelopeSchema,
  INBOUND_TYPE_SCHEMAS,
  isKnownInboundType,
  MEDIA_TYPES,
  MessagesValueSchema,
  WebhookEntrySchema,
  WebhookMessageSchema,
  WebhookStatusSchema,
  type EumEnvelope,
  type KnownInboundType,
  type WebhookMessage,
} from '../whatsapp/webhook.ts';

export type ParseResult =
  | { kind: 'ok'; parsed: ParsedEnvelope; problems: string[] }
  | { kind: 'invalid'; reason: string };

/** A short, log-safe description of zod issues (paths and messages, never values). */
export function describeIssues(error: z.core.$ZodError, prefix = ''): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * The reviver of every JSON text an event brings:
 * - an integer JSON cannot hold exactly (beyond 2^53: Meta's template ids are such numbers) keeps its
 *   digits as a string; DynamoDB's marshaller refuses such a number, and rounding it would change the id;
 * - a string or key with a lone UTF-16 surrogate (JSON's `\ud800` escape; UTF-8 has no such character,
 *   so WhatsApp never sends one and DynamoDB cannot store one) has it replaced with U+FFFD.
 */
export function reviveEventJson(this: unknown, _key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value) && typeof context?.source === 'string') {
    return context.source;
  }
  if (typeof value === 'string') return value.toWellFormed();
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).some((k) => !k.isWellFormed())) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toWellFormed(), v]));
  }
  return value;
}

/** JSON.parse with `reviveEventJson`: large integers keep their digits, lone surrogates become U+FFFD. */
export function parseEventJson(text: string): unknown {
  return JSON.parse(text, reviveEventJson as (this: unknown, key: string, value: unknown) => unknown);
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: parseEventJson(text) };
  } catch {
    return { ok: false };
  }
}

/** Whether any object in a parsed JSON value has an own key `__proto__`. */
function hasProtoKey(value: unknown, depth = 0): boolean {
  if (typeof value !== 'object' || value === null || depth > 200) return false;
  if (!Array.isArray(value) && Object.hasOwn(value, '__proto__')) return true;
  return Object.values(value).some((v) => hasProtoKey(v, depth + 1));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The SNS notification around an envelope: the same on every SNS delivery retry of one publish. */
interface Publication {
  messageId: string;
  publishedAtMs: number;
}

/**
 * An SNS notification as SQS receives it: the fields of Powertools' `SnsSqsNotificationSchema`
 * (@aws-lambda-powertools/parser), written here because that module imports zod as `{ z }`, which
 * bundles and evaluates all of zod (its every locale): about 350 KiB and 50 ms of each cold start.
 */
const SnsSqsNotificationSchema = z.object({
  Subject: z.nullish(z.string()),
  TopicArn: z.string(),
  UnsubscribeURL: z.optional(z.string()),
  SigningCertURL: z.optional(z.url()),
  Type: z.literal('Notification'),
  MessageAttributes: z.optional(z.record(z.string(), z.object({ Type: z.string(), Value: z.string() }))),
  Message: z.string(),
  MessageId: z.string(),
  Signature: z.optional(z.string()),
  SignatureVersion: z.optional(z.string()),
  Timestamp: z.iso.datetime(),
});

/**
 * Extracts the EUM envelope from an SQS body: an SNS notification (whose id and time come along), or
 * the envelope itself (raw delivery).
 */
function envelopeOf(
  body: string,
): { ok: true; envelope: EumEnvelope; publication?: Publication } | { ok: false; reason: string } {
  const json = tryJson(body);
  if (!json.ok) return { ok: false, reason: 'body is not JSON' };
  let candidate: unknown = json.value;
  let publication: Publication | undefined;
  if (isObject(candidate) && candidate.Type !== undefined) {
    const sns = SnsSqsNotificationSchema.safeParse(candidate);
    if (!sns.success) return { ok: false, reason: `not an SNS notification: ${describeIssues(sns.error)}` };
    const message = tryJson(sns.data.Message);
    if (!message.ok) return { ok: false, reason: 'SNS Message is not JSON' };
    candidate = message.value;
    publication = { messageId: sns.data.MessageId, publishedAtMs: Date.parse(sns.data.Timestamp) };
  }
  const env = EumEnvelopeSchema.safeParse(candidate);
  if (!env.success) return { ok: false, reason: `not an End User Messaging Social envelope: ${describeIssues(env.error)}` };
  return { ok: true, envelope: env.data, ...(publication && { publication }) };
}

/**
 * What identifies the event in an SQS body: the SNS `Message` when the body is an SNS notification
 * (its MessageId, Timestamp and Signature change when the same envelope is published twice), else
 * the body itself. Used to key quarantined events, so one poison event is kept once.
 */
export function eventContentOf(body: string): string {
  const json = tryJson(body);
  if (json.ok && isObject(json.value) && json.value.Type === 'Notification' && typeof json.value.Message === 'string') {
    return json.value.Message;
  }
  return body;
}

/** The latest time a JavaScript Date holds (±8.64e15 ms). */
const MAX_DATE_MS = 8.64e15;

/** Epoch seconds → ms; undefined for a time no Date can hold (a timestamp of `99999999999999`). */
function epochMs(seconds: string): number | undefined {
  const ms = Number(seconds) * 1000;
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? ms : undefined;
}

function metaErrors(errors: z.infer<typeof WebhookMessageSchema>['errors']): MetaError[] | undefined {
  if (!errors?.length) return undefined;
  return errors.map((e) => ({
    code: e.code,
    ...(e.title !== undefined && { title: e.title }),
    ...(e.message !== undefined && { message: e.message }),
    ...(e.error_data?.details !== undefined && { details: e.error_data.details }),
    ...(e.href !== undefined && { href: e.href }),
  }));
}

/**
 * The sender of a message is its own `from` / `from_user_id`; `contacts[]` only adds profile data
 * (name, and an id the message does not carry) from the entry that matches one of those ids. An
 * entry whose other id disagrees, or no matching entry, is not trusted: the message's own ids are
 * kept, and the entries are returned as `mismatch` so that the disagreement is kept and logged.
 */
function contactFor(
  msg: WebhookMessage,
  contacts: z.infer<typeof MessagesValueSchema>['contacts'],
): { contact: Contact; mismatch?: ContactIds[] } {
  const list = contacts ?? [];
  const match = list.find(
    (c) => (msg.from !== undefined && c.wa_id === msg.from) || (msg.from_user_id !== undefined && c.user_id === msg.from_user_id),
  );
  const disagrees =
    match !== undefined &&
    ((msg.from !== undefined && match.wa_id !== undefined && match.wa_id !== msg.from) ||
      (msg.from_user_id !== undefined && match.user_id !== undefined && match.user_id !== msg.from_user_id));
  const trusted = disagrees ? undefined : match;
  const waId = msg.from ?? trusted?.wa_id;
  const userId = msg.from_user_id ?? trusted?.user_id;
  const name = trusted?.profile?.name;
  const contact: Contact = {
    ...(waId !== undefined && { waId }),
    ...(userId !== undefined && { userId }),
    ...(name !== undefined && { name }),
  };
  if (list.length === 0 || trusted !== undefined) return { contact };
  const mismatch = list.map((c) => ({
    ...(c.wa_id !== undefined && { waId: c.wa_id }),
    ...(c.user_id !== undefined && { userId: c.user_id }),
  }));
  return { contact, mismatch };
}

/** The message's own object, validated when the type is known; decoded where Meta nests JSON in a string. */
function contentOf(msg: WebhookMessage): { ok: true; content: unknown } | { ok: false; reason: string } {
  // Own keys only: a `type` of `constructor` or `__proto__` is an unknown type, kept verbatim.
  const raw = Object.hasOwn(msg, msg.type) ? (msg as Record<string, unknown>)[msg.type] : undefined;
  if (!isKnownInboundType(msg.type)) return { ok: true, content: raw ?? null };
  if (msg.type === 'unsupported' && raw === undefined) return { ok: true, content: {} };
  const schema = INBOUND_TYPE_SCHEMAS[msg.type as KnownInboundType];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error, msg.type) };
  if (msg.type === 'interactive' && isObject(raw) && isObject(raw.nfm_reply)) {
    const decoded = tryJson(String(raw.nfm_reply.response_json));
    if (decoded.ok) return { ok: true, content: { ...raw, nfm_reply: { ...raw.nfm_reply, response: decoded.value } } };
  }
  return { ok: true, content: raw };
}

function toInboundMessage(
  msg: WebhookMessage,
  contacts: z.infer<typeof MessagesValueSchema>['contacts'],
  business: BusinessNumber,
): { ok: true; message: InboundMessage } | { ok: false; reason: string } {
  const timestampMs = epochMs(msg.timestamp);
  if (timestampMs === undefined) return { ok: false, reason: 'timestamp: out of the range of dates' };
  const content = contentOf(msg);
  if (!content.ok) return content;
  const { contact, mismatch } = contactFor(msg, contacts);
  const systemWaId = msg.type === 'system' && isObject(content.content) ? (content.content.wa_id as string | undefined) : undefined;
  const contactId = contact.waId ?? contact.userId ?? systemWaId;
  if (contactId === undefined) return { ok: false, reason: 'no wa_id or user_id identifies the sender' };
  const ctx = msg.context;
  const media = MEDIA_TYPES.has(msg.type) && isObject(content.content) ? content.content : undefined;
  const errors = metaErrors(msg.errors);
  return {
    ok: true,
    message: {
      id: messageIdFromWamid(msg.id),
      wamid: msg.id,
      business,
      contact,
      contactId,
      ...(mismatch && { contactMismatch: mismatch }),
      type: msg.type,
      content: content.content,
      timestampMs,
      ...(ctx && {
        context: {
          forwarded: ctx.forwarded === true,
          frequentlyForwarded: ctx.frequently_forwarded === true,
          ...(ctx.id !== undefined && { replyTo: ctx.id }),
          ...(ctx.from !== undefined && { from: ctx.from }),
          ...(ctx.referred_product && {
            referredProduct: {
              ...(ctx.referred_product.catalog_id !== undefined && { catalogId: ctx.referred_product.catalog_id }),
              ...(ctx.referred_product.product_retailer_id !== undefined && {
                productRetailerId: ctx.referred_product.product_retailer_id,
              }),
            },
          }),
        },
      }),
      ...(msg.referral && { referral: msg.referral }),
      ...(errors && { errors }),
      ...(media && {
        media: {
          id: String(media.id),
          ...(typeof media.mime_type === 'string' && { mimeType: media.mime_type }),
          ...(typeof media.sha256 === 'string' && { sha256: media.sha256 }),
          ...(typeof media.filename === 'string' && { filename: media.filename }),
        },
      }),
    },
  };
}

/**
 * Parses one SQS message body. Where the envelope carries no time, the SNS publish time stands in
 * (kept by SNS's own delivery retries), and `receivedAtMs` (the SQS time) for a raw delivery.
 */
export function parseEventBody(body: string, receivedAtMs: number): ParseResult {
  const env = envelopeOf(body);
  if (!env.ok) return { kind: 'invalid', reason: env.reason };
  const envelope = env.envelope;

  let entryValue: unknown = envelope.whatsAppWebhookEntry;
  if (typeof entryValue === 'string') {
    const decoded = tryJson(entryValue);
    if (!decoded.ok) return { kind: 'invalid', reason: 'whatsAppWebhookEntry is not JSON' };
    entryValue = decoded.value;
  }
  // The AWS SDK builds DynamoDB maps by assignment, so a key `__proto__` would be lost or break the
  // write on every retry: such an event is kept whole in quarantine instead.
  if (hasProtoKey(entryValue)) return { kind: 'invalid', reason: 'webhook entry: a key named __proto__ cannot be stored' };
  const entry = WebhookEntrySchema.safeParse(entryValue);
  if (!entry.success) return { kind: 'invalid', reason: `webhook entry: ${describeIssues(entry.error)}` };

  const envelopeTime = envelope.message_timestamp ? Date.parse(envelope.message_timestamp) : NaN;
  const publishedAtMs = env.publication?.publishedAtMs ?? NaN;
  const eventTimeMs = Number.isFinite(envelopeTime) ? envelopeTime : Number.isFinite(publishedAtMs) ? publishedAtMs : receivedAtMs;
  const eventIdentity =
    envelope.message_timestamp !== undefined
      ? { eventTimestamp: envelope.message_timestamp }
      : env.publication
        ? { snsMessageId: env.publication.messageId }
        : {};
  const metaWabaId = entry.data.id;
  const wabaContext = envelope.context?.MetaWabaIds ?? [];
  const awsWabaId = wabaIdFromArn((wabaContext.find((w) => w.wabaId === metaWabaId) ?? wabaContext[0])?.arn);
  const phoneArns = new Map((envelope.context?.MetaPhoneNumberIds ?? []).map((p) => [p.metaPhoneNumberId, p.arn]));

  const parsed: ParsedEnvelope = { messages: [], statuses: [], accountEvents: [] };
  const problems: string[] = [];

  entry.data.changes.forEach((change, ci) => {
    const where = `changes.${ci}`;
    if (change.field !== 'messages') {
      parsed.accountEvents.push({
        wabaId: metaWabaId,
        ...(awsWabaId && { awsWabaId }),
        field: change.field,
        value: change.value,
        receivedAtMs: eventTimeMs,
        ...eventIdentity,
      });
      return;
    }
    const value = MessagesValueSchema.safeParse(change.value);
    if (!value.success) {
      problems.push(`${where}.value: ${describeIssues(value.error)}`);
      return;
    }
    const metaPhoneNumberId = value.data.metadata.phone_number_id;
    const arn = phoneArns.get(metaPhoneNumberId);
    if (arn === undefined) {
      problems.push(`${where}: phone number ${metaPhoneNumberId} is not in the envelope context`);
      return;
    }
    const business: BusinessNumber = {
      phoneNumberId: phoneNumberIdFromArn(arn),
      metaPhoneNumberId,
      wabaId: metaWabaId,
      ...(awsWabaId && { awsWabaId }),
      ...(value.data.metadata.display_phone_number !== undefined && {
        displayPhoneNumber: value.data.metadata.display_phone_number,
      }),
    };

    (value.data.messages ?? []).forEach((raw, mi) => {
      const msg = WebhookMessageSchema.safeParse(raw);
      if (!msg.success) {
        problems.push(`${where}.value.messages.${mi}: ${describeIssues(msg.error)}`);
        return;
      }
      const inbound = toInboundMessage(msg.data, value.data.contacts, business);
      if (inbound.ok) parsed.messages.push(inbound.message);
      else problems.push(`${where}.value.messages.${mi}: ${inbound.reason}`);
    });

    (value.data.statuses ?? []).forEach((raw, si) => {
      const st = WebhookStatusSchema.safeParse(raw);
      if (!st.success) {
        problems.push(`${where}.value.statuses.${si}: ${describeIssues(st.error)}`);
        return;
      }
      const s = st.data;
      const timestampMs = epochMs(s.timestamp);
      if (timestampMs === undefined) {
        problems.push(`${where}.value.statuses.${si}: timestamp: out of the range of dates`);
        return;
      }
      const cb = decodeCallbackData(s.biz_opaque_callback_data);
      const errors = metaErrors(s.errors);
      const recipientId = s.recipient_id ?? s.recipient_user_id;
      const update: StatusUpdate = {
        wamid: s.id,
        status: normaliseStatus(s.status),
        business,
        timestampMs,
        ...(recipientId !== undefined && { recipientId }),
        ...(s.recipient_participant_id !== undefined && { participantId: s.recipient_participant_id }),
        ...(s.recipient_identity_key_hash !== undefined && { identityKeyHash: s.recipient_identity_key_hash }),
        ...(errors && { errors }),
        ...(s.pricing && { pricing: s.pricing }),
        ...(s.conversation && { conversation: s.conversation }),
        ...(cb.messageId !== undefined && { messageId: cb.messageId }),
        ...(cb.callerValue !== undefined && { callbackData: cb.callerValue }),
        ...(envelope.messageId !== undefined && { awsMessageId: envelope.messageId }),
      };
      parsed.statuses.push(update);
    });

    if (value.data.errors?.length) {
      const accountEvent: AccountEvent = {
        wabaId: metaWabaId,
        field: 'messages.errors',
        value: { metadata: value.data.metadata, errors: value.data.errors },
        receivedAtMs: eventTimeMs,
        ...eventIdentity,
      };
      parsed.accountEvents.push(accountEvent);
    }
  });

  return { kind: 'ok', parsed, problems };
}
