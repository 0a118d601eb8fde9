/**
 * Meta's sending limits as the sandbox keeps them, each O(1) per send so they stay honest at
 * broadcast speed (facts §6.3, §6.4):
 * - throughput: at most `messagesPerSecond` messages of a business number in any second (130429);
 * - pair rate: a token bucket per (number, user) of `pairRateBurst` tokens, one back every 6 s:
 *   one message per 6 s sustained, a burst borrows ahead (a burst of 20 then waits about 2 minutes)
 *   (131056);
 * - messaging limit: business-initiated templates (outside the user's 24-hour window) reach at most
 *   `messagingTier` unique users in a rolling 24 hours, shared by every number of the sandbox (one
 *   business portfolio). Meta names no error code for it; the sandbox answers a `failed` status
 *   with 131048 ("restrictions on how many messages can be sent from this phone number"), its
 *   closest documented wording.
 */

import * as z from 'zod';
import { ControlError } from './http.ts';
import type { SandboxCore } from './types.ts';
import { envelopeOf, unixSeconds } from './webhooks.ts';

/** The tiers of Meta's messaging limit (unique users in 24 hours), by the names its webhooks use. */
export const MESSAGING_TIERS = { TIER_50: 50, TIER_250: 250, TIER_2K: 2000, TIER_10K: 10_000, TIER_100K: 100_000, UNLIMITED: Number.POSITIVE_INFINITY } as const;
export type MessagingTier = keyof typeof MESSAGING_TIERS;

const PAIR_REFILL_MS = 6000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Sends of one number in the last second: a ring of their times. */
export class SecondWindow {
  private readonly times: number[] = [];
  private head = 0;
  /** Records a send at `now` and answers how many the last second holds, this one included. */
  record(now: number): number {
    this.times.push(now);
    while (this.times[this.head]! <= now - 1000) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }
}

/** One pair's token bucket: takes a token if there is one. */
export function takePairToken(buckets: Map<string, { tokens: number; atMs: number }>, key: string, burst: number, now: number): boolean {
  const b = buckets.get(key) ?? { tokens: burst, atMs: now };
  const tokens = Math.min(burst, b.tokens + (now - b.atMs) / PAIR_REFILL_MS);
  const ok = tokens >= 1;
  buckets.set(key, { tokens: ok ? tokens - 1 : tokens, atMs: now });
  return ok;
}

/** Unique users reached in the last 24 hours, in the order they were first counted. */
export class UniqueUsersWindow {
  private readonly countedAt = new Map<string, number>();
  private readonly order: Array<{ user: string; at: number }> = [];
  private head = 0;

  private expire(now: number): void {
    while (this.head < this.order.length && this.order[this.head]!.at <= now - DAY_MS) {
      const { user, at } = this.order[this.head++]!;
      if (this.countedAt.get(user) === at) this.countedAt.delete(user);
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Whether a message to `user` fits the limit at `now` (a user counted in the last 24 h always does). */
  admits(user: string, limit: number, now: number): boolean {
    this.expire(now);
    return this.countedAt.has(user) || this.countedAt.size < limit;
  }

  /** Counts `user` (once per 24 hours). */
  record(user: string, now: number): void {
    this.expire(now);
    if (this.countedAt.has(user)) return;
    this.countedAt.set(user, now);
    this.order.push({ user, at: now });
  }

  get size(): number {
    return this.countedAt.size;
  }
}

/** The tier's name in a webhook (`UNLIMITED` is `TIER_UNLIMITED` there). */
const webhookTier = (tier: MessagingTier) => (tier === 'UNLIMITED' ? 'TIER_UNLIMITED' : tier);

/**
 * Meta changes the business's messaging limit: the sandbox enforces the new tier from now on and
 * sends `phone_number_quality_update` for each of its numbers (`UPGRADE` or `DOWNGRADE`, the old and
 * the new tier in `current_limit` and `max_daily_conversations_per_business`), as Meta does.
 */
export async function setMessagingTier(core: SandboxCore, tier: MessagingTier): Promise<void> {
  const { config } = core.state;
  const old = config.limits.messagingTier;
  config.limits.messagingTier = tier;
  const nowMs = core.state.now();
  for (const number of config.phoneNumbers) {
    const entry = {
      id: number.metaWabaId,
      time: Number(unixSeconds(nowMs)),
      changes: [
        {
          field: 'phone_number_quality_update',
          value: {
            display_phone_number: number.displayPhoneNumber,
            event: MESSAGING_TIERS[tier] >= MESSAGING_TIERS[old] ? 'UPGRADE' : 'DOWNGRADE',
            old_limit: webhookTier(old),
            current_limit: webhookTier(tier),
            max_daily_conversations_per_business: webhookTier(tier),
          },
        },
      ],
    };
    await core.publish(envelopeOf({ number, entry, region: core.opts.region, accountId: core.opts.accountId, nowMs }), false);
  }
}

const LimitsSchema = z.strictObject({ messagingTier: z.enum(Object.keys(MESSAGING_TIERS) as [MessagingTier, ...MessagingTier[]]) });

const limitsBody = (core: SandboxCore) => {
  const { messagesPerSecond, messagingTier, pairRateBurst } = core.state.config.limits;
  return { messagesPerSecond, messagingTier, pairRateBurst, uniqueUsersLast24h: core.sendTimes.uniqueUsers.size };
};

export const LIMIT_CONTROL_ROUTES = {
  /** `GET /sandbox/limits`: what the sandbox enforces; `POST {messagingTier}` changes the tier (see `setMessagingTier`). */
  '/sandbox/limits': {
    GET: async (core: SandboxCore) => ({ status: 200, body: limitsBody(core) }),
    POST: async (core: SandboxCore, _query: URLSearchParams, body: unknown) => {
      const parsed = LimitsSchema.safeParse(body ?? {});
      if (!parsed.success) throw new ControlError(400, 'invalid_request', `Give {"messagingTier": one of ${Object.keys(MESSAGING_TIERS).join(', ')}}.`);
      try {
        await setMessagingTier(core, parsed.data.messagingTier);
      } catch (err) {
        throw new ControlError(502, 'publish_failed', `Publishing the messaging-limit webhook failed: ${(err as Error).name}.`);
      }
      return { status: 200, body: limitsBody(core) };
    },
  },
} as const;
