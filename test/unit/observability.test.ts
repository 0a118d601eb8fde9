import { expect, it } from 'vitest';
import { safeError } from '../../shared/observability.ts';

it('logs an error and its causes without the phone numbers their messages quote', () => {
  const step = new Error('complete send record', { cause: new Error('item for +1 (650) 555-1234 refused') });
  const err = new Error('Invalid destination phone number +1 650-555-1234 for 16505551234', { cause: step });

  const logged = safeError(err);

  expect(logged).toMatchObject({
    name: 'Error',
    message: 'Invalid destination phone number ###### for ######',
    causes: [
      { name: 'Error', message: 'complete send record' },
      { name: 'Error', message: 'item for ###### refused' },
    ],
  });
  expect(JSON.stringify(logged)).not.toMatch(/555/);
});

it('keeps short numbers such as status codes and line numbers', () => {
  expect(safeError(new Error('HTTP 503 after 3 attempts')).message).toBe('HTTP 503 after 3 attempts');
});
