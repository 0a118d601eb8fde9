/**
 * Powertools logger and tracer, from one module. Log lines carry ids and counts only: never a phone
 * number or a message body.
 */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'whatsapp-backend' });

/**
 * An error as a log attribute without what could identify a user: AWS messages may quote a phone
 * number or an item value, so runs of 6+ digits become `#`s, and the cause chain is kept by name.
 */
export function safeError(err: unknown): { name: string; message: string; stack?: string; cause?: string } {
  const e = err instanceof Error ? err : new Error(String(err));
  const scrub = (text: string) => text.replace(/\+?\d[\d\s-]{5,}\d/g, '######');
  const cause = e.cause instanceof Error ? e.cause.name : undefined;
  return {
    name: e.name,
    message: scrub(e.message),
    ...(e.stack !== undefined && { stack: scrub(e.stack) }),
    ...(cause !== undefined && { cause }),
  };
}
