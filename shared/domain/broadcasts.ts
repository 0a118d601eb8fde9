/**
 * Broadcasts: one template to many recipients, each (broadcast, recipient) sent once through the
 * same path as `POST /v1/messages`, paced per business number.
 *
 * Create (`Broadcasts.create`):
 * 1. Resolves `from`, checks the template of every recipient (its own `parameters`, else the
 *    template's `components`) against the catalog: an `unprocessable` error lists the recipients that would be refused.
 * 2. Writes the broadcast (its id from the Idempotency-Key, else random), then each recipient
 *    `queued` if not there yet, then one job per queued recipient. A retry with the same key finds
 *    the broadcast and does steps 2–3 again: writes are conditional and jobs idempotent.
 *
 * A job (`Broadcasts.process`), at most one send per recipient and attempt:
 * 1. The broadcast is stopping or stopped → the recipient `queued → cancelled`.
 * 2. `sending` (an attempt claimed it and may have sent): once the attempt is older than
 *    `SEND_IN_PROGRESS_MS` it is `in_doubt` (never sent again); before that the job comes back later.
 *    Not `queued` otherwise (sent, failed, in doubt, skipped) → nothing.
 * 3. A MARKETING template to a suppressed user → `skipped`.
 * 4. The pair rate: the user got a message from this number less than `pairIntervalMs` ago → the
 *    job comes back when they may get the next one.
 * 4b. The messaging limit (`tier`: the one Meta last reported for the number's WABA, else the
 *    configured one, unlimited by default): a user not reached in the last 24 hours takes a slot of
 *    the business's ring; none free → the job comes back when the oldest frees.
 * 5. Reserves the number's next send slot (`Pacer`, at the number's own rate) and waits for it; a
 *    slot over `SLOT_HORIZON_MS` ahead is not taken, and the job comes back nearer to it.
 * 6. Claims the recipient `queued → sending` with this attempt's message id (conditional: only one
 *    attempt wins), then sends with the Idempotency-Key `broadcast:<id>:<to>` (`…:<attempt>` from the
 *    second attempt on; the send record adds its own guard), the call once it holds one of the
 *    number's send permits (none free in `PERMIT_WAIT_MS` → `queued` again, the job back after a
 *    back-off) → `sent` · `failed` (the refusal's
 *    code) · `in_doubt` (AWS may have it: never sent again) · throttled by AWS → the number is held
 *    back, the recipient `queued` again and its job comes back after the back-off · a busy store →
 *    `queued` again and the job is retried.
 * A crash after the claim leaves the recipient `sending`: never sent again, counted as in doubt
 * once its job comes back, until a status with our id settles it.
 *
 * Statuses (`BroadcastFeedback.onStatus`, from the inbound pipeline: WhatsApp echoes the
 * `broadcast:<id>` callback data and our message id): each status of the recipient's current
 * message is counted once on the broadcast; any status settles a recipient `in_doubt` (or stuck in
 * `sending`) as `sent`; a `failed` 130429 (throughput) holds the number back, a `failed` 131056
 * (pair rate) holds the pair back 4^attempt seconds, and either puts the recipient back to `queued`
 * for one more attempt (up to `maxAttempts`), with its job delayed by the back-off; a `failed`
 * 131050 on a MARKETING template adds the user to the business's suppression list. No other code is
 * ever sent again. A `phone_number_quality_update` webhook's messaging limit is kept for its WABA
 * (`BroadcastFeedback.onAccountEvent`; a later report wins whatever the order of arrival).
 * Each transition counts on the broadcast in the same transaction; when every recipient is done the
 * broadcast is `completed` (or `stopped` after a stop).
 */
import * as z from 'zod';
import type { BroadcastQueue, BroadcastStore, MessagingLimits, Pacer, PacerSlot, PairGate, RecipientListStorage, SendPermit, TierGate } from '../ports/broadcasts.ts';
import { loadRecipientsPage, startRecipientsUpload, uploadedListSize, UPLOAD_ID_PATTERN, type RecipientsLoadJob, type RejectReason } from './broadcast-uploads.ts';
import type { AccountEvent, BusinessNumber, InboundMessage, StatusUpdate } from './types.ts';
import type { MessageQueries } from '../ports/message-queries.ts';
import { TemplateComponent, TemplateObject } from '../whatsapp/outbound/template.ts';
import { parseSendMessageRequest } from '../whatsapp/outbound.ts';
import { ApiError, ConflictError, failureKindOf, NotFoundError, storeBusy, UnavailableError, ValidationError, WhatsAppFailure } from './errors.ts';
import { phoneDigits } from './ids.ts';
import { messageIdForKey, SEND_IN_PROGRESS_MS, type MessageSender, type SendGate } from './send-message.ts';
import { counterName } from './broadcast-counters.ts';
import { BROADCAST_DEFAULTS } from '../resource-spec.ts';
import { createHash, randomBytes } from 'node:crypto';

export type BroadcastState = 'queued' | 'running' | 'stopping' | 'stopped' | 'completed';
export const RECIPIENT_STATES = ['queued', 'sending', 'sent', 'failed', 'in_doubt', 'cancelled', 'skipped'] as const;
export type RecipientState = (typeof RECIPIENT_STATES)[number];
/** States a recipient leaves no more on its own (a retryable failed status may queue a `sent` one again). */
const DONE: ReadonlySet<RecipientState> = new Set(['sent', 'failed', 'in_doubt', 'cancelled', 'skipped']);

/** WhatsApp's pair rate: one message per 6 seconds from a number to a user (facts §6.3). */
export const PAIR_INTERVAL_MS = 6000;
/** Attempts per recipient when its sends fail with a retryable code (130429, 131056). */
export const MAX_ATTEMPTS = 3;
/** Meta codes after which a recipient is sent again (after backing off): throughput and pair rate. */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set(['130429', '131056']);
/** How long a number is held back after AWS throttled a send, or a 130429, at the first attempt (doubling). */
export const NUMBER_BACKOFF_MS = 1000;

/** The send's Idempotency-Key of a recipient's attempt (the first keeps the original form). */
export const sendKeyOf = (broadcastId: string, to: string, attempt = 0) => (attempt === 0 ? `broadcast:${broadcastId}:${to}` : `broadcast:${broadcastId}:${to}:${attempt}`);

/** The broadcast id of a send's callback data (`broadcast:<id>`), or undefined. */
export function broadcastIdOf(callbackData: string | undefined): string | undefined {
  const m = /^broadcast:(bc_[0-9a-f]{32})$/.exec(callbackData ?? '');
  return m?.[1];
}

/**
 * How long a send waits for a permit before it gives up (not sent; its job comes back shortly):
 * well within `SEND_IN_PROGRESS_MS`, after which its send record would count as in doubt.
 */
export const PERMIT_WAIT_MS = 20_000;
/** The code of a send that waited `PERMIT_WAIT_MS` for a permit: nothing was sent, its job goes again shortly. */
const PERMIT_TIMEOUT = 'send_permit_timeout';
/** How often a send asks again for a permit whose send is out (its release may be on its way). */
const PERMIT_POLL_MS = 250;
/** How long after a recipient is done its broadcast's settle job runs. */
export const SETTLE_DELAY_MS = 1000;

/** Inline recipients per broadcast. */
export const MAX_INLINE_RECIPIENTS = 10_000;

type TemplateInput = z.output<typeof TemplateObject>;

export interface Broadcast {
  id: string;
  state: BroadcastState;
  phoneNumberId: string;
  template: TemplateInput;
  total: number;
  createdAt: string;
  /** Recipients per state, kept by the transitions. */
  counts: Record<RecipientState, number>;
  /** Recipients from an uploaded list: `total` grows as its pages load; complete only once loaded. */
  upload?: {
    id: string;
    size: number;
    loading: boolean;
    /** Rows read so far, refused ones included. */
    rows: number;
    rejected: number;
    rejectedBy: Partial<Record<RejectReason, number>>;
    /** A few refused rows (1-based line numbers). */
    samples: { line: number; reason: RejectReason }[];
  };
  /** The template's category when the catalog knew it (MARKETING sends skip suppressed users). */
  category?: string;
  /** Messages of the recipients per WhatsApp status (each status of a message counted once). */
  statuses?: Record<string, number>;
  /** Failed sends by our error code, failed statuses by Meta's code. */
  failures?: Record<string, number>;
}

/** A broadcast without its counts: what to send, and its state. */
export type BroadcastDefinition = Omit<Broadcast, 'counts' | 'statuses' | 'failures'>;

export interface Recipient {
  to: string;
  /** Its position in the request: spreads the recipients over the pacer's shards. */
  seq: number;
  state: RecipientState;
  /** The components of its template (default the broadcast's). */
  parameters?: unknown[];
  messageId?: string;
  error?: { code: string; message: string };
  /** When the send was claimed (epoch ms). */
  attemptAtMs?: number;
  /** Which attempt (0 first); more only after a retryable failed status. */
  attempt?: number;
}

export interface BroadcastJob {
  broadcastId: string;
  to: string;
  seq: number;
}

/** A job that completes the broadcast once every recipient is done (`settleIfDone`). */
export interface SettleJob {
  broadcastId: string;
  settle: true;
}

export const BroadcastRecipientSchema = z.strictObject({
  to: z.string().regex(/^\+?[0-9][0-9 ()-]{4,30}$/, { error: 'to must be a phone number' }),
  parameters: z.array(TemplateComponent).optional().describe("The template's components for this recipient (as template.components of a send)"),
});

export const CreateBroadcastSchema = z
  .strictObject({
    from: z.string().min(1, { error: 'from must be the business number (phone number id, ARN or display number)' }),
    template: TemplateObject,
    recipients: z
      .array(BroadcastRecipientSchema)
      .min(1, { error: 'recipients must list at least one recipient' })
      .max(MAX_INLINE_RECIPIENTS, { error: `at most ${MAX_INLINE_RECIPIENTS} recipients per broadcast: upload a larger list (POST /v1/broadcasts/uploads, then recipientsUpload)` })
      .optional(),
    recipientsUpload: z
      .string()
      .regex(UPLOAD_ID_PATTERN, { error: 'recipientsUpload must be the uploadId of POST /v1/broadcasts/uploads (rcl_ and 32 hex digits)' })
      .optional()
      .describe('An uploaded recipient list (up to 1,000,000 rows), instead of recipients: the uploadId of POST /v1/broadcasts/uploads'),
  })
  .refine((b) => (b.recipients === undefined) !== (b.recipientsUpload === undefined), {
    error: 'give either recipients (up to 10,000) or recipientsUpload (an uploaded list), not both',
    path: ['recipients'],
  })
  .meta({ id: 'CreateBroadcast' });
export type CreateBroadcast = z.output<typeof CreateBroadcastSchema>;

/** The broadcast as the API answers it. */
export interface BroadcastView {
  id: string;
  state: BroadcastState;
  phoneNumberId: string;
  template: { name: string; language: string };
  total: number;
  createdAt: string;
  /** Recipients per send state (`inDoubt`: the send may have gone out; never sent again). */
  counts: { queued: number; sending: number; sent: number; failed: number; inDoubt: number; cancelled: number; skipped: number };
  /** Messages per WhatsApp status they reached (sent, delivered, read, failed), each counted once. */
  statuses?: Record<string, number>;
  /**
   * The messaging limit its number's sends keep to now (`GET` only): unique users in 24 hours as
   * Meta last reported it for the WABA (`meta`), else as configured (`config`).
   */
  messagingLimit?: { users: number | 'unlimited'; source: 'meta' | 'config' };
  /** Failed sends and failed statuses by code (our error code, or Meta's code for a failed status). */
  failures?: Record<string, number>;
  /** An uploaded list: whether it is still loading, its rows, and those refused by reason. */
  recipientsUpload?: { uploadId: string; loading: boolean; rows: number; rejected: number; rejectedBy: Partial<Record<RejectReason, number>>; rejectedSamples: { line: number; reason: RejectReason }[] };
}

const zeroCounts = (): Record<RecipientState, number> => Object.fromEntries(RECIPIENT_STATES.map((s) => [s, 0])) as Record<RecipientState, number>;

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** A shape of components that decides the template check: types, sub-types, indexes, counts, names. */
function shapeOf(components: unknown[] | undefined): string {
  return JSON.stringify(
    (components ?? []).map((c) => {
      const x = (c ?? {}) as { type?: unknown; sub_type?: unknown; index?: unknown; parameters?: { parameter_name?: unknown }[] };
      return [x.type, x.sub_type, x.index, (x.parameters ?? []).map((p) => p?.parameter_name ?? '')];
    }),
  );
}

/** What broadcasts and their status feedback share: the table, the queue, the pacing. */
export interface BroadcastPacingDeps {
  store: BroadcastStore;
  queue: BroadcastQueue;
  pacer: Pacer;
  pairs: PairGate;
  /** Messages per second per business number (Meta's default throughput is 80). */
  messagesPerSecond: (phoneNumberId: string) => number;
  /** Whether the user opted out of marketing from this number's business; without it nobody is. */
  suppressions?: SuppressionCheck;
  now: () => number;
  /** Default `PAIR_INTERVAL_MS`. */
  pairIntervalMs?: number;
  /**
   * The business's messaging limit (unique users in 24 hours): the one Meta last reported for the
   * number's WABA (kept in `limits`), else `limit` (configured; Infinity: unlimited); `gate` counts
   * the users. Without it, unlimited.
   */
  tier?: { limit: number; gate: TierGate; limits?: MessagingLimits };
  /** Default `MAX_ATTEMPTS`. */
  maxAttempts?: number;
  /** What a user answers to stop marketing messages (compared trimmed, case-insensitive). Default `STOP_KEYWORDS`. */
  stopKeywords?: readonly string[];
}

/** The default stop keywords. */
export const STOP_KEYWORDS: readonly string[] = BROADCAST_DEFAULTS.stopKeywords;

/** Meta's messaging-limit tiers by the names its webhooks use (`TIER_1K`: the per-number tier of before). */
const LIMIT_TIERS: Readonly<Record<string, number>> = {
  TIER_50: 50,
  TIER_250: 250,
  TIER_1K: 1000,
  TIER_2K: 2000,
  TIER_10K: 10_000,
  TIER_100K: 100_000,
  TIER_UNLIMITED: Number.POSITIVE_INFINITY,
};

/**
 * The messaging limit a `phone_number_quality_update` webhook reports (facts §6.4):
 * `max_daily_conversations_per_business` (the business portfolio's), else the older
 * `current_limit`. Undefined for another field, `TIER_NOT_SET` or a value not known.
 */
export function messagingLimitOf(e: { field: string; value: unknown }): number | undefined {
  if (e.field !== 'phone_number_quality_update' || typeof e.value !== 'object' || e.value === null) return undefined;
  const v = e.value as Record<string, unknown>;
  for (const name of ['max_daily_conversations_per_business', 'current_limit']) {
    const tier = v[name];
    if (typeof tier === 'string' && Object.hasOwn(LIMIT_TIERS, tier)) return LIMIT_TIERS[tier];
  }
  return undefined;
}

/** How long a container keeps the messaging limit it read for a number. */
export const LIMIT_READ_KEPT_MS = 10_000;

/** The suppression list as broadcasts need it (see `suppressions.ts`). */
export interface SuppressionCheck {
  /** Whether the user is on the list of the business of `phoneNumberId`. */
  isSuppressed(phoneNumberId: string, to: string): Promise<boolean>;
  /** Adds the user to the list of the business of this number (a stop keyword, 131050 on a marketing send). */
  suppress(business: Pick<BusinessNumber, 'phoneNumberId' | 'awsWabaId'>, to: string, reason: 'stop_keyword' | 'meta_131050' | 'api'): Promise<void>;
}

export interface BroadcastDeps extends BroadcastPacingDeps {
  sender: MessageSender;
  queries: Pick<MessageQueries, 'getMessage'>;
  sleep: (ms: number) => Promise<unknown>;
  /** Uploaded recipient lists (the media bucket); needed only by broadcasts from a list. */
  lists?: () => RecipientListStorage;
  /** Bytes read per page of an uploaded list. @default LIST_PAGE_BYTES */
  listPageBytes?: number;
  /** Recipients of an uploaded list at most. @default MAX_UPLOADED_RECIPIENTS */
  listMaxRecipients?: number;
}

export class Broadcasts {
  private readonly deps: BroadcastDeps;

  constructor(deps: BroadcastDeps) {
    this.deps = deps;
  }

  async create(input: CreateBroadcast, opts: { idempotencyKey?: string } = {}): Promise<BroadcastView> {
    const { store, sender } = this.deps;
    const phoneNumberId = await sender.resolvePhoneNumber(input.from);
    if (input.recipientsUpload !== undefined) return this.createFromUpload(phoneNumberId, input, input.recipientsUpload, opts);
    const seen = new Set<string>();
    const recipients: Recipient[] = (input.recipients ?? []).map((r, seq) => {
      const to = phoneDigits(r.to);
      if (seen.has(to)) throw new ValidationError(`recipients lists ${to} twice: each recipient gets one message`, { path: `recipients.${seq}.to` });
      seen.add(to);
      return { to, seq, state: 'queued', ...(r.parameters && { parameters: r.parameters }) };
    });
    await this.checkTemplates(phoneNumberId, input.template, recipients);
    const category = await sender.templateCategory(phoneNumberId, input.template);

    const id = await this.write(phoneNumberId, input.template, opts.idempotencyKey, { total: recipients.length, counts: { ...zeroCounts(), queued: recipients.length }, ...(category !== undefined && { category }) }, (b) => b.total === recipients.length);
    await store.addRecipients(id, recipients);
    await this.deps.queue.enqueue(recipients.map((r) => ({ broadcastId: id, to: r.to, seq: r.seq })));
    return this.view((await store.get(id))!);
  }

  /**
   * Writes a new broadcast (its id from the Idempotency-Key, else random) and answers its id; a
   * retry with the same key finds it, and must ask for the same broadcast (`same`).
   */
  private async write(
    phoneNumberId: string,
    template: TemplateInput,
    idempotencyKey: string | undefined,
    fields: Pick<Broadcast, 'total' | 'counts' | 'upload' | 'category'>,
    same: (existing: Broadcast) => boolean,
  ): Promise<string> {
    const id = idempotencyKey !== undefined ? `bc_${sha(`${phoneNumberId}\n${idempotencyKey}`).slice(0, 32)}` : `bc_${randomBytes(16).toString('hex')}`;
    const broadcast: Broadcast = { id, state: 'queued', phoneNumberId, template, createdAt: new Date(this.deps.now()).toISOString(), ...fields };
    if (!(await this.deps.store.create(broadcast))) {
      const existing = (await this.deps.store.get(id))!;
      if (!same(existing) || existing.template.name !== template.name) {
        throw new ApiError('unprocessable', 'idempotency_key_reused', 'This Idempotency-Key was already used for another broadcast: use a new key.');
      }
    }
    return id;
  }

  /**
   * A broadcast to an uploaded list (shared/domain/broadcast-uploads.ts): the template and the
   * file are checked, the broadcast is written `loading`, and its first page's load job queued
   * (again on a retry with the same key: loading a page twice adds and counts nothing twice).
   */
  private async createFromUpload(phoneNumberId: string, input: CreateBroadcast, uploadId: string, opts: { idempotencyKey?: string }): Promise<BroadcastView> {
    const { store, sender } = this.deps;
    const lists = this.lists();
    try {
      await sender.checkTemplate(phoneNumberId, input.template);
    } catch (err) {
      // Rows may bring their own parameters: a mismatch of the default components refuses only the rows without.
      if (!(err instanceof ApiError) || err.code !== 'template_parameter_mismatch') throw err;
    }
    const size = await uploadedListSize(uploadId, lists);
    const upload = { id: uploadId, size, loading: true, rows: 0, rejected: 0, rejectedBy: {}, samples: [] };
    const category = await sender.templateCategory(phoneNumberId, input.template);
    const id = await this.write(phoneNumberId, input.template, opts.idempotencyKey, { total: 0, counts: zeroCounts(), upload, ...(category !== undefined && { category }) }, (b) => b.upload?.id === uploadId);
    await this.deps.queue.enqueue([{ broadcastId: id, load: { offset: 0, line: 0 } }]);
    return this.view((await store.get(id))!);
  }

  /** Starts the upload of a recipient list of `size` bytes (a presigned PUT). */
  startUpload(size: number) {
    return startRecipientsUpload(size, { lists: this.lists(), now: this.deps.now });
  }

  private lists(): RecipientListStorage {
    if (!this.deps.lists) throw new ApiError('internal', 'recipient_lists_unavailable', 'Uploaded recipient lists are not configured here.');
    return this.deps.lists();
  }

  /** Loads one page of an uploaded list: its rows become recipients with their send jobs. */
  async loadPage(job: RecipientsLoadJob): Promise<void> {
    await loadRecipientsPage(job, {
      store: this.deps.store,
      queue: this.deps.queue,
      lists: this.lists(),
      componentsValid: (p) => TemplateComponent.array().safeParse(p).success,
      rowTemplateOk: async (b, components) => {
        try {
          await this.deps.sender.checkTemplate(b.phoneNumberId, { ...b.template, components: components as TemplateInput['components'] });
          return true;
        } catch (err) {
          if (err instanceof ApiError && err.code === 'template_parameter_mismatch') return false;
          throw err;
        }
      },
      settle: (id) => this.settleIfDone(id),
      ...(this.deps.listPageBytes !== undefined && { pageBytes: this.deps.listPageBytes }),
      ...(this.deps.listMaxRecipients !== undefined && { maxRecipients: this.deps.listMaxRecipients }),
    });
  }

  /** Every recipient's template must pass the catalog's check: an `unprocessable` error names those that would not. */
  private async checkTemplates(phoneNumberId: string, template: TemplateInput, recipients: Recipient[]): Promise<void> {
    const verdicts = new Map<string, ApiError | undefined>();
    const refused: { to: string; code: string; message: string }[] = [];
    for (const r of recipients) {
      const components = r.parameters ?? template.components;
      const shape = shapeOf(components);
      if (!verdicts.has(shape)) {
        try {
          await this.deps.sender.checkTemplate(phoneNumberId, { ...template, ...(components && { components: components as TemplateInput['components'] }) });
          verdicts.set(shape, undefined);
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          // The template itself is refused (not found, not approved): the same for everyone.
          if (err.code !== 'template_parameter_mismatch') throw err;
          verdicts.set(shape, err);
        }
      }
      const verdict = verdicts.get(shape);
      if (verdict) refused.push({ to: r.to, code: verdict.code, message: verdict.message });
    }
    if (refused.length) {
      throw new ApiError('unprocessable', 'broadcast_recipients_invalid', `${refused.length} recipient(s) would be refused: ${refused[0]!.message}`, {
        refused: refused.slice(0, 20),
        refusedCount: refused.length,
      });
    }
  }

  /** Handles a job of the broadcast queue: a page of a list to load, a broadcast to settle, a recipient to send. */
  async handle(job: BroadcastJob | RecipientsLoadJob | SettleJob): Promise<void> {
    if ('load' in job) return this.loadPage(job);
    if ('settle' in job) return this.settleIfDone(job.broadcastId);
    return this.process(job);
  }

  /** Sends one recipient (see the steps at the top of this file). Throws when the job must be retried. */
  async process(job: BroadcastJob): Promise<void> {
    const { store, now } = this.deps;
    const b = await this.definition(job.broadcastId);
    if (!b) return;
    const at = { seq: job.seq };
    if (b.state === 'stopping' || b.state === 'stopped') {
      if (await store.transition(b.id, job.to, 'queued', 'cancelled', {}, at)) await this.settleSoon(b.id);
      return;
    }
    const r = await store.getRecipient(b.id, job.to);
    if (!r) return;
    if (r.state === 'sending') return this.settleStuck(b, r, job);
    if (r.state !== 'queued') return;
    const attempt = r.attempt ?? 0;
    const key = sendKeyOf(b.id, r.to, attempt);
    const messageId = messageIdForKey(b.phoneNumberId, key);

    if (b.category === 'MARKETING' && this.deps.suppressions && (await this.deps.suppressions.isSuppressed(b.phoneNumberId, r.to))) {
      if (await store.transition(b.id, r.to, 'queued', 'skipped', {}, at)) await this.settleSoon(b.id);
      return;
    }
    const pairAt = await this.deps.pairs.reservePair(b.phoneNumberId, r.to, now(), this.deps.pairIntervalMs ?? PAIR_INTERVAL_MS);
    if (pairAt > now()) {
      await this.deps.queue.enqueue([job], { delayMs: pairAt - now() });
      return;
    }
    const mps = this.deps.messagesPerSecond(b.phoneNumberId);
    const tier = this.deps.tier;
    const limit = tier ? await this.messagingLimit(b.phoneNumberId) : Number.POSITIVE_INFINITY;
    if (tier && Number.isFinite(limit)) {
      const admitAt = await tier.gate.admitUser(r.to, limit, mps, now());
      if (admitAt > now()) {
        // The business reached its limit: the job comes back when the oldest user's 24 hours end.
        await this.deps.queue.enqueue([job], { delayMs: admitAt - now() });
        return;
      }
    }
    // The slot spaces the number's sends; its permit, taken right before the call, caps them.
    const slot = await this.deps.pacer.reserve(b.phoneNumberId, mps, String(job.seq), now());
    if ('laterMs' in slot) {
      // The number's next slot is too far ahead to wait for here: the job comes back nearer to it.
      await this.deps.queue.enqueue([job], { delayMs: Math.max(0, slot.laterMs - now()) });
      return;
    }
    // Claimed at the slot's time, not before: a stop meanwhile holds it back, and its attempt's
    // clock (`SEND_IN_PROGRESS_MS`) runs only from then.
    await this.sleepUntil(slot.atMs);
    // Claimed only while the broadcast is not stopping: a stop holds back every recipient not claimed yet.
    // Of the attempt read before the wait: a copy of this job may have sent it meanwhile, and a
    // status queued it again for the next attempt, whose own job sends it.
    if (!(await store.transition(b.id, job.to, 'queued', 'sending', { attemptAtMs: now(), messageId }, { ...at, attempt, whileSending: true }))) {
      const current = await store.definition(b.id);
      if (current && (current.state === 'stopping' || current.state === 'stopped')) {
        this.definitions.set(b.id, current);
        if (await store.transition(b.id, job.to, 'queued', 'cancelled', {}, at)) await this.settleSoon(b.id);
      }
      return;
    }
    if (b.state === 'queued') {
      // Once per container: the others that follow see it running.
      this.definitions.set(b.id, { ...b, state: 'running' });
      await store.setState(b.id, ['queued'], 'running');
    }

    const components = r.parameters ?? b.template.components;
    const req = {
      from: b.phoneNumberId,
      to: r.to,
      type: 'template' as const,
      template: { ...b.template, ...(components && { components }) },
      biz_opaque_callback_data: `broadcast:${b.id}`,
    };
    const parsed = parseSendMessageRequest(req);
    let next: { state: RecipientState; fields: Partial<Recipient>; counters?: Record<string, number> };
    try {
      if (!parsed.ok) throw new ValidationError(parsed.error.message, { path: parsed.error.path });
      const out = await this.deps.sender.send(parsed.value, { idempotencyKey: key, gate: this.permitGate(slot) });
      next = { state: 'sent', fields: { messageId: out.body.id } };
    } catch (err) {
      const e = err instanceof ApiError ? err : undefined;
      if (e?.kind === 'throttled' || e?.code === PERMIT_TIMEOUT) {
        // Nothing was sent: AWS throttled (the number backs off), or no permit came free in time.
        // The job comes back after the back-off, not after the queue's visibility timeout.
        if (e.kind === 'throttled') await this.deps.pacer.hold(b.phoneNumberId, mps, now() + NUMBER_BACKOFF_MS);
        await store.transition(b.id, r.to, 'sending', 'queued', {}, { messageId, ...at });
        await this.deps.queue.enqueue([job], { delayMs: NUMBER_BACKOFF_MS });
        return;
      }
      // Nothing was accepted (the store failed before the call), or the attempt is still running:
      // the job comes back later, and the send record's key keeps it from going twice.
      if (!e || e.code === 'store_unavailable' || e.code === 'send_in_progress') {
        await store.transition(b.id, r.to, 'sending', 'queued', {}, { messageId, ...at });
        throw err;
      }
      if (e.code === 'send_in_doubt' || e.kind === 'internal' || e.kind === 'no_answer' || e.kind === 'unavailable') {
        next = { state: 'in_doubt', fields: {} };
      } else {
        next = { state: 'failed', fields: { error: { code: e.code, message: e.message } }, counters: { [counterName('fc', e.code)]: 1 } };
      }
    }
    const moved = await store.transition(b.id, r.to, 'sending', next.state, next.fields, { messageId, ...at, ...(next.counters && { counters: next.counters }) });
    // Declared in doubt meanwhile (this attempt outlived SEND_IN_PROGRESS_MS): AWS's answer settles it.
    if (!moved && next.state === 'sent') await store.transition(b.id, r.to, 'in_doubt', 'sent', next.fields, { messageId, ...at });
    await this.settleSoon(b.id);
  }

  /** The number's messaging limit: reported for its WABA, else configured; read once per `LIMIT_READ_KEPT_MS`. */
  private async messagingLimit(phoneNumberId: string): Promise<number> {
    const at = this.deps.now();
    const kept = this.limits.get(phoneNumberId);
    if (kept && kept.until > at) return kept.limit;
    const { limit } = await this.readMessagingLimit(phoneNumberId);
    this.limits.set(phoneNumberId, { until: at + LIMIT_READ_KEPT_MS, limit });
    return limit;
  }

  private async readMessagingLimit(phoneNumberId: string): Promise<{ limit: number; source: 'meta' | 'config' }> {
    const { limit, limits } = this.deps.tier!;
    const wabaId = limits ? await this.deps.sender.wabaOf(phoneNumberId) : undefined;
    const reported = limits && wabaId !== undefined ? await limits.reportedLimit(wabaId) : undefined;
    return reported === undefined ? { limit, source: 'config' } : { limit: reported, source: 'meta' };
  }

  /**
   * Sleeps until the clock reads `atMs`. A timer may fire a few milliseconds early by the clock
   * (Node times it from the event loop's cached time, which a busy loop leaves behind), and a
   * permit's send must not go before its time: it sleeps again until then.
   */
  private async sleepUntil(atMs: number): Promise<void> {
    for (let left = atMs - this.deps.now(); left > 0; left = atMs - this.deps.now()) await this.deps.sleep(left);
  }

  /**
   * The gate of a send's call to AWS, called at the slot's time (a permit taken earlier would stand
   * idle while others wait): takes a free send permit of its shard
   * (ahead of time when the first comes free later), waits for the permit's time, calls, and frees
   * the permit a second after the answer. A call that got no answer (it may still arrive) keeps its
   * permit until the lease ends. A pacer that cannot be read fails the send as not sent.
   */
  private permitGate(first: PacerSlot): SendGate {
    const { pacer, now, sleep } = this.deps;
    return async (call) => {
      let permit: SendPermit | undefined;
      let waited = false;
      try {
        let slot = first;
        const giveUpAt = now() + PERMIT_WAIT_MS;
        while (!permit) {
          const got = await pacer.acquire(slot, now());
          if ('permit' in got) permit = got.permit;
          else if (now() > giveUpAt) {
            waited = true;
            throw new Error('no send permit came free');
          } else {
            slot = { ...slot, atMs: got.notBeforeMs };
            // A permit whose send is out is asked for again no sooner than a poll after this answer.
            const wait = got.busy ? Math.max(got.askAtMs - now(), PERMIT_POLL_MS) : got.askAtMs - now();
            if (wait > 0) await sleep(wait);
          }
        }
        // Taken ahead of time: the send goes at the permit's time, not before.
        await this.sleepUntil(permit.fromMs);
      } catch (err) {
        const answer = waited ? new UnavailableError('No send permit of the number came free in time: the send goes again shortly.', PERMIT_TIMEOUT) : storeBusy();
        throw new WhatsAppFailure('the pacer gave no send permit', { name: 'PacerBusy', kind: 'not_sent', answer, cause: err });
      }
      let answered = true;
      try {
        return await call();
      } catch (err) {
        answered = failureKindOf(err) !== 'unknown';
        throw err;
      } finally {
        if (answered) await pacer.release(permit, now()).catch(() => undefined);
      }
    };
  }

  /** Broadcast definitions this container read: what to send does not change; the state is read again when it matters. */
  private readonly definitions = new Map<string, BroadcastDefinition>();
  /** Messaging limits by number, each read once per `LIMIT_READ_KEPT_MS`. */
  private readonly limits = new Map<string, { until: number; limit: number }>();

  private async definition(id: string): Promise<BroadcastDefinition | undefined> {
    const known = this.definitions.get(id);
    if (known) return known;
    const b = await this.deps.store.definition(id);
    if (b) {
      if (this.definitions.size >= 1000) this.definitions.delete(this.definitions.keys().next().value!);
      this.definitions.set(id, b);
    }
    return b;
  }

  /** Broadcasts this container has a settle job queued for, until when it runs. */
  private readonly settling = new Map<string, number>();

  /**
   * A recipient of the broadcast is done: a settle job (`settleIfDone`) comes in a second, unless
   * one queued by this container runs after now already, so that the counters are read about once
   * a second per container, not once per recipient; the last recipient is always followed by one.
   */
  private async settleSoon(id: string): Promise<void> {
    const nowMs = this.deps.now();
    if ((this.settling.get(id) ?? 0) > nowMs) return;
    // Entries whose settle job ran already are forgotten: a long-lived container keeps no list of old broadcasts.
    for (const [other, until] of this.settling) if (until <= nowMs) this.settling.delete(other);
    this.settling.set(id, nowMs + SETTLE_DELAY_MS);
    try {
      await this.deps.queue.enqueue([{ broadcastId: id, settle: true }], { delayMs: SETTLE_DELAY_MS });
    } catch (err) {
      this.settling.delete(id);
      throw err;
    }
  }

  /**
   * A recipient found `sending`: an attempt claimed it and may have sent. Old enough, it is in
   * doubt for good (counted so, never sent again); else the job comes back once it would be.
   */
  private async settleStuck(b: BroadcastDefinition, r: Recipient, job: BroadcastJob): Promise<void> {
    const since = this.deps.now() - (r.attemptAtMs ?? 0);
    if (since <= SEND_IN_PROGRESS_MS) {
      await this.deps.queue.enqueue([job], { delayMs: SEND_IN_PROGRESS_MS - since + 1000 });
      return;
    }
    if (await this.deps.store.transition(b.id, r.to, 'sending', 'in_doubt', {}, { ...(r.messageId !== undefined && { messageId: r.messageId }), seq: r.seq })) await this.settleSoon(b.id);
  }

  /** Completed (or stopped) once every recipient is done. */
  async settleIfDone(id: string): Promise<void> {
    const b = await this.deps.store.get(id);
    // An uploaded list still loading has more recipients to come.
    if (!b || b.upload?.loading) return;
    const done = [...DONE].reduce((n, s) => n + (b.counts[s] ?? 0), 0);
    if (done < b.total) return;
    if (b.state === 'stopping') await this.deps.store.setState(id, ['stopping'], 'stopped');
    else await this.deps.store.setState(id, ['queued', 'running'], 'completed');
  }

  /** Stops what has not been sent: queued recipients are cancelled as their jobs come. */
  async stop(id: string): Promise<BroadcastView> {
    const b = await this.deps.store.get(id);
    if (!b) throw notFound(id);
    if (b.state === 'completed' || b.state === 'stopped') throw new ConflictError(`Broadcast ${id} is ${b.state}: there is nothing left to stop.`, 'broadcast_finished', { state: b.state });
    await this.deps.store.setState(id, ['queued', 'running'], 'stopping');
    await this.settleIfDone(id);
    return this.view((await this.deps.store.get(id))!);
  }

  /** The broadcast with its counts, statuses and failures: counters only, whatever its size. */
  async get(id: string): Promise<BroadcastView> {
    const b = await this.deps.store.get(id);
    if (!b) throw notFound(id);
    const limit = this.deps.tier && (await this.readMessagingLimit(b.phoneNumberId));
    return {
      ...this.view(b),
      statuses: b.statuses ?? {},
      failures: b.failures ?? {},
      ...(limit && { messagingLimit: { users: Number.isFinite(limit.limit) ? limit.limit : ('unlimited' as const), source: limit.source } }),
    };
  }

  view(b: Broadcast): BroadcastView {
    const sending = b.counts.sending ?? 0;
    return {
      id: b.id,
      state: b.state,
      phoneNumberId: b.phoneNumberId,
      template: { name: b.template.name, language: b.template.language.code },
      total: b.total,
      createdAt: b.createdAt,
      counts: {
        queued: b.counts.queued ?? 0,
        sending,
        sent: b.counts.sent ?? 0,
        failed: b.counts.failed ?? 0,
        inDoubt: b.counts.in_doubt ?? 0,
        cancelled: b.counts.cancelled ?? 0,
        skipped: b.counts.skipped ?? 0,
      },
      ...(b.upload && {
        recipientsUpload: {
          uploadId: b.upload.id,
          loading: b.upload.loading,
          rows: b.upload.rows,
          rejected: b.upload.rejected,
          rejectedBy: b.upload.rejectedBy,
          rejectedSamples: b.upload.samples.slice(0, 20),
        },
      }),
    };
  }

  async recipients(id: string, opts: { state?: RecipientState; limit: number; cursor?: string }) {
    const b = await this.deps.store.get(id);
    if (!b) throw notFound(id);
    const page = await this.deps.store.listRecipients(id, opts);
    const nowMs = this.deps.now();
    return {
      items: page.items.map((r) => ({
        to: r.to,
        state: r.state === 'sending' && r.attemptAtMs !== undefined && nowMs - r.attemptAtMs > SEND_IN_PROGRESS_MS ? 'in_doubt' : r.state,
        messageId: r.state === 'queued' || r.state === 'cancelled' || r.state === 'skipped' || (r.state === 'failed' && r.messageId === undefined) ? null : (r.messageId ?? messageIdForKey(b.phoneNumberId, sendKeyOf(b.id, r.to, r.attempt))),
        ...(r.error && { error: r.error }),
      })),
      nextCursor: page.nextCursor,
    };
  }
}

const notFound = (id: string) => new NotFoundError(`No broadcast has the id ${id.length > 80 ? `${id.slice(0, 80)}…` : id}.`, 'broadcast_not_found');

/**
 * What the statuses of broadcast messages do (see the top of this file): counted once, settle
 * sends in doubt, back off and send again after 130429 / 131056, suppress after 131050 on
 * MARKETING. Every step is a conditional or guarded write: a redelivered or late status changes
 * nothing twice.
 */
export class BroadcastFeedback {
  private readonly deps: BroadcastPacingDeps;

  constructor(deps: BroadcastPacingDeps) {
    this.deps = deps;
  }

  async onStatus(s: Pick<StatusUpdate, 'status' | 'messageId' | 'callbackData' | 'recipientId' | 'errors'> & { business?: Pick<BusinessNumber, 'awsWabaId'> }): Promise<void> {
    const broadcastId = broadcastIdOf(s.callbackData);
    if (!broadcastId || !s.messageId || !s.recipientId) return;
    const { store } = this.deps;
    const to = phoneDigits(s.recipientId);
    const r = await store.getRecipient(broadcastId, to);
    // A status of an earlier attempt (or of a message this recipient never had) counts nothing.
    if (!r || r.messageId !== s.messageId) return;
    const code = s.status === 'failed' ? String(s.errors?.[0]?.code ?? 'unknown') : undefined;
    await store.countStatus(broadcastId, to, r.seq, s.messageId, s.status, code);
    let state = r.state;
    if (state === 'in_doubt' || state === 'sending') {
      // WhatsApp reported on our message: AWS had it.
      if (await store.transition(broadcastId, to, state, 'sent', {}, { messageId: s.messageId, seq: r.seq })) state = 'sent';
    }
    if (code === undefined) return;
    const b = await store.get(broadcastId);
    if (!b) return;
    if (code === '131050' && b.category === 'MARKETING') {
      await this.deps.suppressions?.suppress({ phoneNumberId: b.phoneNumberId, ...(s.business?.awsWabaId && { awsWabaId: s.business.awsWabaId }) }, to, 'meta_131050');
    }
    if (RETRYABLE_CODES.has(code)) await this.retry(b, { ...r, state }, code, s.messageId);
  }

  /** A messaging limit Meta reported (`phone_number_quality_update`) is kept for the event's WABA. */
  async onAccountEvent(e: Pick<AccountEvent, 'field' | 'value' | 'awsWabaId' | 'receivedAtMs'>): Promise<void> {
    const limit = messagingLimitOf(e);
    const limits = this.deps.tier?.limits;
    if (limit === undefined || !limits || e.awsWabaId === undefined) return;
    await limits.reportLimit(e.awsWabaId, limit, e.receivedAtMs);
  }

  /** A user who answered a stop keyword (a text, or a quick reply's text) to a number is suppressed for its business. */
  async onInbound(m: Pick<InboundMessage, 'type' | 'content' | 'contactId' | 'business'>): Promise<void> {
    if (!this.deps.suppressions) return;
    const c = (m.content ?? {}) as { body?: unknown; text?: unknown };
    const text = m.type === 'text' ? c.body : m.type === 'button' ? c.text : undefined;
    if (typeof text !== 'string') return;
    const words = (this.deps.stopKeywords ?? STOP_KEYWORDS).map((k) => k.trim().toUpperCase());
    if (words.includes(text.trim().toUpperCase())) await this.deps.suppressions.suppress(m.business, m.contactId, 'stop_keyword');
  }

  /** Backs off and queues the recipient for one more attempt; a redelivered status only re-sends its job. */
  private async retry(b: Broadcast, r: Recipient, code: string, messageId: string): Promise<void> {
    const { store, now } = this.deps;
    // The attempt this message was: the recipient's, or the one before if this status queued it already.
    const attempt = [r.attempt ?? 0, (r.attempt ?? 0) - 1].find((a) => a >= 0 && messageIdForKey(b.phoneNumberId, sendKeyOf(b.id, r.to, a)) === messageId);
    if (attempt === undefined) return;
    if (attempt + 1 >= (this.deps.maxAttempts ?? MAX_ATTEMPTS) || b.state === 'stopping' || b.state === 'stopped') return;
    const backoffMs = code === '130429' ? NUMBER_BACKOFF_MS * 2 ** attempt : 1000 * 4 ** (attempt + 1);
    const until = now() + backoffMs;
    if (code === '130429') await this.deps.pacer.hold(b.phoneNumberId, this.deps.messagesPerSecond(b.phoneNumberId), until);
    else await this.deps.pairs.holdPair(b.phoneNumberId, r.to, until);
    const moved = await store.transition(b.id, r.to, 'sent', 'queued', { attempt: attempt + 1 }, {
      messageId,
      seq: r.seq,
      counters: { [counterName('st', 'failed')]: -1, [counterName('fc', code)]: -1 },
    });
    if (!moved) {
      // Queued by an earlier delivery of this status that stopped before its job was sent?
      const now_ = await store.getRecipient(b.id, r.to);
      if (!(now_?.state === 'queued' && now_.attempt === attempt + 1 && now_.messageId === messageId)) return;
    }
    await store.setState(b.id, ['completed'], 'running');
    await this.deps.queue.enqueue([{ broadcastId: b.id, to: r.to, seq: r.seq }], { delayMs: backoffMs });
  }
}
