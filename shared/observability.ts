/**
 * The Powertools logger, from one module. Log lines carry ids and counts only: never a phone
 * number or a message body.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { SERVICE_NAME } from './metric-names.ts';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });

/** Phone-number-like runs: 6 or more digits, with the spaces, dashes, dots and brackets people write. */
const PHONE_LIKE = /\+?\(?\d[\d\s().-]{4,}\d/g;
const scrub = (text: string) => text.replace(PHONE_LIKE, '######');

/**
 * An error as a log attribute without what could identify a user: AWS messages may quote a phone
 * number or an item value, so phone-like digit runs become `######`. The cause chain is kept (each
 * name and scrubbed message), since the step that failed is often named there.
 */
export function safeError(err: unknown): { name: string; message: string; stack?: string; causes?: Array<{ name: string; message: string }> } {
  const e = err instanceof Error ? err : new Error(String(err));
  const causes: Array<{ name: string; message: string }> = [];
  for (let c = e.cause, depth = 0; c instanceof Error && depth < 5; c = c.cause, depth++) {
    causes.push({ name: c.name, message: scrub(c.message) });
  }
  return {
    name: e.name,
    message: scrub(e.message),
    ...(e.stack !== undefined && { stack: scrub(e.stack) }),
    ...(causes.length > 0 && { causes }),
  };
}

/** At most this many ids of one kind in a log line: a batch of 100 records stays one readable line. */
export const LOGGED_IDS_MAX = 100;

/** Ids for a log line: each once, in order, at most {@link LOGGED_IDS_MAX}. */
export function loggedIds(ids: Iterable<string | undefined>): string[] {
  const unique = new Set<string>();
  for (const id of ids) {
    if (id === undefined || id === '') continue;
    if (unique.size >= LOGGED_IDS_MAX) break;
    unique.add(id);
  }
  return [...unique];
}
