/**
 * Errors of the HTTP API. Each has a stable snake_case `code`, an HTTP `status`, a message a person
 * can act on, and optional `details`. The body on the wire is `{"error": {code, message, details?}}`
 * (see `toErrorBody`). 5xx errors carry fixed, safe messages: what went wrong in detail belongs in
 * the log, not in the answer.
 *
 * Errors of AWS End User Messaging Social reach this module wrapped by its adapters
 * (`WhatsAppServiceError`) and are mapped by `err.name` in one table (`AWS_ERROR_POLICY`), so this
 * module needs no SDK import. Errors of other services (DynamoDB, S3) never go through that table:
 * the same exception name means something else there.
 */

export type ErrorDetails = Readonly<Record<string, unknown>>;

export interface ErrorBody {
  error: { code: string; message: string; details?: ErrorDetails };
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorDetails | undefined;

  constructor(status: number, code: string, message: string, details?: ErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export { fieldPath } from '../whatsapp/field-path.ts';

/** 400: the request body or a parameter fails validation; `details.path` names the field. */
export class ValidationError extends ApiError {
  constructor(message: string, details: { path: string } & Record<string, unknown>) {
    super(400, 'validation_error', message, details);
  }
}

/** 400: AWS (or Meta through AWS) rejected the request as invalid. */
export class InvalidRequestError extends ApiError {
  constructor(message: string, details?: ErrorDetails, code = 'invalid_request') {
    super(400, code, message, details);
  }
}

/** 403: refused by Meta (not by our own permissions, which are a 500: the caller cannot fix them). */
export class ForbiddenError extends ApiError {
  constructor(message: string, code = 'forbidden', details?: ErrorDetails) {
    super(403, code, message, details);
  }
}

/** 404. `code` names what is missing, e.g. `message_not_found`, `unknown_phone_number`. */
export class NotFoundError extends ApiError {
  constructor(message: string, code = 'not_found', details?: ErrorDetails) {
    super(404, code, message, details);
  }
}

/** 409: the request conflicts with the current state of a resource. */
export class ConflictError extends ApiError {
  constructor(message: string, code = 'conflict', details?: ErrorDetails) {
    super(409, code, message, details);
  }
}

/**
 * 409 `window_closed`: a non-template message to a user whose 24-hour customer-service window is
 * closed. 409 rather than 422 because the body itself is fine: it conflicts with the state of the
 * conversation, and the very same request succeeds once the user writes again. `details.action` is
 * `send_template`, as in the Meta error policy for 131047.
 */
export class WindowClosedError extends ConflictError {
  constructor(details?: { windowExpiresAt?: string } & Record<string, unknown>) {
    super(
      'The 24-hour customer-service window with this user is closed: only a template message can be sent until the user writes again.',
      'window_closed',
      { action: 'send_template', ...details },
    );
  }
}

/**
 * 422 `idempotency_key_reused`: the Idempotency-Key was already used with a different body.
 * (422 as in the IETF Idempotency-Key draft; a request still in progress with the same key is a
 * 409 `send_in_progress`, see the send use case.)
 */
export class IdempotencyKeyReuseError extends ApiError {
  constructor() {
    super(
      422,
      'idempotency_key_reused',
      'This Idempotency-Key was already used with a different request body: use a new key for a new request.',
    );
  }
}

/** 429: too many requests; `retryAfterSeconds` goes to the `Retry-After` header and to details. */
export class ThrottledError extends ApiError {
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number, message = 'Too many requests: slow down and retry after the indicated delay.') {
    super(429, 'throttled', message, { retryAfterSeconds });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** 500 with a safe message; the cause is for the log only. */
export class InternalError extends ApiError {
  constructor(code = 'internal_error', message = 'Internal error: the request could not be completed.', options?: { cause?: unknown }) {
    super(500, code, message, undefined, options);
  }
}

/** 502: WhatsApp (through AWS) failed to answer. */
export class UpstreamError extends ApiError {
  constructor(message = 'WhatsApp did not answer the request: try again later.', code = 'upstream_error') {
    super(502, code, message);
  }
}

/** 503: a service this backend depends on is unavailable for now. */
export class UnavailableError extends ApiError {
  constructor(message = 'The messaging service is temporarily unavailable: try again later.', code = 'unavailable') {
    super(503, code, message);
  }
}

// ---------------------------------------------------------------------------------------------
// AWS End User Messaging Social (socialmessaging) exceptions, by `err.name`
// ---------------------------------------------------------------------------------------------

/** The parts of an SDK exception this module reads; structural, so no SDK import. */
export interface AwsLikeError {
  name?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $response?: { headers?: Record<string, string | undefined> };
}

/**
 * A failed call to AWS End User Messaging Social, as its adapters throw it: the SDK's exception,
 * or the network error or timeout on the way, with `cause` set to it. `name` stays the SDK's
 * name (`ThrottledRequestException`, `TimeoutError`…), so tables keyed by name and logs keep
 * working; the class is what tells `toApiError` that `AWS_ERROR_POLICY` applies.
 */
export class WhatsAppServiceError extends Error {
  /** The HTTP status AWS answered; undefined when no answer came back (network error, timeout). */
  readonly httpStatusCode: number | undefined;
  /** The Retry-After header of AWS's answer, as written. */
  readonly retryAfter: string | undefined;

  constructor(cause: unknown) {
    const e = (typeof cause === 'object' && cause !== null ? cause : {}) as AwsLikeError;
    super(typeof e.message === 'string' ? e.message : 'The call to AWS End User Messaging Social failed.', { cause });
    this.name = typeof e.name === 'string' && e.name !== '' ? e.name : 'Error';
    const status = e.$metadata?.httpStatusCode;
    this.httpStatusCode = typeof status === 'number' ? status : undefined;
    this.retryAfter = e.$response?.headers?.['retry-after'];
  }
}

const DEFAULT_RETRY_AFTER_SECONDS = 1;
const MAX_REASON_LENGTH = 300;

/** AWS's own message on a 4xx, shortened: it tells the caller which parameter AWS did not like. */
function awsReason(err: AwsLikeError): ErrorDetails | undefined {
  return typeof err.message === 'string' && err.message !== ''
    ? { reason: err.message.slice(0, MAX_REASON_LENGTH) }
    : undefined;
}

function retryAfterOf(err: AwsLikeError): number {
  const header = err instanceof WhatsAppServiceError ? err.retryAfter : err.$response?.headers?.['retry-after'];
  const seconds = header !== undefined && /^\d+$/.test(header.trim()) ? Number(header) : Number.NaN;
  return Number.isFinite(seconds) && seconds > 0 ? seconds : DEFAULT_RETRY_AFTER_SECONDS;
}

/** The HTTP status of AWS's answer; undefined when none came back (network error, timeout). */
export function awsHttpStatus(err: unknown): number | undefined {
  if (err instanceof WhatsAppServiceError) return err.httpStatusCode;
  const status = (typeof err === 'object' && err !== null ? (err as AwsLikeError) : {}).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/**
 * A throttle by AWS: `ThrottledRequestException`, or any answer with HTTP 429 (a throttle the SDK
 * does not model, e.g. from AWS's front door). AWS accepted nothing.
 */
export function isAwsThrottle(err: unknown): boolean {
  const name = typeof err === 'object' && err !== null ? (err as AwsLikeError).name : undefined;
  return name === 'ThrottledRequestException' || awsHttpStatus(err) === 429;
}

/**
 * Exceptions with which AWS's front door refuses a request it could not authenticate or authorize
 * (common to every AWS service, not modelled by the socialmessaging SDK, but for AccessDenied): the
 * request went no further, and our own credentials, signing or IAM permissions are at fault, so the
 * caller gets a 500.
 */
export const AWS_AUTH_ERRORS: ReadonlySet<string> = new Set([
  'AccessDeniedException',
  'ExpiredTokenException',
  'ExpiredToken',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'IncompleteSignature',
  'IncompleteSignatureException',
  'InvalidSignatureException',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
]);

const notAuthenticated = () =>
  new InternalError(
    'upstream_unauthenticated',
    'AWS End User Messaging Social did not accept the credentials of the backend: its credentials or request signing need fixing.',
  );

/** The policy for each socialmessaging exception (facts §1.3), and AWS's authentication failures. */
export const AWS_ERROR_POLICY: Readonly<Record<string, (err: AwsLikeError) => ApiError>> = {
  ValidationException: (e) =>
    new InvalidRequestError('WhatsApp (through AWS End User Messaging Social) rejected the request as invalid.', awsReason(e)),
  InvalidParametersException: (e) =>
    new InvalidRequestError('WhatsApp (through AWS End User Messaging Social) rejected a parameter of the request.', awsReason(e)),
  LimitExceededException: (e) =>
    new InvalidRequestError('An AWS End User Messaging Social quota was reached.', awsReason(e), 'limit_exceeded'),
  ResourceNotFoundException: () =>
    new NotFoundError(
      'The business phone number is not linked to AWS End User Messaging Social in this account and Region.',
      'unknown_phone_number',
    ),
  AccessDeniedException: () =>
    new InternalError(
      'upstream_forbidden',
      'The backend is not allowed to call AWS End User Messaging Social: its IAM permissions need fixing.',
    ),
  AccessDeniedByMetaException: () =>
    new ForbiddenError(
      'Meta refused the request: check the WhatsApp Business Account, the template or the media permissions.',
      'forbidden_by_meta',
    ),
  ThrottledRequestException: (e) =>
    new ThrottledError(retryAfterOf(e), 'AWS End User Messaging Social is throttling requests: retry after the indicated delay.'),
  InternalServiceException: () => new UnavailableError(),
  DependencyException: () => new UpstreamError(),
  ...Object.fromEntries([...AWS_AUTH_ERRORS].filter((name) => name !== 'AccessDeniedException').map((name) => [name, notAuthenticated])),
};

/**
 * Maps an error of the socialmessaging client by `AWS_ERROR_POLICY`. Only for errors known to come
 * from that client (`toApiError` calls it for `WhatsAppServiceError`s). A name the table does not
 * know becomes a 429 when AWS answered HTTP 429, a 502 when AWS never answered (network error,
 * timeout), else a safe 500.
 */
export function fromAwsError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as AwsLikeError;
  const make = typeof e.name === 'string' && Object.hasOwn(AWS_ERROR_POLICY, e.name) ? AWS_ERROR_POLICY[e.name] : undefined;
  if (make) return make(e);
  if (isAwsThrottle(err)) return AWS_ERROR_POLICY.ThrottledRequestException!(e);
  if (err instanceof WhatsAppServiceError && err.httpStatusCode === undefined) {
    return new UpstreamError('AWS End User Messaging Social did not answer the request: try again later.');
  }
  return new InternalError('internal_error', undefined, { cause: err });
}

/**
 * Exception names with which DynamoDB and S3 say "too busy right now, retry": a 503 the caller
 * may retry, not a failure of the request.
 */
export const STORE_BUSY_ERRORS: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'SlowDown',
]);

/** 503 `store_unavailable`: DynamoDB or S3 is too busy to answer now. */
export function storeBusy(): UnavailableError {
  return new UnavailableError("The backend's storage is busy: try again shortly.", 'store_unavailable');
}

/**
 * Any thrown value as an ApiError: ApiErrors unchanged; End User Messaging Social failures
 * (`WhatsAppServiceError`) by `AWS_ERROR_POLICY`; a busy store (`STORE_BUSY_ERRORS`) → 503
 * `store_unavailable`; anything else a 500 with a safe message.
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof WhatsAppServiceError) return fromAwsError(err);
  const name = (typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined);
  if (typeof name === 'string' && STORE_BUSY_ERRORS.has(name)) return storeBusy();
  return new InternalError('internal_error', undefined, { cause: err });
}

/** The JSON error body of the contract. */
export function toErrorBody(err: unknown): ErrorBody {
  const e = toApiError(err);
  return {
    error: {
      code: e.code,
      message: e.message,
      ...(e.details !== undefined ? { details: e.details } : {}),
    },
  };
}
