/**
 * DynamoDB cancels a transaction that touches an item another transaction is writing at the same
 * moment (`TransactionConflict`), e.g. two messages of one conversation processed side by side, and
 * refuses a plain write to such an item (`TransactionConflictException`).
 * The other writer has just finished, so a short, jittered retry here is cheaper than sending the
 * whole event back to its queue for a visibility timeout.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';

export const CONFLICT_ATTEMPTS = 4;

function isConflictOnly(err: unknown): boolean {
  // A single-item write on an item a transaction is writing fails this way; the SDK does not retry it.
  if (err instanceof Error && err.name === 'TransactionConflictException') return true;
  if (!(err instanceof TransactionCanceledException)) return false;
  const codes = (err.CancellationReasons ?? []).map((r) => r.Code);
  // A failed condition is an answer, not a race: the caller handles it.
  return codes.includes('TransactionConflict') && !codes.includes('ConditionalCheckFailed');
}

export async function retryTransactionConflicts<T>(
  op: () => Promise<T>,
  opts: { attempts?: number; baseDelayMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<T> {
  const attempts = opts.attempts ?? CONFLICT_ATTEMPTS;
  const base = opts.baseDelayMs ?? 20;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (attempt >= attempts || !isConflictOnly(err)) throw err;
      await sleep(base * 2 ** (attempt - 1) * (0.5 + Math.random()));
    }
  }
}
