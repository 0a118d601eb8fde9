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
 * A job (`Broadcasts.process`), at most one send per recipient:
 * 1. The broadcast is stopping or stopped → the recipient `queued → cancelled`.
 * 2. Not `queued` any more (sent, failed, or claimed by an attempt that may have sent) → nothing.
 * 3. Reserves the number's next send slot (`Pacer`) and waits for it.
 * 4. Claims the recipient `queued → sending` (conditional: only one attempt wins), then sends with
 *    the Idempotency-Key `broadcast:<id>:<to>` (the send record adds its own guard) →
 *    `sent` (message id) · `failed` (the refusal's code) · `in_doubt` (AWS may have it: never sent
 *    again) · throttled or a busy store → back to `queued` and the job is retried.
 * A crash after the claim leaves the recipient `sending`: never sent again, counted as in doubt
 * until a status with our id (the message id is derived from the key) settles it.
 * Each transition counts on the broadcast in the same transaction; when every recipient is done the
 * broadcast is `completed` (or `stopped` after a stop).
 */
import { z } from 'zod';
import type { BroadcastQueue, BroadcastStore, Pacer, RecipientListStorage } from '../ports/broadcasts.ts';
import { loadRecipientsPage, startRecipientsUpload, uploadedListSize, UPLOAD_ID_PATTERN, type RecipientsLoadJob, type RejectReason } from './broadcast-uploads.ts';
import type { MessageQueries } from '../ports/message-queries.ts';
import { TemplateComponent, TemplateObject } from '../whatsapp/outbound/template.ts';
import { parseSendMessageRequest } from '../whatsapp/outbound.ts';
import { ApiError, ConflictError, NotFoundError, ValidationError } from './errors.ts';
import { phoneDigits } from './ids.ts';
import { messageIdForKey, SEND_IN_PROGRESS_MS, type MessageSender } from './send-message.ts';
import { createHash, randomBytes } from 'node:crypto';

export type BroadcastState = 'queued' | 'running' | 'stopping' | 'stopped' | 'completed';
export const RECIPIENT_STATES = ['queued', 'sending', 'sent', 'failed', 'in_doubt', 'cancelled'] as const;
export type RecipientState = (typeof RECIPIENT_STATES)[number];
/** States a recipient leaves no more. */
const DONE: ReadonlySet<RecipientState> = new Set(['sent', 'failed', 'in_doubt', 'cancelled']);

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
}

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
}

export interface BroadcastJob {
  broadcastId: string;
  to: string;
  seq: number;
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
  counts: { queued: number; sending: number; sent: number; failed: number; inDoubt: number; cancelled: number };
  /** Sent messages per WhatsApp status (accepted, sent, delivered, read, failed…), when asked for. */
  statuses?: Record<string, number>;
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

export interface BroadcastDeps {
  store: BroadcastStore;
  queue: BroadcastQueue;
  pacer: Pacer;
  sender: MessageSender;
  queries: Pick<MessageQueries, 'getMessage'>;
  /** Messages per second per business number (Meta's default throughput is 80). */
  messagesPerSecond: (phoneNumberId: string) => number;
  now: () => number;
  sleep: (ms: number) => Promise<unknown>;
  /** Uploaded recipient lists (the media bucket); needed only by broadcasts from a list. */
  lists?: () => RecipientListStorage;
  /** Bytes read per page of an uploaded list. @default LIST_PAGE_BYTES */
  listPageBytes?: number;
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

    const id = await this.write(phoneNumberId, input.template, opts.idempotencyKey, { total: recipients.length, counts: { ...zeroCounts(), queued: recipients.length } }, (b) => b.total === recipients.length);
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
    fields: Pick<Broadcast, 'total' | 'counts' | 'upload'>,
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
    const id = await this.write(phoneNumberId, input.template, opts.idempotencyKey, { total: 0, counts: zeroCounts(), upload }, (b) => b.upload?.id === uploadId);
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

  /** Sends one recipient (see the steps at the top of this file). Throws when the job must be retried. */
  async process(job: BroadcastJob): Promise<void> {
    const { store, now } = this.deps;
    const b = await store.get(job.broadcastId);
    if (!b) return;
    if (b.state === 'stopping' || b.state === 'stopped') {
      if (await store.transition(b.id, job.to, 'queued', 'cancelled')) await this.settleIfDone(b.id);
      return;
    }
    const r = await store.getRecipient(b.id, job.to);
    if (!r || r.state !== 'queued') return;
    const slot = await this.deps.pacer.reserve(b.phoneNumberId, this.deps.messagesPerSecond(b.phoneNumberId), String(job.seq), now());
    if (slot > now()) await this.deps.sleep(slot - now());
    // A stop asked while this job waited for its slot still holds it back.
    const current = await store.get(b.id);
    if (current && (current.state === 'stopping' || current.state === 'stopped')) {
      if (await store.transition(b.id, job.to, 'queued', 'cancelled')) await this.settleIfDone(b.id);
      return;
    }
    if (!(await store.transition(b.id, job.to, 'queued', 'sending', { attemptAtMs: now() }))) return;
    await store.setState(b.id, ['queued'], 'running');

    const components = r.parameters ?? b.template.components;
    const req = {
      from: b.phoneNumberId,
      to: r.to,
      type: 'template' as const,
      template: { ...b.template, ...(components && { components }) },
      biz_opaque_callback_data: `broadcast:${b.id}`,
    };
    const parsed = parseSendMessageRequest(req);
    let next: { state: RecipientState; fields: Partial<Recipient> };
    try {
      if (!parsed.ok) throw new ValidationError(parsed.error.message, { path: parsed.error.path });
      const out = await this.deps.sender.send(parsed.value, { idempotencyKey: `broadcast:${b.id}:${r.to}` });
      next = { state: 'sent', fields: { messageId: out.body.id } };
    } catch (err) {
      const e = err instanceof ApiError ? err : undefined;
      // Nothing was accepted (throttled, the store failed before the call), or the attempt is still
      // running: the job comes back later, and the send record's key keeps it from going twice.
      if (!e || e.kind === 'throttled' || e.code === 'store_unavailable' || e.code === 'send_in_progress') {
        await store.transition(b.id, r.to, 'sending', 'queued');
        throw err;
      }
      if (e.code === 'send_in_doubt' || e.kind === 'internal' || e.kind === 'no_answer' || e.kind === 'unavailable') {
        next = { state: 'in_doubt', fields: {} };
      } else {
        next = { state: 'failed', fields: { error: { code: e.code, message: e.message } } };
      }
    }
    await store.transition(b.id, r.to, 'sending', next.state, next.fields);
    await this.settleIfDone(b.id);
  }

  /** Completed (or stopped) once every recipient is done. */
  private async settleIfDone(id: string): Promise<void> {
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

  /**
   * The broadcast, its recipients per state, and with `withStatuses` the WhatsApp status of every
   * message sent (one read per sent recipient): a recipient in doubt whose message got a status
   * is counted by that status, no longer in doubt.
   */
  async get(id: string, withStatuses = true): Promise<BroadcastView> {
    const b = await this.deps.store.get(id);
    if (!b) throw notFound(id);
    const view = this.view(b);
    if (!withStatuses) return view;
    const statuses: Record<string, number> = {};
    const failures: Record<string, number> = {};
    let settledInDoubt = 0;
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.listRecipients(id, { limit: 100, ...(cursor && { cursor }) });
      await Promise.all(
        page.items.map(async (r) => {
          if (r.state === 'failed' && r.error) failures[r.error.code] = (failures[r.error.code] ?? 0) + 1;
          if (r.state !== 'sent' && r.state !== 'in_doubt' && r.state !== 'sending') return;
          const messageId = r.messageId ?? messageIdForKey(b.phoneNumberId, `broadcast:${b.id}:${r.to}`);
          const m = await this.deps.queries.getMessage(messageId);
          if (!m || (r.state !== 'sent' && m.statuses.length === 0)) return;
          if (r.state === 'in_doubt') settledInDoubt++;
          statuses[m.status] = (statuses[m.status] ?? 0) + 1;
          if (m.status === 'failed') {
            const code = String(m.errors?.[0]?.code ?? 'unknown');
            failures[code] = (failures[code] ?? 0) + 1;
          }
        }),
      );
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    view.counts.inDoubt -= Math.min(settledInDoubt, view.counts.inDoubt);
    return { ...view, statuses, failures };
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
        messageId: r.messageId ?? (r.state === 'queued' || r.state === 'cancelled' || r.state === 'failed' ? null : messageIdForKey(b.phoneNumberId, `broadcast:${b.id}:${r.to}`)),
        ...(r.error && { error: r.error }),
      })),
      nextCursor: page.nextCursor,
    };
  }
}

const notFound = (id: string) => new NotFoundError(`No broadcast has the id ${id.length > 80 ? `${id.slice(0, 80)}…` : id}.`, 'broadcast_not_found');
