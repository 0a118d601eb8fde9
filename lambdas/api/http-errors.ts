/**
 * Every failure as the HTTP API answers it: the one place that turns what a use case or an adapter
 * threw into a status, a stable code and the contract's body `{"error": {code, message, details?}}`.
 * 5xx answers carry fixed, safe messages: what went wrong in detail belongs in the log.
 */
import { ApiError, answerOf, storeBusy, WhatsAppFailure, type ErrorBody } from '../../shared/domain/errors.ts';
import { isStoreBusy } from '../../shared/adapters/store-errors.ts';

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
