/**
 * Every failure as the HTTP API answers it: the one place that turns what a use case or an adapter
 * threw into a status, a stable code and the contract's body `{"error": {code, message, details?}}`.
 * The domain's errors carry a kind and a code, no status: the status of each kind is here.
 * 5xx answers carry fixed, safe messages: what went wrong in detail belongs in the log.
 */
import { ApiError, answerOf, storeBusy, WhatsAppFailure, type ErrorBody, type ErrorKind } from '../../shared/domain/errors.ts';
import { isStoreBusy } from '../../shared/adapters/store-errors.ts';

/** The HTTP status of each kind of failure. */
export const HTTP_STATUS_OF_KIND: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  unprocessable: 422,
  throttled: 429,
  internal: 500,
  no_answer: 502,
  unavailable: 503,
};

/**
 * A refusal of the request as HTTP, before any use case runs (a method the route does not take, a
 * body too large, a path the router cannot read): the edge's own errors, with their own status.
 */
export class HttpRefusal extends ApiError {
  readonly status: number;

  constructor(status: number, code: string, message: string) {
    super('invalid', code, message);
    this.status = status;
  }
}

/** The HTTP status an error is answered with. */
export const httpStatusOf = (e: ApiError): number => (e instanceof HttpRefusal ? e.status : HTTP_STATUS_OF_KIND[e.kind]);

/**
 * Any thrown value as an ApiError: ApiErrors unchanged; failures of WhatsApp by the answer their
 * adapter gave them; a busy store → 503 `store_unavailable`; anything else a 500 with a safe message.
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError || err instanceof WhatsAppFailure) return answerOf(err);
  return isStoreBusy(err) ? storeBusy() : answerOf(err);
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
