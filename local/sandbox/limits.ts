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
