/**
 * What WhatsApp does with a message the business sent, once AWS accepted it: record it in the
 * outbox, decide whether Meta would deliver it, and publish its status events (`sent` →
 * `delivered` → `read`, only `sent` for a reaction, only `failed` when Meta refuses it).
 *
 * Meta's refusals, checked in this order (the first that applies wins):
 * 131008 the type's object is missing · 130429 the business number sent more than
 * `limits.messagesPerSecond` in the last second · 131021 recipient is the sender · 131026
 * recipient not on WhatsApp or unknown · 131047 not a template and the user's 24-hour window is
 * closed · 131056 more than `limits.pairRateBurst` messages to this user within 6 s.
 */
import { randomBytes } from 'node:crypto';
import type { SandboxPhoneNumber } from './config.ts';
import { metaError } from './meta-errors.ts';
import type { MetaErrorObject } from './meta-errors.ts';
import type { ChaosSettings, KnownUser, OutboxEntry, SandboxCore } from './types.ts';
import { windowKey } from './types.ts';
import { envelopeOf, messagesEntry, newWamid, unixSeconds } from './webhooks.ts';

const WINDOW_MS = 24 * 60 * 60 * 1000;
const PAIR_WINDOW_MS = 6000;
/** Templates have no category in the sandbox; they are priced as utility templates. */
const TEMPLATE_CATEGORY = 'utility';

type Status = 'sent' | 'delivered' | 'read' | 'failed';

/** Records a send at `now`, drops entries older than `spanMs`, returns how many remain. */
function countRecent(map: Map<string, number[]>, key: string, now: number, spanMs: number): number {
  const kept = (map.get(key) ?? []).filter((t) => t > now - spanMs);
  kept.push(now);
  map.set(key, kept);
  return kept.length;
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

  const toDigits = typeof message.to === 'string' ? message.to.replace(/[^0-9]/g, '') : '';
  const bsuid = typeof message.recipient === 'string' ? message.recipient : '';
  const user = findRecipient(core, toDigits, bsuid);
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

  const type = typeof message.type === 'string' ? message.type : 'text';
  const isTemplate = type === 'template';
  const userPhone = user?.phone ?? toDigits;
  const wKey = windowKey(number.phoneNumberId, userPhone || recipientId);
  const lastInbound = state.lastInboundMs.get(wKey);
  const windowOpen = lastInbound !== undefined && now < lastInbound + WINDOW_MS;

  const perSecond = countRecent(core.sendTimes.byNumber, number.phoneNumberId, now, 1000);
  const perPair = countRecent(core.sendTimes.byPair, wKey, now, PAIR_WINDOW_MS);
  const { limits } = state.config;

  const refusals: [boolean, () => MetaErrorObject][] = [
    [typeof message[type] !== 'object' || message[type] === null, () => metaError(131008, `Parameter '${type}' is required for a message of type ${type}.`)],
    [perSecond > limits.messagesPerSecond, () => metaError(130429)],
    [userPhone !== '' && userPhone === number.displayPhoneNumber, () => metaError(131021)],
    [!user?.onWhatsApp, () => metaError(131026)],
    [!isTemplate && !windowOpen, () => metaError(131047)],
    [perPair > limits.pairRateBurst, () => metaError(131056)],
  ];
  const refusal = refusals.find(([applies]) => applies)?.[1]();

  const callback = typeof message.biz_opaque_callback_data === 'string' ? message.biz_opaque_callback_data : undefined;
  const base = (status: Status, atMs: number): Record<string, unknown> => ({
    id: wamid,
    status,
    timestamp: unixSeconds(atMs),
    recipient_id: recipientId,
    ...(callback !== undefined ? { biz_opaque_callback_data: callback } : {}),
  });

  const events: { status: Status; delay: number; body: Record<string, unknown> }[] = [];
  if (refusal) {
    events.push({ status: 'failed', delay: core.delays.sent, body: { ...base('failed', now + core.delays.sent), errors: [refusal] } });
  } else {
    const category = isTemplate ? TEMPLATE_CATEGORY : 'service';
    const free = !isTemplate || windowOpen;
    const pricing = {
      billable: !free,
      pricing_model: 'PMP',
      type: free ? 'free_customer_service' : 'regular',
      category,
    };
    const conversation = conversationOf(core, wKey, now);
    const steps: Status[] = type === 'reaction' ? ['sent'] : ['sent', 'delivered', 'read'];
    for (const status of steps) {
      const delay = core.delays[status as keyof typeof core.delays];
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
  }

  scheduleStatuses(core, number, entry, events, { ...state.chaos });
  return entry;
}

function findRecipient(core: SandboxCore, toDigits: string, bsuid: string): KnownUser | undefined {
  if (toDigits) return core.state.users.get(toDigits);
  if (bsuid) for (const u of core.state.users.values()) if (u.userId === bsuid) return u;
  return undefined;
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
  events: { status: Status; delay: number; body: Record<string, unknown> }[],
  chaos: ChaosSettings,
): void {
  let order = events;
  if (chaos.reorder && events.length > 1) {
    order = core.rng.shuffle(events);
    if (order.every((e, i) => e === events[i])) order = [...events.slice(1), events[0]!];
  }
  // Each publication of a message waits for the one before it, so that a slow Publish call never
  // swaps two statuses: without `reorder` the order is always the natural one.
  let previous: Promise<void> = Promise.resolve();
  order.forEach((event, i) => {
    const slot = events[i]!.delay + chaos.delayMs;
    const duplicate = core.rng.chance(chaos.duplicateRate);
    core.later(slot, () => {
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
      };
      // A failed publication is reported by `later`; the next status is still attempted.
      const run = previous.catch(() => {}).then(publish);
      previous = run;
      return run;
    });
  });
}
