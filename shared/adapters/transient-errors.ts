/**
 * Which failures of AWS (and of the network under it) a retry can cure: throttling, timeouts,
 * network errors and 5xx answers. Anything else is permanent: the same work would fail the same way
 * on every try. The one place that names those exceptions for the inbound path; the domain only
 * hears the verdict (the `TransientVerdict` port), so it names no AWS exception.
 * Works on the plain shape of AWS SDK errors (`name`, `$retryable`, `$metadata`, `code`).
 */

/** Exception names with which AWS services say "busy or briefly broken: retry". */
const TRANSIENT_NAMES: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'TransactionConflictException',
  'TransactionInProgressException',
  'InternalServerError',
  'InternalFailure',
  'InternalError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'AbortError',
]);

/** Reasons of a cancelled DynamoDB transaction that a retry can cure. */
const TRANSIENT_CANCELLATIONS: ReadonlySet<string> = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded']);

/** Socket-level errors: nothing was answered. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  CancellationReasons?: Array<{ Code?: unknown }>;
  cause?: unknown;
}

/** Whether retrying the same work later may succeed (a `TransientVerdict`). */
export function isTransientFailure(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 3) return false;
  const e = err as ErrorShape;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status >= 500 || status === 429)) return true;
  if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  if (e.name === 'TransactionCanceledException' && Array.isArray(e.CancellationReasons)) {
    const codes = e.CancellationReasons.map((r) => r?.Code);
    return codes.some((c) => typeof c === 'string' && TRANSIENT_CANCELLATIONS.has(c)) && !codes.includes('ValidationError');
  }
  // A wrapper (PermanentWriteError aside) says what it wraps.
  return e.name !== 'PermanentWriteError' && e.cause !== undefined && isTransientFailure(e.cause, depth + 1);
}
