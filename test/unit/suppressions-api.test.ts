/**
 * Which business a suppression request means (`businessOfRequest`): `wabaId`, else the WABA of
 * `from`, else the first configured; with the WABA's numbers (whose own lists a removal clears too).
 * The send path's lookups are given as data: what AWS describes is not what is tested here.
 */
import { describe, expect, it } from 'vitest';
import { businessOfRequest } from '../../lambdas/api/routes/suppressions.ts';
import { ApiError } from '../../shared/domain/errors.ts';

const W1 = 'waba-aaaa';
const W2 = 'waba-bbbb';
const numbers: Record<string, string | undefined> = { 'phone-number-id-1': W1, 'phone-number-id-2': W1, 'phone-number-id-3': W2, 'phone-number-id-4': undefined };
const business = businessOfRequest({
  wabas: async () => [W1, W2],
  wabaOf: async (id) => numbers[id],
  numbersOf: async (waba) => Object.keys(numbers).filter((id) => numbers[id] === waba),
  resolvePhoneNumber: async (from) => from,
});
const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (err: unknown) => (err instanceof ApiError ? `${err.kind} ${err.code}` : String(err)));

describe('the business of a suppression request', () => {
  it('is the WABA asked for, else the WABA of the number, else the first; with its numbers', async () => {
    expect(await business({})).toEqual({ wabaId: W1, phoneNumberIds: ['phone-number-id-1', 'phone-number-id-2'] });
    expect(await business({ wabaId: W2 })).toEqual({ wabaId: W2, phoneNumberIds: ['phone-number-id-3'] });
    expect(await business({ from: 'phone-number-id-3' })).toEqual({ wabaId: W2, phoneNumberIds: ['phone-number-id-3'] });
    expect(await business({ wabaId: W1, from: 'phone-number-id-2' })).toEqual({ wabaId: W1, phoneNumberIds: ['phone-number-id-1', 'phone-number-id-2'] });
  });

  it('refuses a WABA of another backend, a number of another WABA than the one asked for, and a number whose WABA is not known', async () => {
    expect(await codeOf(business({ wabaId: 'waba-cccc' }))).toBe('not_found unknown_waba');
    expect(await codeOf(business({ wabaId: W1, from: 'phone-number-id-3' }))).toBe('invalid validation_error');
    expect(await codeOf(business({ from: 'phone-number-id-4' }))).toBe('not_found unknown_waba');
  });
});
