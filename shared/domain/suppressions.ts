/**
 * The suppression list of each business (its WABA): users who answered a stop keyword to any of its
 * numbers, whose MARKETING send from any of them failed with 131050 (they stopped marketing
 * messages from the business), or added through the API. Broadcasts of MARKETING templates skip
 * them (counted as `skipped`) whichever of the business's numbers sends; other sends are not
 * affected.
 *
 * A list is keyed by the AWS WABA id. Where the WABA is not known (an inbound event whose envelope
 * does not name it, or a function that cannot look it up), the user is kept under the number
 * instead, as versions before this one kept every list; a check reads both, so no opt-out is lost.
 */
import { NotFoundError } from './errors.ts';
import { phoneDigits } from './ids.ts';
import type { SuppressionCheck } from './broadcasts.ts';
import type { BusinessNumber } from './types.ts';

export type SuppressionReason = 'stop_keyword' | 'meta_131050' | 'api';

export interface Suppression {
  /** The business whose list it is: its AWS WABA id (or, kept under one number, that number's id). */
  wabaId: string;
  /** The user's phone (digits). */
  to: string;
  reason: SuppressionReason;
  createdAt: string;
  /** The business number the stop keyword or the failed send went through, when one did. */
  phoneNumberId?: string;
}

export interface SuppressionStore {
  /** Adds the user to `listId`'s list if not there yet (the first reason is kept). */
  add(listId: string, to: string, reason: SuppressionReason, atMs: number, phoneNumberId?: string): Promise<{ created: boolean; suppression: Suppression }>;
  /** Whether the user is on any of these lists. */
  onAny(listIds: readonly string[], to: string): Promise<boolean>;
  /** False when the user was on none of these lists; removes them from each. */
  remove(listIds: readonly string[], to: string): Promise<boolean>;
  /** These lists together, newest first. */
  list(listIds: readonly string[], opts: { limit: number; cursor?: string }): Promise<{ items: Suppression[]; nextCursor: string | null }>;
}

export class Suppressions implements SuppressionCheck {
  private readonly store: SuppressionStore;
  private readonly now: () => number;
  private readonly wabaOf: ((phoneNumberId: string) => Promise<string | undefined>) | undefined;

  /** `wabaOf`: the AWS WABA id of a business number, where this function can look it up. */
  constructor(deps: { store: SuppressionStore; now: () => number; wabaOf?: (phoneNumberId: string) => Promise<string | undefined> }) {
    this.store = deps.store;
    this.now = deps.now;
    this.wabaOf = deps.wabaOf;
  }

  /** Whether a user is suppressed for the business of `phoneNumberId` (its WABA's list, or the number's own). */
  async isSuppressed(phoneNumberId: string, to: string): Promise<boolean> {
    const waba = await this.wabaOf?.(phoneNumberId);
    return this.store.onAny(waba ? [waba, phoneNumberId] : [phoneNumberId], phoneDigits(to));
  }

  /** Suppresses a user for the business of the number a stop or a failure came through. */
  async suppress(business: Pick<BusinessNumber, 'phoneNumberId' | 'awsWabaId'>, to: string, reason: SuppressionReason): Promise<void> {
    const waba = business.awsWabaId ?? (await this.wabaOf?.(business.phoneNumberId));
    await this.store.add(waba ?? business.phoneNumberId, phoneDigits(to), reason, this.now(), business.phoneNumberId);
  }

  add(wabaId: string, to: string) {
    return this.store.add(wabaId, phoneDigits(to), 'api', this.now());
  }

  /** The business's list, with the lists of its numbers (`phoneNumberIds`) kept before, newest first. */
  list(wabaId: string, opts: { limit: number; cursor?: string }, phoneNumberIds: readonly string[] = []) {
    return this.store.list([wabaId, ...phoneNumberIds], opts);
  }

  /** Removes the user from the business's list, and from the lists of its numbers (`phoneNumberIds`) kept before. */
  async remove(wabaId: string, to: string, phoneNumberIds: readonly string[] = []): Promise<void> {
    if (!(await this.store.remove([wabaId, ...phoneNumberIds], phoneDigits(to)))) {
      throw new NotFoundError(`${phoneDigits(to)} is not on the suppression list of ${wabaId}.`, 'suppression_not_found');
    }
  }
}
