/**
 * Turns one queued event (an SNS notification carrying an EUM envelope) into domain records.
 *
 * Steps: JSON → SNS notification (or a raw-delivered envelope) → EUM envelope → webhook entry (a
 * JSON string inside the envelope) → every change → every message, status and value-level error.
 * Nothing is read as `[0]`. An element that fails its schema is reported as a problem and the rest
 * of the event is still used; an event that is not understood at all is reported as invalid.
 */
import { SnsSqsNotificationSchema } from '@aws-lambda-powertools/parser/schemas/sns';
import type { z } from 'zod';
import { messageIdFromWamid, phoneNumberIdFromArn } from '../domain/ids.ts';
import { decodeCallbackData } from '../domain/callback.ts';
import { normaliseStatus } from '../domain/status.ts';
import type {
  AccountEvent,
  BusinessNumber,
  Contact,
  InboundMessage,
  MetaError,
  ParsedEnvelope,
  StatusUpdate,
} from '../domain/types.ts';
import {
  EumEnvelopeSchema,
  INBOUND_TYPE_SCHEMAS,
  MEDIA_TYPES,
  MessagesValueSchema,
  WebhookEntrySchema,
  WebhookMessageSchema,
  WebhookStatusSchema,
  type EumEnvelope,
  type KnownInboundType,
  type WebhookMessage,
} from './webhook.ts';

export type ParseResult =
  | { kind: 'ok'; parsed: ParsedEnvelope; problems: string[] }
  | { kind: 'invalid'; reason: string };

/** A short, log-safe description of zod issues (paths and messages, never values). */
export function describeIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The SNS notification around an envelope: the same on every SNS delivery retry of one publish. */
interface Publication {
  messageId: string;
  publishedAtMs: number;
}

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

const epochMs = (seconds: string): number => Number(seconds) * 1000;

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

function contactFor(msg: WebhookMessage, contacts: z.infer<typeof MessagesValueSchema>['contacts']): Contact {
  const list = contacts ?? [];
  const match =
    list.find((c) => (msg.from !== undefined && c.wa_id === msg.from) || (msg.from_user_id !== undefined && c.user_id === msg.from_user_id)) ??
    (list.length === 1 ? list[0] : undefined);
  const waId = match?.wa_id ?? msg.from;
  const userId = match?.user_id ?? msg.from_user_id;
  const name = match?.profile?.name;
  return {
    ...(waId !== undefined && { waId }),
    ...(userId !== undefined && { userId }),
    ...(name !== undefined && { name }),
  };
}

/** The message's own object, validated when the type is known; decoded where Meta nests JSON in a string. */
function contentOf(msg: WebhookMessage): { ok: true; content: unknown } | { ok: false; reason: string } {
  const raw = (msg as Record<string, unknown>)[msg.type];
  if (!(msg.type in INBOUND_TYPE_SCHEMAS)) return { ok: true, content: raw ?? null };
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
  const content = contentOf(msg);
  if (!content.ok) return content;
  const contact = contactFor(msg, contacts);
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
      type: msg.type,
      content: content.content,
      timestampMs: epochMs(msg.timestamp),
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
  const phoneArns = new Map((envelope.context?.MetaPhoneNumberIds ?? []).map((p) => [p.metaPhoneNumberId, p.arn]));

  const parsed: ParsedEnvelope = { messages: [], statuses: [], accountEvents: [] };
  const problems: string[] = [];

  entry.data.changes.forEach((change, ci) => {
    const where = `changes.${ci}`;
    if (change.field !== 'messages') {
      parsed.accountEvents.push({ wabaId: metaWabaId, field: change.field, value: change.value, receivedAtMs: eventTimeMs, ...eventIdentity });
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
      const cb = decodeCallbackData(s.biz_opaque_callback_data);
      const errors = metaErrors(s.errors);
      const recipientId = s.recipient_id ?? s.recipient_user_id;
      const update: StatusUpdate = {
        wamid: s.id,
        status: normaliseStatus(s.status),
        business,
        timestampMs: epochMs(s.timestamp),
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
