import { expect, it } from 'vitest';
import { safeError } from '../../shared/observability.ts';

it('logs an error without the phone numbers its message quotes', () => {
  const err = new Error('Invalid destination phone number +1 650-555-1234 for 16505551234', { cause: new TypeError('x') });

  const logged = safeError(err);

  expect(logged).toMatchObject({ name: 'Error', message: 'Invalid destination phone number ###### for ######', cause: 'TypeError' });
  expect(JSON.stringify(logged)).not.toMatch(/555/);
});
