/** DynamoDB's and S3's own word for "busy": the one place that names those exceptions. */

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

/** Whether a thrown value is DynamoDB or S3 saying it is too busy right now. */
export function isStoreBusy(err: unknown): boolean {
  const name = typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined;
  return typeof name === 'string' && STORE_BUSY_ERRORS.has(name);
}
