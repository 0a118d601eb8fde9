/**
 * Status precedence of outbound messages. The current status of a message is derived from the
 * set of statuses ever received for it, so that any order of arrival, with any duplicates, gives
 * the same answer: the highest ranked status wins, and a terminal failure beats everything.
 */

/** Rank of each progress status; a higher rank never gives way to a lower one. */
export const STATUS_RANK: Readonly<Record<string, number>> = {
  accepted: 1,
  sent: 2,
  delivered: 3,
  read: 4,
  played: 5,
};

/** The rank of a status word; `fallback` for a word not ranked (own keys only: `constructor` is not a status). */
export const statusRank = (status: string, fallback = 0): number =>
  Object.hasOwn(STATUS_RANK, status) ? STATUS_RANK[status]! : fallback;

/** Statuses after which nothing else changes the outcome. */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['failed', 'retries_exhausted']);

/** The public status of a message given every status seen for it (and its direction). */
export type PublicStatus = 'received' | 'accepted' | 'sent' | 'delivered' | 'read' | 'played' | 'failed';

/**
 * Normalises a status word from a webhook: Meta's words are kept; AWS's "Message retries
 * exhausted, dropping message." becomes `retries_exhausted`; anything else is lower-cased and kept.
 */
export function normaliseStatus(raw: string): string {
  const s = raw.trim().toLowerCase();
  if (s.includes('retries exhausted')) return 'retries_exhausted';
  return s;
}

/** Derives the current status from the statuses seen; `undefined` when none ranks. */
export function currentStatus(seen: Iterable<string>): PublicStatus | undefined {
  let best: string | undefined;
  let bestRank = 0;
  for (const s of seen) {
    if (TERMINAL_STATUSES.has(s)) return 'failed';
    const r = statusRank(s);
    if (r > bestRank) {
      bestRank = r;
      best = s;
    }
  }
  return best as PublicStatus | undefined;
}
