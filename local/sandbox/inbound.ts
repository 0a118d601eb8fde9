/**
 * A simulated WhatsApp user sends a message to a business number (`POST /sandbox/inbound`): the
 * sandbox builds the `messages[]` element Meta would send, wraps it in the webhook entry and the
 * AWS envelope, and publishes it to the event topic.
 *
 * The body is the message as Meta writes it, minus what WhatsApp fills in, plus who sends it:
 * `{from, to?, name?, userId?, wamid?, type, <type>: {...}, context?, referral?, ...}`. Fields other
 * than `from`, `to`, `name`, `userId` and `wamid` are copied into the message verbatim, so types
 * the sandbox does not know pass through unchanged.
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { phoneDigits } from '../../shared/domain/ids.ts';
import { ControlError, sleep } from './http.ts';
import { storedExtension } from './media-rules.ts';
import { MEDIA_KINDS, sampleMedia } from './media-samples.ts';
import type { MediaKind } from './media-samples.ts';
import { metaError } from './meta-errors.ts';
import type { SandboxCore } from './types.ts';
import { windowKey } from './types.ts';
import { isOnWhatsApp } from './users.ts';
import { envelopeOf, messagesEntry, newMediaId, newWamid, unixSeconds } from './webhooks.ts';

/** Inbound media ids stay downloadable for 7 days (Meta). */
export const INBOUND_MEDIA_TTL_MS = 7 * 24 * 60 * 60 * 1000;

const InboundBodySchema = z.looseObject({
  from: z.string().regex(/^\+?[0-9][0-9 ()-]{4,}$/, 'from must be the user phone number (digits)'),
  to: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  userId: z.string().regex(/^[A-Z]{2}\.[0-9A-Za-z]+$/, 'userId must look like CC.<alphanumerics>').optional(),
  wamid: z.string().regex(/^wamid\.[A-Za-z0-9+/=_-]+$/, 'wamid must start with "wamid."').optional(),
  type: z.string().regex(/^[a-z_]+$/, 'type must be a Meta message type such as "text"'),
});

const CONTROL_FIELDS = new Set(['from', 'to', 'name', 'userId', 'wamid']);

const obj = (shape: z.ZodRawShape = {}) => z.looseObject(shape);

/** What each known non-media type must carry. Unknown types are not checked. */
const TYPE_RULES: Readonly<Record<string, z.ZodType>> = {
  text: obj({ text: obj({ body: z.string().min(1) }) }),
  location: obj({ location: obj({ latitude: z.number(), longitude: z.number() }) }),
  contacts: obj({ contacts: z.array(obj()).min(1) }),
  interactive: obj({ interactive: obj({ type: z.string().min(1) }) }),
  button: obj({ button: obj({ payload: z.string(), text: z.string() }) }),
  reaction: obj({ reaction: obj({ message_id: z.string().min(1), emoji: z.string().optional() }) }),
  order: obj({ order: obj({ product_items: z.array(obj()) }) }),
  system: obj({ system: obj({ type: z.string().min(1) }) }),
  unsupported: obj(),
  ...Object.fromEntries(MEDIA_KINDS.map((k) => [k, obj({ [k]: obj().optional() })])),
};

const isMediaKind = (t: string): t is MediaKind => (MEDIA_KINDS as readonly string[]).includes(t);

export interface InboundResult {
  wamid: string;
  mediaId?: string;
}

export async function simulateInbound(core: SandboxCore, raw: unknown): Promise<InboundResult> {
  const parsed = InboundBodySchema.safeParse(raw);
  if (!parsed.success) {
    throw new ControlError(400, 'invalid_request', 'The inbound message is not valid.', issuesOf(parsed.error));
  }
  const body = parsed.data;
  const rule = TYPE_RULES[body.type];
  if (rule) {
    const checked = rule.safeParse(body);
    if (!checked.success) {
      throw new ControlError(400, 'invalid_request', `A message of type ${body.type} is missing what Meta sends with it.`, issuesOf(checked.error));
    }
  }

  const { state } = core;
  const number = body.to === undefined ? state.config.phoneNumbers[0] : core.findNumber(body.to);
  if (!number) throw new ControlError(404, 'unknown_phone_number', 'No business number of the sandbox matches "to".');
  const from = phoneDigits(body.from);
  const known = state.users.get(from);
  if (!isOnWhatsApp(state, from)) {
    throw new ControlError(409, 'user_not_on_whatsapp', 'That number is not on WhatsApp (configured onWhatsApp: false, or matching notOnWhatsAppPattern), so it cannot send messages.');
  }
  const name = body.name ?? known?.name ?? 'Sandbox User';
  const userId = body.userId ?? known?.userId;
  state.users.set(from, { phone: from, name, onWhatsApp: true, ...(userId ? { userId } : {}) });

  const now = state.now();
  const wamid = body.wamid ?? newWamid(from, 'inbound');
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (!CONTROL_FIELDS.has(k) && k !== 'type') fields[k] = v;

  let mediaId: string | undefined;
  if (isMediaKind(body.type)) {
    const given = (fields[body.type] ?? {}) as Record<string, unknown>;
    if (typeof given.id !== 'string') {
      const made = createMedia(core, body.type, number.phoneNumberId, number.wabaId, now);
      mediaId = made.id;
      fields[body.type] = mediaObject(body.type, given, made);
    }
  } else if (body.type === 'interactive') {
    fields.interactive = withStringResponseJson(fields.interactive as Record<string, unknown>);
  } else if (body.type === 'unsupported') {
    fields.errors ??= [metaError(131051)];
    fields.unsupported ??= { type: 'unknown' };
  }

  const { context, ...rest } = fields;
  const message: Record<string, unknown> = {
    ...(context !== undefined ? { context } : {}),
    from,
    ...(userId ? { from_user_id: userId } : {}),
    id: wamid,
    timestamp: unixSeconds(now),
    ...rest,
    type: body.type,
  };
  // A system message (e.g. the user changed number) comes without contacts.
  const contacts = body.type === 'system' ? {} : { contacts: [{ profile: { name }, wa_id: from, ...(userId ? { user_id: userId } : {}) }] };
  const entry = messagesEntry(number, { ...contacts, messages: [message] });

  if (body.type !== 'system') state.lastInboundMs.set(windowKey(number.phoneNumberId, from), now);
  const replyTo = (context as { id?: unknown } | undefined)?.id;
  state.inbound.set(wamid, {
    phoneNumberId: number.phoneNumberId,
    from,
    type: body.type,
    content: message[body.type] ?? null,
    ...(typeof replyTo === 'string' && { replyTo }),
    atMs: now,
  });

  const chaos = { ...state.chaos };
  const duplicate = core.rng.chance(chaos.duplicateRate);
  if (chaos.delayMs > 0) await sleep(chaos.delayMs);
  const envelope = envelopeOf({ number, entry, region: core.opts.region, accountId: core.opts.accountId, nowMs: state.now() });
  await core.publish(envelope, duplicate);
  return mediaId === undefined ? { wamid } : { wamid, mediaId };
}

interface CreatedMedia {
  id: string;
  mimeType: string;
  sha256: string;
  filename?: string;
}

/** Makes a real file of `kind`, stores it for GetWhatsAppMessageMedia and returns its metadata. */
function createMedia(core: SandboxCore, kind: MediaKind, phoneNumberId: string, wabaId: string, now: number): CreatedMedia {
  const sample = sampleMedia(kind);
  const id = newMediaId();
  const sha256 = createHash('sha256').update(sample.bytes).digest('base64');
  core.state.media.set(id, {
    mediaId: id,
    bytes: sample.bytes,
    mimeType: sample.mimeType,
    sha256,
    extension: storedExtension(sample.mimeType),
    ...(sample.filename ? { filename: sample.filename } : {}),
    source: 'inbound',
    phoneNumberId,
    wabaId,
    createdAtMs: now,
    expiresAtMs: now + INBOUND_MEDIA_TTL_MS,
  });
  return { id, mimeType: sample.mimeType, sha256, ...(sample.filename ? { filename: sample.filename } : {}) };
}

/** The webhook object of a media message: what the user gave (caption, filename…) plus Meta's fields. */
function mediaObject(kind: MediaKind, given: Record<string, unknown>, made: CreatedMedia): Record<string, unknown> {
  const out: Record<string, unknown> = { ...given };
  if (kind === 'document') out.filename ??= made.filename;
  out.mime_type = made.mimeType;
  out.sha256 = made.sha256;
  out.id = made.id;
  out.url = `https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=${made.id}&source=getMedia&ext=${Math.floor(Date.now() / 1000)}&hash=${randomBytes(12).toString('base64url')}`;
  if (kind === 'audio') out.voice ??= true;
  if (kind === 'sticker') out.animated ??= false;
  return out;
}

/** Meta sends a Flow's `nfm_reply.response_json` as a JSON string; accept an object for convenience. */
function withStringResponseJson(interactive: Record<string, unknown>): Record<string, unknown> {
  const nfm = interactive.nfm_reply as Record<string, unknown> | undefined;
  if (interactive.type !== 'nfm_reply' || !nfm || typeof nfm.response_json === 'string' || nfm.response_json === undefined) {
    return interactive;
  }
  return { ...interactive, nfm_reply: { ...nfm, response_json: JSON.stringify(nfm.response_json) } };
}

function issuesOf(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}
