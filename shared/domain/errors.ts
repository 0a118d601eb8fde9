/**
 * The errors a use case answers its caller with. Each has a stable snake_case `code`, a `kind` (what
 * went wrong, in the domain's words), a message a person can act on, and optional `details`. No
 * HTTP status: the HTTP API maps the kind to one in `lambdas/api/http-errors.ts`, the one place
 * that answers failures over HTTP. The body on the wire is `{"error": {code, message, details?}}`.
 * Errors of kind `internal`, `no_answer` and `unavailable` carry fixed, safe messages: what went
 * wrong in detail belongs in the log, not in the answer.
 *
 * Failures of AWS End User Messaging Social reach the domain translated by its adapters
 * (`WhatsAppFailure`, with a kind and an answer; see shared/adapters/socialmessaging-errors.ts):
 * nothing here names an AWS exception.
 */

export type ErrorDetails = Readonly<Record<string, unknown>>;

export interface ErrorBody {
  error: { code: string; message: string; details?: ErrorDetails };
}

/**
 * What went wrong, as the caller must understand it:
 * - `invalid`: the request is malformed or refused as such; the same request fails again.
 * - `forbidden`: refused by Meta's own permissions (not ours: those are `internal`).
 * - `not_found`: what the request names does not exist.
 * - `conflict`: the request is fine but conflicts with the current state; it may succeed later.
 * - `gone`: it existed but is lost for good.
 * - `unprocessable`: well-formed but not acceptable (a key reused with another body, a file WhatsApp refuses).
 * - `throttled`: too many requests; retry after a delay.
 * - `internal`: this backend failed (a bug, its permissions); the caller cannot fix it.
 * - `no_answer`: WhatsApp (through AWS) did not answer.
 * - `unavailable`: a service this backend depends on is busy or down for now.
 */
export type ErrorKind =
  | 'invalid'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'gone'
  | 'unprocessable'
  | 'throttled'
  | 'internal'
  | 'no_answer'
  | 'unavailable';

export class ApiError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly details: ErrorDetails | undefined;

  constructor(kind: ErrorKind, code: string, message: string, details?: ErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.kind = kind;
    this.code = code;
    this.details = details;
  }
}

export { fieldPath } from '../whatsapp/field-path.ts';

/** `invalid`: the request body or a parameter fails validation; `details.path` names the field. */
export class ValidationError extends ApiError {
  constructor(message: string, details: { path: string } & Record<string, unknown>) {
    super('invalid', 'validation_error', message, details);
  }
}

/** `invalid`: AWS (or Meta through AWS) rejected the request as invalid. */
export class InvalidRequestError extends ApiError {
  constructor(message: string, details?: ErrorDetails, code = 'invalid_request') {
    super('invalid', code, message, details);
  }
}

/** `forbidden`: refused by Meta (not by our own permissions, which are `internal`: the caller cannot fix them). */
export class ForbiddenError extends ApiError {
  constructor(message: string, code = 'forbidden', details?: ErrorDetails) {
    super('forbidden', code, message, details);
  }
}

/** `not_found`. `code` names what is missing, e.g. `message_not_found`, `unknown_phone_number`. */
export class NotFoundError extends ApiError {
  constructor(message: string, code = 'not_found', details?: ErrorDetails) {
    super('not_found', code, message, details);
  }
}

/** `conflict`: the request conflicts with the current state of a resource. */
export class ConflictError extends ApiError {
  constructor(message: string, code = 'conflict', details?: ErrorDetails) {
    super('conflict', code, message, details);
  }
}

/**
 * `conflict` `window_closed`: a non-template message to a user whose 24-hour customer-service
 * window is closed. A conflict rather than `unprocessable` because the body itself is fine: it
 * conflicts with the state of the conversation, and the very same request succeeds once the user
 * writes again. `details.action` is `send_template`, as in the Meta error policy for 131047.
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
 * `unprocessable` `idempotency_key_reused`: the Idempotency-Key was already used with a different
 * body (as in the IETF Idempotency-Key draft; a request still in progress with the same key is a
 * `send_in_progress` conflict, see the send use case).
 */
export class IdempotencyKeyReuseError extends ApiError {
  constructor() {
    super(
      'unprocessable',
      'idempotency_key_reused',
      'This Idempotency-Key was already used with a different request body: use a new key for a new request.',
    );
  }
}

/** `throttled`: too many requests; `retryAfterSeconds` goes to the `Retry-After` header and to details. */
export class ThrottledError extends ApiError {
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number, message = 'Too many requests: slow down and retry after the indicated delay.') {
    super('throttled', 'throttled', message, { retryAfterSeconds });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** `internal`, with a safe message; the cause is for the log only. */
export class InternalError extends ApiError {
  constructor(code = 'internal_error', message = 'Internal error: the request could not be completed.', options?: { cause?: unknown }) {
    super('internal', code, message, undefined, options);
  }
}

/** `no_answer`: WhatsApp (through AWS) failed to answer. */
export class UpstreamError extends ApiError {
  constructor(message = 'WhatsApp did not answer the request: try again later.', code = 'upstream_error') {
    super('no_answer', code, message);
  }
}

/** `unavailable`: a service this backend depends on is unavailable for now. */
export class UnavailableError extends ApiError {
  constructor(message = 'The messaging service is temporarily unavailable: try again later.', code = 'unavailable') {
    super('unavailable', code, message);
  }
}

// ---------------------------------------------------------------------------------------------
// Failures of WhatsApp (through AWS End User Messaging Social), as the adapters report them
// ---------------------------------------------------------------------------------------------

/**
 * How a failed call to WhatsApp leaves a message:
 * - `rejected`: the request itself was refused as bad, so nothing was sent and sending the same
 *   request again cannot help.
 * - `throttled`: nothing was accepted, and will be again soon.
 * - `not_sent`: refused before the message was looked at, for a reason outside the request (the
 *   backend's own permissions or credentials, a phone number not linked here): nothing was sent,
 *   and once an operator fixes it the same request may go through.
 * - `unknown`: anything else may hide an accepted message (in doubt).
 */
export type WhatsAppFailureKind = 'rejected' | 'throttled' | 'not_sent' | 'unknown';

/** What WhatsApp refused a media download for, when it said so (no retry can fix these). */
export type WhatsAppRefusal = 'not_found' | 'refused_by_meta' | 'invalid_request';

/**
 * A failed call to WhatsApp, translated by the adapter that made it: its kind, the answer the caller
 * gets, and for a refusal what was refused. `name` stays the service's own name, for the log.
 */
export class WhatsAppFailure extends Error {
  readonly kind: WhatsAppFailureKind;
  readonly answer: ApiError;
  readonly refusal: WhatsAppRefusal | undefined;

  constructor(message: string, failure: { name: string; kind: WhatsAppFailureKind; answer: ApiError; refusal?: WhatsAppRefusal; cause?: unknown }) {
    super(message, { cause: failure.cause });
    this.name = failure.name;
    this.kind = failure.kind;
    this.answer = failure.answer;
    this.refusal = failure.refusal;
  }
}

/** How a thrown value leaves a message: a WhatsApp failure by its kind, anything else in doubt. */
export const failureKindOf = (err: unknown): WhatsAppFailureKind => (err instanceof WhatsAppFailure ? err.kind : 'unknown');

/** The answer for a thrown value: an ApiError as it is, a WhatsApp failure's own, else a safe `internal` error. */
export function answerOf(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof WhatsAppFailure) return err.answer;
  return new InternalError('internal_error', undefined, { cause: err });
}

/** `unavailable` `store_unavailable`: DynamoDB or S3 is too busy to answer now. */
export function storeBusy(): UnavailableError {
  return new UnavailableError("The backend's storage is busy: try again shortly.", 'store_unavailable');
}

