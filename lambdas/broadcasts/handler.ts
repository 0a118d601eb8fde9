/**
 * Broadcast sends: SQS jobs (one per recipient) → `Broadcasts.process`, which paces the number,
 * sends once and records the outcome. A job that must come back (throttled, store busy) is reported
 * as a batch item failure; so is a malformed job, which SQS then moves to the queue's DLQ after
 * `maxReceiveCount` deliveries (quarantined, never dropped).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import type { Broadcasts } from '../../shared/domain/broadcasts.ts';
import { logger } from '../../shared/observability.ts';
import { onFirstUse } from '../../shared/lazy.ts';

const BroadcastId = z.string().regex(/^bc_[0-9a-f]{32}$/);
const JobSchema = z.object({ broadcastId: BroadcastId, to: z.string().regex(/^[0-9]{5,20}$/), seq: z.int().min(0) });
/** A broadcast to complete once every recipient is done. */
const SettleJobSchema = z.object({ broadcastId: BroadcastId, settle: z.literal(true) });
/** A page of an uploaded recipient list to load. */
const LoadJobSchema = z.object({
  broadcastId: BroadcastId,
  load: z.object({ offset: z.int().min(0), line: z.int().min(0), skipPartial: z.boolean().optional(), accepted: z.int().min(0).optional() }),
});

/** A queue message that is no broadcast job: failed, never acknowledged. */
export class MalformedJobError extends Error {
  constructor(sqsMessageId: string) {
    super(`SQS message ${sqsMessageId} is not a broadcast job (a send, a page to load or a settle): left for the dead-letter queue`);
    this.name = 'MalformedJobError';
  }
}

export function makeHandler(broadcasts: () => Broadcasts) {
  const recordHandler = async (record: SQSRecord) => {
    let job;
    try {
      const body = JSON.parse(record.body);
      job = body && typeof body === 'object' && 'load' in body ? LoadJobSchema.parse(body) : body && typeof body === 'object' && 'settle' in body ? SettleJobSchema.parse(body) : JobSchema.parse(body);
    } catch {
      // Never dropped: it fails, so SQS delivers it again and then moves it to the queue's DLQ,
      // where it waits to be looked at (and redriven once fixed).
      logger.error('malformed broadcast job: left for the dead-letter queue', { sqsMessageId: record.messageId, receiveCount: record.attributes.ApproximateReceiveCount });
      throw new MalformedJobError(record.messageId);
    }
    await broadcasts().handle(job);
  };
  return async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const processor = new BatchProcessor(EventType.SQS);
    return processPartialResponse(event, recordHandler, processor, { context });
  };
}

// The adapters and SDK clients are imported on the first invocation (shared/lazy.ts).
const wiring = onFirstUse(async () => (await import('./wiring.ts')).broadcasts());
let built: Broadcasts | undefined;
const wired = makeHandler(() => built!);
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  built ??= await wiring();
  return wired(event, context);
};
