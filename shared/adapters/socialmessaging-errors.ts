/**
 * AWS End User Messaging Social's exceptions, translated for the domain: every table keyed by the
 * SDK's exception name lives here (the answer a caller gets, how a failed send leaves its message,
 * what a refused media download means), so that no file of the domain names an AWS exception.
 */
import {
  ApiError,
  ForbiddenError,
  InternalError,
  InvalidRequestError,
  NotFoundError,
  ThrottledError,
  UnavailableError,
  UpstreamError,
  WhatsAppFailure,
  type ErrorDetails,
  type WhatsAppFailureKind,
  type WhatsAppRefusal,
} from '../domain/errors.ts';

// ---------------------------------------------------------------------------------------------
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
 * or the network error or timeout on the way, with `cause` set to it, translated into the domain's
 * `WhatsAppFailure` (its kind by `SEND_FAILURE_BY_EXCEPTION`, its answer by `AWS_ERROR_POLICY`, a
 * download refusal by `DOWNLOAD_REFUSALS`). `name` stays the SDK's name (`ThrottledRequestException`,
 * `TimeoutError`…), for the log.
 */
export class WhatsAppServiceError extends WhatsAppFailure {
  /** The HTTP status AWS answered; undefined when no answer came back (network error, timeout). */
  readonly httpStatusCode: number | undefined;
  /** The Retry-After header of AWS's answer, as written. */
  readonly retryAfter: string | undefined;

  constructor(cause: unknown) {
    const e = (typeof cause === 'object' && cause !== null ? cause : {}) as AwsLikeError;
    const name = typeof e.name === 'string' && e.name !== '' ? e.name : 'Error';
    const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
    const refusal = Object.hasOwn(DOWNLOAD_REFUSALS, name) ? DOWNLOAD_REFUSALS[name] : undefined;
    super(typeof e.message === 'string' ? e.message : 'The call to AWS End User Messaging Social failed.', {
      name,
      kind: classifySendFailure(cause),
      answer: answerOfAws(e, status === undefined),
      ...(refusal && { refusal }),
      cause,
    });
    this.httpStatusCode = status;
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
  const header = err.$response?.headers?.['retry-after'];
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
  if (err instanceof WhatsAppServiceError) return err.answer;
  return answerOfAws((typeof err === 'object' && err !== null ? err : {}) as AwsLikeError, false);
}

/** The answer for an SDK exception (see `fromAwsError`); `noAnswer`: AWS never answered. */
function answerOfAws(e: AwsLikeError, noAnswer: boolean): ApiError {
  const make = typeof e.name === 'string' && Object.hasOwn(AWS_ERROR_POLICY, e.name) ? AWS_ERROR_POLICY[e.name] : undefined;
  if (make) return make(e);
  if (isAwsThrottle(e)) return AWS_ERROR_POLICY.ThrottledRequestException!(e);
  if (noAnswer) return new UpstreamError('AWS End User Messaging Social did not answer the request: try again later.');
  return new InternalError('internal_error', undefined, { cause: e });
}

/** How a failed send leaves its message, by exception name (facts §1.3, and AWS's authentication failures). */
export const SEND_FAILURE_BY_EXCEPTION: Readonly<Record<string, Exclude<WhatsAppFailureKind, 'unknown'>>> = {
  ValidationException: 'rejected',
  InvalidParametersException: 'rejected',
  LimitExceededException: 'rejected',
  AccessDeniedByMetaException: 'rejected',
  ThrottledRequestException: 'throttled',
  ResourceNotFoundException: 'not_sent',
  ...Object.fromEntries([...AWS_AUTH_ERRORS].map((name) => [name, 'not_sent' as const])),
};

/**
 * By name as above; an answer with HTTP 429 that the SDK does not model is `throttled`; anything
 * else (InternalServiceException, DependencyException, any other 4xx or 5xx, a network error, a
 * timeout) is `unknown`: AWS may have accepted the message.
 */
export function classifySendFailure(err: unknown): WhatsAppFailureKind {
  const name = typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined;
  if (typeof name === 'string' && Object.hasOwn(SEND_FAILURE_BY_EXCEPTION, name)) return SEND_FAILURE_BY_EXCEPTION[name]!;
  return isAwsThrottle(err) ? 'throttled' : 'unknown';
}

/**
 * GetWhatsAppMessageMedia errors that no retry can fix, by exception name. Every other error
 * (ThrottledRequest, Dependency, InternalService, AccessDenied, network) is retried: AccessDenied
 * is the backend's own IAM, which a fix to the stack heals.
 */
export const DOWNLOAD_REFUSALS: Readonly<Record<string, WhatsAppRefusal>> = {
  ResourceNotFoundException: 'not_found',
  AccessDeniedByMetaException: 'refused_by_meta',
  ValidationException: 'invalid_request',
  InvalidParametersException: 'invalid_request',
};
