import { describe, expect, it } from 'vitest';
import {
  ApiError,
  ConflictError,
  IdempotencyKeyReuseError,
  InternalError,
  NotFoundError,
  ThrottledError,
  UnavailableError,
  UpstreamError,
  ValidationError,
  WindowClosedError,
} from '../../shared/domain/errors.ts';
import { fromAwsError } from '../../shared/adapters/socialmessaging-errors.ts';
import { httpStatusOf, toErrorBody } from '../../lambdas/api/http-errors.ts';
import { classifyMetaError, META_ERROR_POLICY } from '../../shared/domain/meta-errors.ts';

/** An SDK-shaped exception without importing the SDK: the domain matches on `name` only. */
function awsError(name: string, message = 'something', headers?: Record<string, string>): Error {
  const e = new Error(message) as Error & { $response?: unknown; $metadata?: unknown };
  e.name = name;
  e.$metadata = { httpStatusCode: 400 };
  if (headers) e.$response = { headers };
  return e;
}

describe('Meta error policy', () => {
  it('asks for a template when the 24-hour window is closed (131047)', () => {
    expect(classifyMetaError(131047)).toMatchObject({ retryable: false, action: 'send_template' });
  });

  it.each([130429, 131056, 133004, 131000, 1, 2, 4, 80007, 131016, 131057])('retries %i after waiting', (code) => {
    expect(classifyMetaError(code)).toMatchObject({ retryable: true, action: 'wait' });
  });

  it.each([100, 131008, 131009, 131053, 132000, 132001, 132005, 132007, 132012, 132016])(
    'asks to fix the request for %i, without retrying',
    (code) => {
      expect(classifyMetaError(code)).toMatchObject({ retryable: false, action: 'fix_request' });
    },
  );

  it.each([131026, 131050, 130472, 0, 190, 368])('gives up on %i', (code) => {
    expect(classifyMetaError(code)).toMatchObject({ retryable: false, action: 'none' });
  });

  it('waits without automatic retry for a marketing message Meta held back (131049) and a paused template (132015)', () => {
    expect(classifyMetaError(131049)).toMatchObject({ retryable: false, action: 'wait' });
    expect(classifyMetaError(132015)).toMatchObject({ retryable: false, action: 'wait' });
  });

  it('treats an unlisted 132xxx code as a template problem', () => {
    expect(classifyMetaError(132099)).toMatchObject({ retryable: false, action: 'fix_request' });
  });

  it.each([999_999, -1, 1.5, Number.NaN])('gives an unknown code (%d) no retry and no action', (code) => {
    expect(classifyMetaError(code)).toMatchObject({ retryable: false, action: 'none' });
    expect(classifyMetaError(code).hint).toMatch(/unknown/i);
  });

  it('has a hint for every code and only waits when it retries', () => {
    for (const [code, p] of Object.entries(META_ERROR_POLICY)) {
      expect(p.hint.length, `hint of ${code}`).toBeGreaterThan(10);
      if (p.retryable) expect(p.action, `action of ${code}`).toBe('wait');
    }
  });
});

describe('AWS exception policy', () => {
  it.each([
    ['ValidationException', 400, 'invalid_request'],
    ['InvalidParametersException', 400, 'invalid_request'],
    ['LimitExceededException', 400, 'limit_exceeded'],
    ['ResourceNotFoundException', 404, 'unknown_phone_number'],
    ['AccessDeniedException', 500, 'upstream_forbidden'],
    ['AccessDeniedByMetaException', 403, 'forbidden_by_meta'],
    ['ThrottledRequestException', 429, 'throttled'],
    ['InternalServiceException', 503, 'unavailable'],
    ['DependencyException', 502, 'upstream_error'],
    ['SomethingNewException', 500, 'internal_error'],
  ])('maps %s to %i %s', (name, status, code) => {
    const e = fromAwsError(awsError(name));
    expect(e).toBeInstanceOf(ApiError);
    expect([httpStatusOf(e), e.code]).toEqual([status, code]);
  });

  it("passes AWS's reason for an invalid request on to the caller, shortened", () => {
    const e = fromAwsError(awsError('ValidationException', `Invalid destination phone number ${'x'.repeat(1000)}`));
    expect(String(e.details?.reason)).toMatch(/^Invalid destination phone number/);
    expect(String(e.details?.reason).length).toBeLessThanOrEqual(300);
  });

  it('keeps the message of our own IAM failure safe: no AWS text, no ARN', () => {
    const e = fromAwsError(awsError('AccessDeniedException', 'User arn:aws:sts::111122223333:assumed-role/x is not authorized'));
    expect(e.message).not.toContain('arn:');
    expect(e.details).toBeUndefined();
  });

  it('takes the retry delay of a throttle from Retry-After, and 1 second without it', () => {
    const withHeader = fromAwsError(awsError('ThrottledRequestException', 'slow', { 'retry-after': '7' }));
    const without = fromAwsError(awsError('ThrottledRequestException'));
    const garbage = fromAwsError(awsError('ThrottledRequestException', 'slow', { 'retry-after': 'soon' }));
    expect((withHeader as ThrottledError).retryAfterSeconds).toBe(7);
    expect(withHeader.details).toEqual({ retryAfterSeconds: 7 });
    expect((without as ThrottledError).retryAfterSeconds).toBe(1);
    expect((garbage as ThrottledError).retryAfterSeconds).toBe(1);
  });

  it('turns an unknown error into a 500 with a safe message that hides the original', () => {
    const body = toErrorBody(new TypeError('Cannot read properties of undefined (reading secretThing)'));
    expect(body).toEqual({ error: { code: 'internal_error', message: 'Internal error: the request could not be completed.' } });
  });

  it.each([undefined, null, 'boom', 42, { name: 'toString' }, { name: '__proto__' }])(
    'turns the thrown value %j into a 500',
    (thrown) => {
      expect([httpStatusOf(fromAwsError(thrown)), fromAwsError(thrown).code]).toEqual([500, 'internal_error']);
    },
  );

  it('returns an API error unchanged', () => {
    const e = new NotFoundError('No message with this id.', 'message_not_found');
    expect(fromAwsError(e)).toBe(e);
  });
});

describe('API errors and their body', () => {
  it.each([
    [new ValidationError('text body must not be empty', { path: 'text.body' }), 400, 'validation_error'],
    [new NotFoundError('No message with this id.'), 404, 'not_found'],
    [new ConflictError('Already there.'), 409, 'conflict'],
    [new WindowClosedError(), 409, 'window_closed'],
    [new IdempotencyKeyReuseError(), 422, 'idempotency_key_reused'],
    [new ThrottledError(3), 429, 'throttled'],
    [new UpstreamError(), 502, 'upstream_error'],
    [new UnavailableError(), 503, 'unavailable'],
    [new InternalError(), 500, 'internal_error'],
  ])('%s has status %i and code %s', (err, status, code) => {
    expect(err).toBeInstanceOf(Error);
    expect([httpStatusOf(err), err.code]).toEqual([status, code]);
    expect(err.name).toMatch(/Error$/);
    expect(err.message.length).toBeGreaterThan(10);
  });

  it('writes the validation path into details', () => {
    const body = toErrorBody(new ValidationError('text body must not be empty', { path: 'text.body' }));
    expect(body).toEqual({
      error: { code: 'validation_error', message: 'text body must not be empty', details: { path: 'text.body' } },
    });
  });

  it('leaves details out when there are none', () => {
    expect(toErrorBody(new UpstreamError())).toEqual({
      error: { code: 'upstream_error', message: 'WhatsApp did not answer the request: try again later.' },
    });
  });

  it('tells the caller to send a template when the window is closed', () => {
    const body = toErrorBody(new WindowClosedError({ windowExpiresAt: '2026-01-01T00:00:00.000Z' }));
    expect(body.error.details).toEqual({ action: 'send_template', windowExpiresAt: '2026-01-01T00:00:00.000Z' });
  });
});
