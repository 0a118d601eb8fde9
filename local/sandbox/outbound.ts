/**
 * What happens to a message the business sent, once AWS accepted it: record it in the outbox,
 * publish the events End User Messaging Social generates itself, decide whether Meta would deliver
 * it, and publish Meta's status events.
 *
 * AWS's own events (facts §2.4, §4.3) come in the same envelope and entry shape as Meta's, with the
 * envelope `messageId` set but no `biz_opaque_callback_data` (AWS does not copy it):
 * `accepted` right after the send, and with chaos `dropRate`, "Message retries exhausted,
 * dropping message." for a message AWS never hands to WhatsApp (nothing else follows it).
 *
 * Meta's statuses: `sent` → `delivered` → `read`, only `sent` for a reaction, only `failed` when
 * Meta refuses the message. Its refusals, checked in this order (the first that applies wins):
 * 131008 the type's object is missing · 130429 the business number sent more than
 * `limits.messagesPerSecond` in the last second · 132001/132015/132016/132000/132012 a template
 * Meta would not send (see `templates.ts`) · 131021 recipient is the sender · 131026
 * recipient not on WhatsApp or unknown · 131047 not a template and the user's 24-hour window is
 * closed · 131048 a template outside the user's window to one more unique user than
 * `limits.messagingTier` allows in 24 hours · 131056 the pair's token bucket is empty (see `limits.ts`).
 *
 * A mark-as-read request gets no event at all: it has no wamid to report on.
 */
import { randomBytes } from 'node:crypto';
import { phoneDigits } from '../../shared/domain/ids.ts';
import type { SandboxPhoneNumber } from './config.ts';
import { metaError } from './meta-errors.ts';
import { MESSAGING_TIERS, SecondWindow, takePairToken } from './limits.ts';
import { templateRefusal } from './templates.ts';
import type { MetaErrorObject } from './meta-errors.ts';
import type { ChaosSettings, KnownUser, OutboxEntry, SandboxCore, SandboxState } from './types.ts';
import { windowKey } from './types.ts';
import { recipientFor, userKey } from './users.ts';
import { envelopeOf, messagesEntry, newWamid, unixSeconds } from './webhooks.ts';

const WINDOW_MS = 24 * 60 * 60 * 1000;

/** The status AWS publishes once it accepted a send. */
export const AWS_ACCEPTED = 'accepted';
/** The status AWS publishes when it gave up handing a message to WhatsApp (its wording, verbatim). */
export const AWS_DROPPED = 'Message retries exhausted, dropping message.';

type Status = typeof AWS_ACCEPTED | typeof AWS_DROPPED | 'sent' | 'delivered' | 'read' | 'failed';

interface StatusEvent {
  status: Status;
  /** When to publish it, ms after the send was accepted. */
  delay: number;
  /** The `statuses[]` element. */
  body: Record<string, unknown>;
}


/** Whether `message` is a mark-as-read (optionally with typing indicator) request. */
export function isMarkAsRead(message: Record<string, unknown>): boolean {
  return message.status === 'read' && typeof message.message_id === 'string';
}

/**
 * Handles a message AWS accepted: records it and schedules its status events. `message` is the
 * decoded Meta JSON (already checked to be an object with `messaging_product: "whatsapp"`).
 */
export function acceptOutbound(core: SandboxCore, number: SandboxPhoneNumber, awsMessageId: string, message: Record<string, unknown>): OutboxEntry {
  const { state } = core;
  const now = state.now();
  const acceptedAt = new Date(now).toISOString();

  if (isMarkAsRead(message)) {
    const original = state.inbound.get(message.message_id as string);
    const entry: OutboxEntry = {
      awsMessageId,
      wamid: null,
      to: original?.from ?? null,
      message,
      status: 'accepted',
      statuses: [],
      kind: 'mark_read',
      phoneNumberId: number.phoneNumberId,
      acceptedAt,
    };
    state.outbox.push(entry);
    return entry;
  }

  const toDigits = typeof message.to === 'string' ? phoneDigits(message.to) : '';
  const bsuid = typeof message.recipient === 'string' ? message.recipient : '';
  const user = recipientFor(state, toDigits, bsuid);
  const recipientId = toDigits || bsuid;
  const wamid = newWamid(recipientId, 'outbound');
  const entry: OutboxEntry = {
    awsMessageId,
    wamid,
    to: recipientId,
    message,
    status: 'accepted',
    statuses: [],
    kind: 'message',
    phoneNumberId: number.phoneNumberId,
    acceptedAt,
  };
  state.outbox.push(entry);

  const chaos = { ...state.chaos };
  // AWS's events report on the wamid but never carry the caller's callback data.
  const awsStatus = (status: Status, atMs: number): Record<string, unknown> => ({
    id: wamid,
    status,
    timestamp: unixSeconds(atMs),
    recipient_id: recipientId,
  });
  const events: StatusEvent[] = [{ status: AWS_ACCEPTED, delay: 0, body: awsStatus(AWS_ACCEPTED, now) }];
  if (core.rng.chance(chaos.dropRate)) {
    // Never handed to WhatsApp: no Meta check applies and no Meta rate limit counts it.
    const delay = core.delays.sent;
    events.push({ status: AWS_DROPPED, delay, body: awsStatus(AWS_DROPPED, now + delay) });
  } else {
    events.push(...whatsAppStatuses(core, number, message, { wamid, recipientId, toDigits, user, now }));
  }
  scheduleStatuses(core, number, entry, events, chaos);
  return entry;
}

/** The 24-hour window of a recipient with a business number: its key, and whether it is open at `now`. */
function windowOf(state: SandboxState, number: SandboxPhoneNumber, user: KnownUser | undefined, recipientId: string, now: number) {
  const wKey = windowKey(number.phoneNumberId, (user && userKey(user)) || recipientId);
  const lastInbound = state.lastInboundMs.get(wKey);
  return { wKey, windowOpen: lastInbound !== undefined && now < lastInbound + WINDOW_MS };
}

/**
 * Whether Meta's decision on this send depends on an inbound message the sandbox may not have seen
 * yet (a user known only by BSUID, or a window not open): then it reads the event topic first.
 */
export function dependsOnUnseenInbound(state: SandboxState, number: SandboxPhoneNumber, message: Record<string, unknown>): boolean {
  if (isMarkAsRead(message)) return false;
  const toDigits = typeof message.to === 'string' ? phoneDigits(message.to) : '';
  const bsuid = typeof message.recipient === 'string' ? message.recipient : '';
  const user = recipientFor(state, toDigits, bsuid);
  if (!user) return true;
  return message.type !== 'template' && !windowOf(state, number, user, toDigits || bsuid, state.now()).windowOpen;
}

/** What WhatsApp reports on a message it was handed: `failed` with the refusal, or its progress. */
function whatsAppStatuses(
  core: SandboxCore,
  number: SandboxPhoneNumber,
  message: Record<string, unknown>,
  to: { wamid: string; recipientId: string; toDigits: string; user: KnownUser | undefined; now: number },
): StatusEvent[] {
  const { state } = core;
  const { wamid, recipientId, toDigits, user, now } = to;
  const type = typeof message.type === 'string' ? message.type : 'text';
  const isTemplate = type === 'template';
  const userPhone = user?.phone ?? toDigits;
  const { wKey, windowOpen } = windowOf(state, number, user, recipientId, now);

  const { limits } = state.config;
  const { byNumber, byPair, uniqueUsers } = core.sendTimes;
  const second = byNumber.get(number.phoneNumberId) ?? new SecondWindow();
  byNumber.set(number.phoneNumberId, second);
  const perSecond = second.record(now);
  // Business-initiated (a template outside the user's window) counts toward the messaging limit.
  const businessInitiated = isTemplate && !windowOpen;
  const tierUser = userPhone || recipientId;

  const refusals: [boolean, () => MetaErrorObject][] = [
    [typeof message[type] !== 'object' || message[type] === null, () => metaError(131008, `Parameter '${type}' is required for a message of type ${type}.`)],
    [perSecond > limits.messagesPerSecond, () => metaError(130429)],
    [isTemplate && templateRefusal(state.templates, number, message) !== undefined, () => templateRefusal(state.templates, number, message)!],
    [userPhone !== '' && userPhone === number.displayPhoneNumber, () => metaError(131021)],
    [!user?.onWhatsApp, () => metaError(131026)],
    [!isTemplate && !windowOpen, () => metaError(131047)],
    [businessInitiated && !uniqueUsers.admits(tierUser, MESSAGING_TIERS[limits.messagingTier], now), () => metaError(131048)],
  ];
  let refusal = refusals.find(([applies]) => applies)?.[1]();
  // Last, so that a message refused for another reason takes no token of the pair.
  if (!refusal && !takePairToken(byPair, wKey, limits.pairRateBurst, now)) refusal = metaError(131056);
  if (!refusal && businessInitiated) uniqueUsers.record(tierUser, now);

  const callback = typeof message.biz_opaque_callback_data === 'string' ? message.biz_opaque_callback_data : undefined;
  const base = (status: Status, atMs: number): Record<string, unknown> => ({
    id: wamid,
    status,
    timestamp: unixSeconds(atMs),
    recipient_id: recipientId,
    ...(callback !== undefined ? { biz_opaque_callback_data: callback } : {}),
  });

  const events: StatusEvent[] = [];
  if (refusal) {
    events.push({ status: 'failed', delay: core.delays.sent, body: { ...base('failed', now + core.delays.sent), errors: [refusal] } });
    return events;
  }
  const category = isTemplate ? templateCategory(state, number, message) : 'service';
  const free = !isTemplate || windowOpen;
  const pricing = {
    billable: !free,
    pricing_model: 'PMP',
    type: free ? 'free_customer_service' : 'regular',
    category,
  };
  const conversation = conversationOf(core, wKey, now);
  const steps: ('sent' | 'delivered' | 'read')[] = type === 'reaction' ? ['sent'] : ['sent', 'delivered', 'read'];
  for (const status of steps) {
    const delay = core.delays[status];
    const at = now + delay;
    const body = base(status, at);
    // Meta attaches conversation and pricing to `sent` and to one later status.
    if (status === 'sent') {
      body.conversation = { id: conversation.id, expiration_timestamp: unixSeconds(conversation.expiresMs), origin: { type: category } };
      body.pricing = pricing;
    } else if (status === 'delivered') {
      body.conversation = { id: conversation.id, origin: { type: category } };
      body.pricing = pricing;
    }
    events.push({ status, delay, body });
  }
  return events;
}

/** The pricing category of a template send: its template's category, lowercase (facts §6.6). */
function templateCategory(state: SandboxState, number: SandboxPhoneNumber, message: Record<string, unknown>): string {
  const tpl = (message.template ?? {}) as { name?: unknown; language?: { code?: unknown } };
  const t = state.templates.find((x) => x.wabaId === number.wabaId && x.name === tpl.name && x.language === tpl.language?.code);
  return (t?.category ?? 'UTILITY').toLowerCase();
}

function conversationOf(core: SandboxCore, key: string, now: number): { id: string; expiresMs: number } {
  const current = core.conversations.get(key);
  if (current && current.expiresMs > now) return current;
  const fresh = { id: randomBytes(16).toString('hex'), expiresMs: now + WINDOW_MS };
  core.conversations.set(key, fresh);
  return fresh;
}

/**
 * Publishes each status at its delay. With `reorder`, the statuses are dealt to the same
 * publication times in a shuffled order (never the natural one); their `timestamp`s stay true.
 */
function scheduleStatuses(
  core: SandboxCore,
  number: SandboxPhoneNumber,
  entry: OutboxEntry,
  events: StatusEvent[],
  chaos: ChaosSettings,
): void {
  let order = events;
  if (chaos.reorder && events.length > 1) {
    order = core.rng.shuffle(events);
    if (order.every((e, i) => e === events[i])) order = [...events.slice(1), events[0]!];
  }
  // Each publication of a message waits for its time and for the publication before it, so the
  // order is kept (without `reorder`, always the natural one) even when a Publish call is slow,
  // or when timers of different delays fire out of order: Node runs every due timer of one delay
  // before those of another, so after the event loop was busy a later status can come due first.
  let previous: Promise<void> = Promise.resolve();
  order.forEach((event, i) => {
    const slot = events[i]!.delay + chaos.delayMs;
    const duplicate = core.rng.chance(chaos.duplicateRate);
    let settle!: (publish: boolean) => void;
    const due = new Promise<boolean>((resolve) => (settle = resolve));
    const publish = async () => {
      const envelope = envelopeOf({
        number,
        entry: messagesEntry(number, { statuses: [event.body] }),
        region: core.opts.region,
        accountId: core.opts.accountId,
        nowMs: core.state.now(),
        awsMessageId: entry.awsMessageId,
      });
      await core.publish(envelope, duplicate);
      entry.status = event.status;
      entry.statuses.push(event.status);
      const errors = (event.body as { errors?: { code?: unknown }[] }).errors;
      if (errors) entry.errorCodes = errors.map((e) => Number(e.code));
    };
    // A failed publication is reported by `later`; the next status is still attempted. A status
    // cancelled by `stop()` is skipped, so a later one that already came due is not held forever.
    const run = previous
      .catch(() => {})
      .then(() => due)
      .then((go) => (go ? publish() : undefined));
    previous = run;
    core.later(
      slot,
      () => {
        settle(true);
        return run;
      },
      () => settle(false),
    );
  });
}
