/**
 * Errors of the HTTP API. Each has a stable snake_case `code`, an HTTP `status`, a message a person
 * can act on, and optional `details`. The body on the wire is `{"error": {code, message, details?}}`
 * (see `toErrorBody`). 5xx errors carry fixed, safe messages: what went wrong in detail belongs in
 * the log, not in the answer.
 *
 * Failures of AWS End User Messaging Social reach the domain translated by its adapters
 * (`WhatsAppFailure`, with a kind and an answer; see shared/adapters/socialmessaging-errors.ts):
 * nothing here names an AWS exception. The HTTP API answers every error in `lambdas/api/http-errors.ts`.
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

/** The answer for a thrown value: an ApiError as it is, a WhatsApp failure's own, else a safe 500. */
export function answerOf(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof WhatsAppFailure) return err.answer;
  return new InternalError('internal_error', undefined, { cause: err });
}

/** 503 `store_unavailable`: DynamoDB or S3 is too busy to answer now. */
export function storeBusy(): UnavailableError {
  return new UnavailableError("The backend's storage is busy: try again shortly.", 'store_unavailable');
}

