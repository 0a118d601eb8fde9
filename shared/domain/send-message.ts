/**
 * Sending a message (`POST /v1/messages`) exactly once, and marking an inbound message read
 * (`POST /v1/messages/{id}/read`).
 *
 * A send (the request already validated at the edge, `parseSendMessageRequest` →
 * `validation_error` with `details.path`):
 * 2. Resolves `from` (phone number id, its ARN or its display number) against the configured
 *    numbers → `unknown_phone_number` (not found).
 * 3. Derives the id: from the Idempotency-Key (`msg_` + sha256(phoneNumberId \n key)), else random;
 *    then `prepareSend` makes, once, the Meta message, the hash of the canonical request and the
 *    stored shape.
 * 4. Finds the conversation: the wa_id of `to`; for a BSUID in `recipient`, the wa_id the inbound
 *    path filed that user under (its alias), else the BSUID itself.
 * 5. A non-template message needs an open 24-hour window → `window_closed` (nothing stored,
 *    nothing sent). A template is checked against the catalog of the number's WABA
 *    (`checkTemplateSend`: `template_not_found`, `template_not_approved`,
 *    `template_parameter_mismatch`; nothing stored, nothing sent); one the catalog has never seen
 *    is sent unchecked, and the answer says `templateChecked: false`.
 * 6. Writes the record (`sending`) if the id is free. If it is taken: another body → `idempotency_key_reused`; `sent` →
 *    the first answer again; `rejected` → the first error again; `sending` → `send_in_progress`
 *    (recent) or `send_in_doubt` (the first attempt's outcome was lost: never sent again);
 *    `in_doubt` → `send_in_doubt`.
 * 7. Calls SendWhatsAppMessage with our id in `biz_opaque_callback_data` (the gateway retries a
 *    throttled call a few times, nothing else).
 * 8. Records the outcome: `sent` (+ conversation; when that transaction fails, the record alone,
 *    and the send is accepted all the same); `rejected` (AWS refused the request itself as invalid:
 *    nothing was sent; final); still throttled, or refused for a reason outside the request (our
 *    IAM or credentials, a number not linked in this account and Region) → the record is deleted
 *    (nothing was accepted) and the caller gets the mapped error (throttled, internal, not found), so a retry with
 *    the key starts again (`store_unavailable` if the delete fails: the key stays taken);
 *    anything else (AWS failed, a network error, a timeout, an unknown exception) → `in_doubt`
 *    and `send_in_doubt` (no answer): AWS may have accepted it, so it is never sent again.
 *
 * The call (7) and the update (8) are separate steps: a crash between them leaves `sending`, and
 * the retry answers `send_in_doubt` instead of sending again.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { OutboundRecord, OutboundStore, StoredOutbound, StoredSendError } from '../ports/outbound-store.ts';
import type { MessageQueries } from '../ports/message-queries.ts';
import type { WhatsAppGateway } from '../ports/whatsapp-gateway.ts';
import type { TemplateStore } from '../ports/templates.ts';
import { checkTemplateSend } from './templates.ts';
import {
  isTemplate,
  markReadMessage,
  recipientContactId,
  toMetaMessage,
  type SendMessageRequest,
} from '../whatsapp/outbound.ts';
import { encodeCallbackData } from './callback.ts';
import {
  answerOf,
  ApiError,
  ConflictError,
  failureKindOf,
  IdempotencyKeyReuseError,
  NotFoundError,
  WhatsAppFailure,
  type WhatsAppFailureKind,
  ValidationError,
  WindowClosedError,
} from './errors.ts';
import { newMessageId, phoneDigits, phoneNumberIdFromArn } from './ids.ts';
import type { Contact, MessageContext } from './types.ts';
import { isWindowOpen, windowExpiresAt } from './window.ts';

/**
 * How long a `sending` record counts as a request still running (`send_in_progress`) before it
 * counts as a lost outcome (`send_in_doubt`). Longer than any API request can live (API
 * Gateway gives up after 29 s).
 */
export const SEND_IN_PROGRESS_MS = 30_000;

/**
 * The stored copy of a message must fit in a DynamoDB item (400 KB) beside the rest of the record.
 * WhatsApp takes up to 2 MB; no real message comes near either.
 */
export const STORED_CONTENT_MAX_BYTES = 300_000;

/** The answer of an accepted send. */
export interface SendAccepted {
  id: string;
  status: 'accepted';
  awsMessageId: string | null;
  /**
   * Template sends: whether the template was checked against the catalog (false: the catalog has
   * not seen it, or knows only its status, so it was sent unchecked).
   */
  templateChecked?: boolean;
}

export interface SendOutcome {
  body: SendAccepted;
  /** True when this is the answer of an earlier request with the same Idempotency-Key. */
  replayed: boolean;
}

export interface MarkReadResult {
  id: string;
  wamid: string;
  read: true;
}

/** Reads a message by id or wamid (the read side's port). */
export type MessageLookup = Pick<MessageQueries, 'getMessage'>;

export interface MessageSenderDeps {
  gateway: WhatsAppGateway;
  store: OutboundStore;
  messages: MessageLookup;
  /** The AWS phone number ids this backend may send from (`PHONE_NUMBER_IDS`). */
  phoneNumberIds: readonly string[];
  /** `META_API_VERSION`, e.g. `v24.0`. */
  metaApiVersion: string;
  now: () => number;
  newId?: () => string;
  inProgressMs?: number;
  /** Where to report what the caller is not told (ids only). */
  log?: { warn(message: string, attributes: Record<string, unknown>): void };
  /** The template catalog; without it templates are sent unchecked. */
  templates?: Pick<TemplateStore, 'get' | 'languagesOf'>;
}

/** How a failed SendWhatsAppMessage call leaves the message (see `WhatsAppFailureKind`). */
export type SendFailure = WhatsAppFailureKind;

/** JSON with object keys sorted at every level: equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The message id of a keyed request: the same key from the same number always names the same message. */
export function messageIdForKey(phoneNumberId: string, idempotencyKey: string): string {
  return `msg_${sha256(`${phoneNumberId}\n${idempotencyKey}`).slice(0, 32)}`;
}

/**
 * The hash that tells a retry from a different request under the same key: the number and the
 * exact Meta message the request sends, with the caller's own callback data (so `"+1 650…"` and
 * `"1650…"`, or `from` as an id or as an ARN, are the same request). Stored with every keyed send:
 * it must stay the same across versions (see test/unit/request-hash.test.ts).
 */
function hashOf(phoneNumberId: string, req: SendMessageRequest, message: Record<string, unknown>): string {
  return sha256(canonicalJson({ phoneNumberId, message: { ...message, biz_opaque_callback_data: req.biz_opaque_callback_data ?? '' } }));
}

/** The request hash of `req` from `phoneNumberId` (see `hashOf`). */
export function requestHash(phoneNumberId: string, req: SendMessageRequest): string {
  return hashOf(phoneNumberId, req, toMetaMessage(req, req.biz_opaque_callback_data ?? ''));
}

/** A send made ready once: what goes to WhatsApp, the hash that names the request, and what is kept. */
export interface PreparedSend {
  /** The Meta message, our id in its `biz_opaque_callback_data`. */
  message: Record<string, unknown>;
  hash: string;
  contact: Contact;
  content: unknown;
  context?: MessageContext;
}

/**
 * The Meta message, the request hash and the stored shape of a valid request, computed once.
 * A message too large to keep beside its record is a `validation_error` naming the type's field.
 */
export function prepareSend(phoneNumberId: string, id: string, req: SendMessageRequest): PreparedSend {
  const message = toMetaMessage(req, encodeCallbackData(id, req.biz_opaque_callback_data));
  const stored = storedShape(req);
  const contentBytes = Buffer.byteLength(JSON.stringify({ content: stored.content, context: stored.context }) ?? '');
  if (contentBytes > STORED_CONTENT_MAX_BYTES) {
    throw new ValidationError(
      `the message is too large to keep: at most ${STORED_CONTENT_MAX_BYTES} bytes of JSON (got ${contentBytes})`,
      { path: req.type },
    );
  }
  return { message, hash: hashOf(phoneNumberId, req, message), ...stored };
}

/**
 * `send_in_doubt`: whether the message went out is unknown (AWS did not answer, or the process
 * died between the call and the record update), so it is never sent again. A `conflict` for a
 * retry; `no_answer` for the request whose call got no answer.
 */
export class SendInDoubtError extends ApiError {
  constructor(id: string, opts: { noAnswer?: boolean; keyed?: boolean; cause?: unknown } = {}) {
    const again =
      opts.keyed === false
        ? 'This backend will not send it again; a new request (without an Idempotency-Key) would send a second message.'
        : 'It will not be sent again with this Idempotency-Key.';
    super(
      opts.noAnswer ? 'no_answer' : 'conflict',
      'send_in_doubt',
      `Whether message ${id} was sent is unknown: AWS did not confirm it. ${again} ` +
        `Watch GET /v1/messages/${id}: WhatsApp's statuses carry this id, so the message fills in if it went out.`,
      { id },
      opts.cause !== undefined ? { cause: opts.cause } : undefined,
    );
  }
}

/** `conflict` `send_in_progress`: a request with the same Idempotency-Key is sending right now. */
export class SendInProgressError extends ConflictError {
  constructor(id: string) {
    super(
      `A request with this Idempotency-Key is still sending message ${id}: retry in a few seconds to get its answer.`,
      'send_in_progress',
      { id },
    );
  }
}

/**
 * `unavailable` `store_unavailable`: AWS accepted nothing, but the record of the attempt could not be
 * deleted, so its Idempotency-Key stays taken (a retry with it answers send_in_progress, then
 * send_in_doubt).
 */
export class KeyNotFreedError extends ApiError {
  constructor(id: string, keyed: boolean) {
    super(
      'unavailable',
      'store_unavailable',
      `Message ${id} was not sent, and the backend's storage failed while recording that: ` +
        (keyed ? 'send it again with a new Idempotency-Key (this one stays taken).' : 'send it again later.'),
      { id },
    );
  }
}

/**
 * An error for the log by name only (never its message, which may quote the request): its own and,
 * when it wraps another (a store error around DynamoDB's), the innermost one's.
 */
function errorNames(err: unknown): { error?: unknown; cause?: unknown } {
  const nameOf = (e: unknown) => (typeof e === 'object' && e !== null ? (e as { name?: unknown }).name : undefined);
  const causeOf = (e: unknown) => (typeof e === 'object' && e !== null ? (e as { cause?: unknown }).cause : undefined);
  let inner = err;
  for (let depth = 0; depth < 5 && causeOf(inner) !== undefined; depth++) inner = causeOf(inner);
  return { error: nameOf(err), ...(inner !== err && { cause: nameOf(inner) }) };
}

const toStoredError = (e: ApiError): StoredSendError => ({
  kind: e.kind,
  code: e.code,
  message: e.message,
  ...(e.details !== undefined && { details: e.details }),
});

/** How the message shows in the store: its contact, content and reply context. */
function storedShape(req: SendMessageRequest): { contact: Contact; content: unknown; context?: MessageContext } {
  const contact: Contact = {};
  if (req.recipient_type !== 'group') {
    if (req.to !== undefined) contact.waId = phoneDigits(req.to);
    if (req.recipient !== undefined) contact.userId = req.recipient;
  }
  return {
    contact,
    content: (req as Record<string, unknown>)[req.type],
    ...(req.context && { context: { replyTo: req.context.message_id, forwarded: false, frequentlyForwarded: false } }),
  };
}

/**
 * Wraps the call to AWS of a send, right before it (a broadcast's pacing waits for its send permit
 * there, after the store's work). What it throws before calling is a `WhatsAppFailure` (nothing
 * was sent).
 */
export type SendGate = <T>(call: () => Promise<T>) => Promise<T>;

export class MessageSender {
  private readonly deps: MessageSenderDeps;
  private readonly numbers: PhoneNumberResolver;

  constructor(deps: MessageSenderDeps) {
    this.deps = deps;
    this.numbers = new PhoneNumberResolver(deps.gateway, deps.phoneNumberIds);
  }

  /** Sends one valid message (see the steps at the top of this file). Throws `ApiError`s. */
  async send(req: SendMessageRequest, opts: { idempotencyKey?: string; gate?: SendGate } = {}): Promise<SendOutcome> {
    const { store, now } = this.deps;
    const phoneNumberId = await this.resolvePhoneNumber(req.from);
    const key = opts.idempotencyKey;
    const id = key !== undefined ? messageIdForKey(phoneNumberId, key) : (this.deps.newId ?? newMessageId)();
    const { message, hash, contact, content, context } = prepareSend(phoneNumberId, id, req);
    let contactId = recipientContactId(req);
    if (req.to === undefined && req.recipient !== undefined) {
      // The inbound path files a user who has both under the wa_id: the reply joins that conversation.
      const waId = await store.waIdOf(phoneNumberId, req.recipient);
      if (waId !== undefined) {
        contactId = waId;
        contact.waId = waId;
      }
    }
    const requestedAt = now();

    let templateChecked: boolean | undefined;
    if (isTemplate(req)) {
      try {
        templateChecked = await this.checkTemplate(phoneNumberId, req.template);
      } catch (err) {
        // A retry of a request accepted before the template changed gets its first answer.
        const earlier = key !== undefined ? await store.find(id) : undefined;
        if (earlier !== undefined) return this.settle(earlier, hash, requestedAt);
        throw err;
      }
    } else {
      const lastInbound = await store.lastInboundAt(phoneNumberId, contactId);
      if (!isWindowOpen(lastInbound, requestedAt)) {
        // A retry of a request accepted while the window was open gets its first answer.
        const earlier = key !== undefined ? await store.find(id) : undefined;
        if (earlier !== undefined) return this.settle(earlier, hash, requestedAt);
        throw new WindowClosedError(
          lastInbound !== undefined ? { windowExpiresAt: new Date(windowExpiresAt(lastInbound)).toISOString() } : {},
        );
      }
    }

    const record: OutboundRecord = {
      id,
      phoneNumberId,
      contactId,
      contact,
      type: req.type,
      content,
      ...(context && { context }),
      ...(req.biz_opaque_callback_data !== undefined && { callbackData: req.biz_opaque_callback_data }),
      timestampMs: requestedAt,
      requestHash: hash,
      ...(key !== undefined && { idempotencyKey: key }),
      attemptId: randomUUID(),
      ...(templateChecked !== undefined && { templateChecked }),
    };
    for (let round = 0; ; round++) {
      const begun = await store.begin(record, requestedAt);
      if (begun.created) break;
      // Gone in between (a throttled attempt discarded it): the id is free again, so try once more.
      if (begun.existing !== undefined) return this.settle(begun.existing, hash, now());
      if (round === 2) throw new SendInProgressError(id);
    }

    let accepted: { awsMessageId?: string };
    try {
      const call = () => this.deps.gateway.sendMessage({ phoneNumberId, message, metaApiVersion: this.deps.metaApiVersion });
      accepted = await (opts.gate ? opts.gate(call) : call());
    } catch (err) {
      throw await this.recordFailure(record, err, key !== undefined);
    }
    try {
      await store.markSent(record, accepted.awsMessageId, now());
    } catch (err) {
      // AWS has the message: the caller must hear so whatever happens here. The conversation is
      // best effort; the record alone is marked `sent`, so that a retry with the key replays this
      // answer rather than a send_in_doubt.
      this.deps.log?.warn('send accepted, conversation not updated', { messageId: id, phoneNumberId, ...errorNames(err) });
      try {
        await store.markSentOnly(record, accepted.awsMessageId, now());
      } catch (fallbackErr) {
        // The record stays `sending`: a retry answers send_in_progress, then send_in_doubt. Safe.
        this.deps.log?.warn('send accepted but not recorded', { messageId: id, phoneNumberId, ...errorNames(fallbackErr) });
      }
    }
    return {
      body: { id, status: 'accepted', awsMessageId: accepted.awsMessageId ?? null, ...(templateChecked !== undefined && { templateChecked }) },
      replayed: false,
    };
  }

  /** Checks a template send against the catalog of the number's WABA (see `checkTemplateSend`). */
  async checkTemplate(phoneNumberId: string, template: { name: string; language: { code: string }; components?: unknown[] }): Promise<boolean> {
    const catalog = this.deps.templates;
    if (!catalog) return false;
    const wabaId = await this.numbers.wabaOf(phoneNumberId);
    if (wabaId === undefined) return false;
    const { name } = template;
    const language = template.language.code;
    const found = await catalog.get(wabaId, name, language);
    const others = found && found.status !== 'DELETED' ? [] : await catalog.languagesOf(wabaId, name);
    return checkTemplateSend({ name, language, components: template.components as Parameters<typeof checkTemplateSend>[0]['components'] }, found, others);
  }

  /** The template's category in the catalog of the number's WABA (MARKETING, UTILITY…), when it knows the template. */
  async templateCategory(phoneNumberId: string, template: { name: string; language: { code: string } }): Promise<string | undefined> {
    const catalog = this.deps.templates;
    const wabaId = catalog && (await this.numbers.wabaOf(phoneNumberId));
    if (!catalog || wabaId === undefined) return undefined;
    return (await catalog.get(wabaId, template.name, template.language.code))?.category;
  }

  /** The WABAs of the configured numbers, the first number's first. */
  wabas(): Promise<string[]> {
    return this.numbers.wabas();
  }

  /** What a request whose id is already taken gets: the first answer, the first error, a conflict or a reused key. */
  private settle(existing: StoredOutbound, hash: string, nowMs: number): SendOutcome {
    const { id } = existing;
    if (existing.sendState === undefined) throw new SendInDoubtError(id);
    if (existing.requestHash !== hash) throw new IdempotencyKeyReuseError();
    switch (existing.sendState) {
      case 'sent':
        return {
          body: { id, status: 'accepted', awsMessageId: existing.awsMessageId ?? null, ...(existing.templateChecked !== undefined && { templateChecked: existing.templateChecked }) },
          replayed: true,
        };
      case 'rejected': {
        const e = existing.sendError;
        throw e ? new ApiError(e.kind, e.code, e.message, e.details) : new SendInDoubtError(id);
      }
      case 'sending': {
        const started = existing.attemptStartedAtMs;
        const running = started !== undefined && nowMs - started < (this.deps.inProgressMs ?? SEND_IN_PROGRESS_MS);
        throw running ? new SendInProgressError(id) : new SendInDoubtError(id);
      }
      default:
        // `in_doubt`, or a state this version does not know: never sent again.
        throw new SendInDoubtError(id);
    }
  }

  /** Records a failed call and returns the error to answer. */
  private async recordFailure(record: OutboundRecord, err: unknown, keyed: boolean): Promise<ApiError> {
    const { store, now } = this.deps;
    const kind = failureKindOf(err);
    if (kind === 'throttled' || kind === 'not_sent') {
      // AWS accepted nothing, and the same request may go through later: nothing is kept, so a
      // retry with the key starts again.
      try {
        await store.discard(record);
      } catch (storeErr) {
        // The record stays `sending` and holds the key: "retry with the same key" would be wrong.
        this.deps.log?.warn('unsent message not discarded', { messageId: record.id, ...errorNames(storeErr) });
        return new KeyNotFreedError(record.id, keyed);
      }
      return answerOf(err);
    }
    try {
      if (kind === 'rejected') {
        const answer = answerOf(err);
        await store.markRejected(record, toStoredError(answer), now());
        return answer;
      }
      await store.markInDoubt(record, now());
    } catch (storeErr) {
      // The record stays `sending`: a retry answers send_in_progress, then send_in_doubt. Safe.
      this.deps.log?.warn('send outcome not recorded', { messageId: record.id, ...errorNames(storeErr) });
      if (kind === 'rejected') return answerOf(err);
    }
    return new SendInDoubtError(record.id, { noAnswer: true, keyed, cause: err });
  }

  /** Marks an inbound message read (and shows "typing…" with `typingIndicator`). */
  async markRead(idOrWamid: string, opts: { typingIndicator?: boolean } = {}): Promise<MarkReadResult> {
    const m = await this.deps.messages.getMessage(idOrWamid);
    if (!m) throw new NotFoundError(`No message has the id or wamid ${idOrWamid}.`, 'message_not_found');
    if (m.direction !== 'inbound' || !m.wamid || !m.phoneNumberId) {
      throw new ConflictError('Only inbound messages (messages a user sent to the business) can be marked read.', 'not_inbound', {
        id: m.id,
      });
    }
    const phoneNumberId = this.numbers.requireConfigured(m.phoneNumberId, m.phoneNumberId);
    try {
      await this.deps.gateway.sendMessage({
        phoneNumberId,
        message: markReadMessage(m.wamid, opts.typingIndicator),
        metaApiVersion: this.deps.metaApiVersion,
      });
    } catch (err) {
      throw answerOf(err);
    }
    return { id: m.id, wamid: m.wamid, read: true };
  }

  /** `from` → a configured phone number id (see `PhoneNumberResolver`). */
  resolvePhoneNumber(from: string): Promise<string> {
    return this.numbers.resolve(from);
  }

  /** The AWS WABA id of a configured number (see `PhoneNumberResolver.wabaOf`). */
  wabaOf(phoneNumberId: string): Promise<string | undefined> {
    return this.numbers.wabaOf(phoneNumberId);
  }

  /** The configured numbers of a WABA. */
  numbersOf(wabaId: string): Promise<string[]> {
    return this.numbers.numbersOf(wabaId);
  }
}

interface LearntNumbers {
  byDigits: Map<string, string>;
  wabaByNumber: Map<string, string>;
  failure?: unknown;
}

/**
 * The business number of a request (`from` of a send or of a media upload) → one of the
 * configured phone number ids (`PHONE_NUMBER_IDS`): given as the id, its ARN, or its display
 * number. Display numbers are matched by their digits against what AWS describes
 * (GetLinkedWhatsAppBusinessAccountPhoneNumber), learned once per container.
 */
export class PhoneNumberResolver {
  private readonly gateway: Pick<WhatsAppGateway, 'getPhoneNumber'>;
  private readonly configured: ReadonlySet<string>;
  /** Display number (digits) → phone number id, and each number's WABA; only a complete answer is kept. */
  private displayNumbers: Promise<LearntNumbers> | undefined;

  constructor(gateway: Pick<WhatsAppGateway, 'getPhoneNumber'>, phoneNumberIds: readonly string[]) {
    this.gateway = gateway;
    this.configured = new Set(phoneNumberIds.map((id) => id.trim()).filter((id) => id !== ''));
  }

  /** The phone number id; throws `unknown_phone_number` (not found), or the AWS error of a failed lookup. */
  async resolve(from: string): Promise<string> {
    const given = from.trim();
    if (given.startsWith('phone-number-id-') || given.startsWith('arn:')) {
      return this.requireConfigured(phoneNumberIdFromArn(given), from);
    }
    const digits = phoneDigits(given);
    const { byDigits, failure } = await this.learnDisplayNumbers();
    const id = digits !== '' ? byDigits.get(digits) : undefined;
    if (id !== undefined) return id;
    // A number AWS could not describe just now may be the one asked for: say so rather than "not found".
    if (failure !== undefined) throw answerOf(failure);
    throw this.unknownNumber(from);
  }

  /** `phoneNumberId` if it is configured, else `unknown_phone_number` naming `asGiven`. */
  requireConfigured(phoneNumberId: string, asGiven: string): string {
    if (!this.configured.has(phoneNumberId)) throw this.unknownNumber(asGiven);
    return phoneNumberId;
  }

  private unknownNumber(asGiven: string): ApiError {
    return new NotFoundError(
      'from is not one of the business numbers of this backend: use the phone number id (phone-number-id-…), its ARN, or its display number.',
      'unknown_phone_number',
      { from: asGiven },
    );
  }

  /**
   * The AWS WABA id of a configured number (GetLinkedWhatsAppBusinessAccountPhoneNumber, learned
   * once per container); throws the AWS error of a failed lookup.
   */
  async wabaOf(phoneNumberId: string): Promise<string | undefined> {
    const { wabaByNumber, failure } = await this.learnDisplayNumbers();
    const waba = wabaByNumber.get(phoneNumberId);
    if (waba === undefined && failure !== undefined) throw answerOf(failure);
    return waba;
  }

  /** The configured numbers of a WABA; throws the AWS error of a failed lookup. */
  async numbersOf(wabaId: string): Promise<string[]> {
    const { wabaByNumber, failure } = await this.learnDisplayNumbers();
    if (failure !== undefined) throw answerOf(failure);
    return [...this.configured].filter((id) => wabaByNumber.get(id) === wabaId);
  }

  /** The WABAs of the configured numbers, in the order of the numbers (the first is the default). */
  async wabas(): Promise<string[]> {
    const { wabaByNumber, failure } = await this.learnDisplayNumbers();
    if (failure !== undefined) throw answerOf(failure);
    return [...new Set([...this.configured].map((id) => wabaByNumber.get(id)).filter((w): w is string => w !== undefined))];
  }

  private learnDisplayNumbers(): Promise<LearntNumbers> {
    const learning = (this.displayNumbers ??= (async () => {
      const ids = [...this.configured];
      const results = await Promise.allSettled(ids.map((id) => this.gateway.getPhoneNumber(id)));
      const byDigits = new Map<string, string>();
      const wabaByNumber = new Map<string, string>();
      let failure: unknown;
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') {
          if (r.value.displayPhoneNumber) byDigits.set(r.value.displayPhoneNumber, ids[i]!);
          if (r.value.wabaId) wabaByNumber.set(ids[i]!, r.value.wabaId);
        } else if (!(r.reason instanceof WhatsAppFailure && r.reason.refusal === 'not_found')) {
          failure = r.reason;
        }
      });
      return failure === undefined ? { byDigits, wabaByNumber } : { byDigits, wabaByNumber, failure };
    })());
    // After a transient failure the next request asks again.
    void learning.then((r) => {
      if (r.failure !== undefined && this.displayNumbers === learning) this.displayNumbers = undefined;
    });
    return learning;
  }
}
