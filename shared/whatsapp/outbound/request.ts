/** The request of `POST /v1/messages` (one variant per type, the recipient rules), its parsing with actionable errors, and helpers over a valid request (the Meta message, the contact id, media ids, mark-read). */
import * as z from 'zod';
import { CALLBACK_DATA_MAX, OUTBOUND_LIMITS, OUTBOUND_TYPES, type MediaKind, type OutboundType } from './limits.ts';
import { arrayOf, chars, list, objectError, typeError } from './fields.ts';
import { LocationObject, ReactionObject, TextObject, mediaObject } from './media.ts';
import { ContactCard } from './contacts.ts';
import { InteractiveObject } from './interactive.ts';
import { TemplateObject } from './template.ts';
import { phoneDigits } from '../phone.ts';
import { fieldPath } from '../field-path.ts';

/** `phone-number-id-<hex>`, its ARN, or the display number (digits, optional leading `+`). */
export const FROM_PATTERNS = [
  /^phone-number-id-[0-9a-zA-Z]+$/,
  /^arn:aws[a-z-]*:social-messaging:[a-z0-9-]+:\d{12}:phone-number-id\/[0-9a-zA-Z]+$/,
  /^\+?\d{6,15}$/,
];
export const From = z
  .string({
    error: typeError('from (the business number as its phone number id, its ARN or its display number)', 'a string'),
  })
  .refine((s) => FROM_PATTERNS.some((p) => p.test(s)), {
    error: 'from must be the business number as its phone number id (phone-number-id-…), its ARN, or its display number (digits)',
  });

export const BSUID = new RegExp(`^[A-Z]{2}\\.[A-Za-z0-9]{1,${OUTBOUND_LIMITS.bsuidMax}}$`);
/** Characters people put in phone numbers besides digits. */
export const PHONE_SHAPE = /^\+?[0-9 ().-]+$/;

export const common = {
  from: From,
  to: z.string({ error: 'to must be a string' }).optional(),
  recipient: z
    .string({ error: 'recipient must be a string' })
    .regex(BSUID, { error: 'recipient must be a business-scoped user id such as US.13491208655302741918' })
    .optional(),
  messaging_product: z
    .literal('whatsapp', { error: 'messaging_product must be "whatsapp" (or left out)' })
    .optional(),
  recipient_type: z
    .enum(['individual', 'group'], { error: 'recipient_type must be "individual" or "group"' })
    .optional(),
  context: z
    .strictObject({ message_id: chars('context.message_id (the wamid replied to)') }, { error: objectError('context') })
    .optional(),
  biz_opaque_callback_data: chars('biz_opaque_callback_data', OUTBOUND_LIMITS.callerCallbackData).optional(),
};

export const variant = <T extends OutboundType, S extends z.ZodType>(type: T, object: S) =>
  z.strictObject({ ...common, type: z.literal(type), [type]: object } as typeof common & { type: z.ZodLiteral<T> } & {
    [K in T]: S;
  });

/** Checks that need more than one field: who the message goes to. */
export function checkRecipient(ctx: {
  value: { to?: string | undefined; recipient?: string | undefined; recipient_type?: 'individual' | 'group' | undefined };
  issues: z.core.$ZodRawIssue[];
}): void {
  const { to, recipient, recipient_type } = ctx.value;
  const push = (path: string, message: string) =>
    ctx.issues.push({ code: 'custom', input: ctx.value, path: [path], message });
  if (recipient_type === 'group') {
    if (to === undefined || to.trim() === '') push('to', 'to must be the group id when recipient_type is "group"');
    else if (recipient !== undefined) push('recipient', 'recipient (a user id) cannot be used when recipient_type is "group"');
    return;
  }
  if (to === undefined) {
    if (recipient === undefined) {
      push('to', "to is required: the user's phone number in E.164 (e.g. +16505551234), or give a business-scoped user id in recipient");
    }
    return;
  }
  const digits = phoneDigits(to);
  if (!PHONE_SHAPE.test(to) || digits.length < OUTBOUND_LIMITS.phoneDigitsMin || digits.length > OUTBOUND_LIMITS.phoneDigitsMax) {
    push('to', `to must be a phone number in E.164 with country code, e.g. +16505551234 (${OUTBOUND_LIMITS.phoneDigitsMin} to ${OUTBOUND_LIMITS.phoneDigitsMax} digits)`);
  }
}

export const SendMessageRequest = z
  .discriminatedUnion(
    'type',
    [
      variant('text', TextObject),
      variant('image', mediaObject('image')),
      variant('video', mediaObject('video')),
      variant('audio', mediaObject('audio')),
      variant('document', mediaObject('document')),
      variant('sticker', mediaObject('sticker')),
      z.strictObject({
        ...common,
        context: z.never({ error: 'reactions cannot be replies: remove context' }).optional(),
        type: z.literal('reaction'),
        reaction: ReactionObject,
      }),
      variant('location', LocationObject),
      variant('contacts', arrayOf(ContactCard, 'contacts', 1)),
      variant('interactive', InteractiveObject),
      variant('template', TemplateObject),
    ],
    {
      error: (iss: { code: string; input?: unknown }) => {
        if (iss.code === 'invalid_type') return 'the request body must be a JSON object';
        if (iss.code !== 'invalid_union') return undefined;
        const t = (iss.input as { type?: unknown } | undefined)?.type;
        return t === undefined
          ? `type is required: one of ${list(OUTBOUND_TYPES)}`
          : `type must be one of ${list(OUTBOUND_TYPES)} (got ${JSON.stringify(t)})`;
      },
    },
  )
  .check(checkRecipient);

export type SendMessageRequest = z.infer<typeof SendMessageRequest>;

// ---------------------------------------------------------------------------------------------
// Parsing with actionable errors
// ---------------------------------------------------------------------------------------------

export type ParseResult =
  | { ok: true; value: SendMessageRequest }
  | { ok: false; error: { path: string; message: string } };

export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * Messages for issues no schema words itself (types, unknown keys). Schema-level messages win over
 * this one; it is the per-parse fallback.
 */
export function fallbackMessage(iss: z.core.$ZodRawIssue): string | undefined {
  const path = (iss.path ?? []) as PropertyKey[];
  const where = fieldPath(path);
  switch (iss.code) {
    case 'invalid_type': {
      if (path.length === 0) return 'the request body must be a JSON object';
      const key = String(path[path.length - 1]);
      if (iss.input === undefined) {
        if (path.length === 1 && (OUTBOUND_TYPES as readonly string[]).includes(key)) {
          return `${key} is required when type is "${key}"`;
        }
        return `${where} is required`;
      }
      return `${where} must be ${iss.expected === 'object' ? 'an object' : `a ${iss.expected}`} (got ${kindOf(iss.input)})`;
    }
    case 'unrecognized_keys': {
      const key = iss.keys[0] ?? '';
      const input = iss.input as Record<string, unknown> | undefined;
      if (path.length === 0 && (OUTBOUND_TYPES as readonly string[]).includes(key) && typeof input?.type === 'string') {
        return `${key} is not allowed when type is "${input.type}": send one message type per request`;
      }
      return `unknown field ${fieldPath([...path, key])}: check the spelling (WhatsApp rejects fields it does not know)`;
    }
    case 'invalid_value':
      return `${where} must be ${iss.values.map((v) => JSON.stringify(v)).join(' or ')}`;
    case 'invalid_union':
      return `${where} is not valid here`;
    default:
      return undefined;
  }
}

/**
 * Validates a `POST /v1/messages` body. Never throws. On failure, `path` is the path of the
 * offending field (`''` for the body itself) and `message` says what to change.
 */
export function parseSendMessageRequest(body: unknown): ParseResult {
  const r = SendMessageRequest.safeParse(body, { error: fallbackMessage });
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
    return { ok: false, error: { path: fieldPath(path), message: issue.message } };
  }
  const bytes = new TextEncoder().encode(JSON.stringify(toMetaMessage(r.data, 'x'.repeat(CALLBACK_DATA_MAX)))).length;
  if (bytes > OUTBOUND_LIMITS.messageBytes) {
    return {
      ok: false,
      error: { path: '', message: `the message is too large: at most ${OUTBOUND_LIMITS.messageBytes} bytes of JSON (got ${bytes})` },
    };
  }
  return { ok: true, value: r.data };
}

// ---------------------------------------------------------------------------------------------
// Helpers over a valid request
// ---------------------------------------------------------------------------------------------

/** E.164 with a leading `+`: the format AWS's own samples send. */
export function toE164(phone: string): string {
  return `+${phoneDigits(phone)}`;
}

/**
 * The exact JSON passed to SendWhatsAppMessage: `from` removed, `messaging_product` set, `to` in
 * E.164 with `+` (a group id is kept as is), and `biz_opaque_callback_data` = `callbackData`
 * (the caller builds it with `encodeCallbackData`).
 */
export function toMetaMessage(req: SendMessageRequest, callbackData: string): Record<string, unknown> {
  if (callbackData.length > CALLBACK_DATA_MAX) {
    throw new RangeError(`biz_opaque_callback_data is longer than ${CALLBACK_DATA_MAX} characters`);
  }
  const out: Record<string, unknown> = { messaging_product: 'whatsapp' };
  if (req.recipient_type !== undefined) out.recipient_type = req.recipient_type;
  if (req.to !== undefined) out.to = req.recipient_type === 'group' ? req.to : toE164(req.to);
  if (req.recipient !== undefined) out.recipient = req.recipient;
  out.type = req.type;
  if (req.context !== undefined) out.context = structuredClone(req.context);
  out[req.type] = structuredClone((req as Record<string, unknown>)[req.type]);
  out.biz_opaque_callback_data = callbackData;
  return out;
}

export function isTemplate(req: SendMessageRequest): req is Extract<SendMessageRequest, { type: 'template' }> {
  return req.type === 'template';
}

/**
 * The conversation key of the recipient: the digits of `to` (a user's wa_id), else the BSUID in
 * `recipient`. A group's id is returned as given.
 */
export function recipientContactId(req: SendMessageRequest): string {
  if (req.to !== undefined) return req.recipient_type === 'group' ? req.to : phoneDigits(req.to);
  // The schema guarantees one of the two for non-group requests.
  return req.recipient!;
}

/** Collects `id`s of `{type: image|video|document, <type>: {id}}` parameters, also inside carousel cards. */
export function collectTemplateMediaIds(components: unknown, into: string[]): void {
  if (!Array.isArray(components)) return;
  for (const c of components) {
    if (typeof c !== 'object' || c === null) continue;
    const comp = c as Record<string, unknown>;
    if (Array.isArray(comp.parameters)) {
      for (const p of comp.parameters as Array<Record<string, unknown>>) {
        const t = p?.type;
        if (t === 'image' || t === 'video' || t === 'document') {
          const id = (p[t] as { id?: unknown } | undefined)?.id;
          if (typeof id === 'string') into.push(id);
        }
      }
    }
    if (Array.isArray(comp.cards)) {
      for (const card of comp.cards as Array<Record<string, unknown>>) collectTemplateMediaIds(card?.components, into);
    }
  }
}

/** Media ids the message references (not links): the media object, an interactive header, template parameters. */
export function mediaIdsOf(req: SendMessageRequest): string[] {
  const ids: string[] = [];
  switch (req.type) {
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker': {
      const id = (req as unknown as Record<MediaKind, { id?: string }>)[req.type].id;
      if (id !== undefined) ids.push(id);
      break;
    }
    case 'interactive': {
      const header = 'header' in req.interactive ? req.interactive.header : undefined;
      if (header !== undefined && header.type !== 'text') {
        const media = (header as Record<string, unknown>)[header.type] as { id?: string };
        if (media.id !== undefined) ids.push(media.id);
      }
      break;
    }
    case 'template':
      collectTemplateMediaIds(req.template.components, ids);
      break;
    default:
      break;
  }
  return [...new Set(ids)];
}

/**
 * Body of a mark-as-read request for an inbound message (sent through SendWhatsAppMessage).
 * `typingIndicator` also shows "typing…" to the user until the reply or for 25 seconds.
 */
export function markReadMessage(
  wamid: string,
  typingIndicator?: boolean,
): { messaging_product: 'whatsapp'; status: 'read'; message_id: string; typing_indicator?: { type: 'text' } } {
  return {
    messaging_product: 'whatsapp',
    status: 'read',
    message_id: wamid,
    ...(typingIndicator ? { typing_indicator: { type: 'text' as const } } : {}),
  };
}
