/**
 * The suppression list of each business number: users who answered a stop keyword, whose MARKETING
 * send failed with 131050 (they stopped marketing messages), or added through the API. Broadcasts
 * of MARKETING templates skip them (counted as `skipped`); other sends are not affected.
 */
import { NotFoundError } from './errors.ts';
import { phoneDigits } from './ids.ts';
import type { SuppressionCheck } from './broadcasts.ts';

export type SuppressionReason = 'stop_keyword' | 'meta_131050' | 'api';

export interface Suppression {
  phoneNumberId: string;
  /** The user's phone (digits). */
  to: string;
  reason: SuppressionReason;
  createdAt: string;
}

export interface SuppressionStore {
  /** Adds the user if not there yet (the first reason is kept). */
  add(phoneNumberId: string, to: string, reason: SuppressionReason, atMs: number): Promise<{ created: boolean; suppression: Suppression }>;
  get(phoneNumberId: string, to: string): Promise<Suppression | undefined>;
  /** False when the user was not there. */
  remove(phoneNumberId: string, to: string): Promise<boolean>;
  /** Newest first. */
  list(phoneNumberId: string, opts: { limit: number; cursor?: string }): Promise<{ items: Suppression[]; nextCursor: string | null }>;
}

export class Suppressions implements SuppressionCheck {
  private readonly store: SuppressionStore;
  private readonly now: () => number;

  constructor(deps: { store: SuppressionStore; now: () => number }) {
    this.store = deps.store;
    this.now = deps.now;
  }

  async isSuppressed(phoneNumberId: string, to: string): Promise<boolean> {
    return (await this.store.get(phoneNumberId, phoneDigits(to))) !== undefined;
  }

  async suppress(phoneNumberId: string, to: string, reason: SuppressionReason): Promise<void> {
    await this.store.add(phoneNumberId, phoneDigits(to), reason, this.now());
  }

  add(phoneNumberId: string, to: string) {
    return this.store.add(phoneNumberId, phoneDigits(to), 'api', this.now());
  }

  list(phoneNumberId: string, opts: { limit: number; cursor?: string }) {
    return this.store.list(phoneNumberId, opts);
  }

  async remove(phoneNumberId: string, to: string): Promise<void> {
    if (!(await this.store.remove(phoneNumberId, phoneDigits(to)))) {
      throw new NotFoundError(`${phoneDigits(to)} is not on the suppression list of ${phoneNumberId}.`, 'suppression_not_found');
    }
  }
}
