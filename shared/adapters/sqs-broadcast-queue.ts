/** The broadcast send queue on SQS: one job per (broadcast, recipient), ten per SendMessageBatch. */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { BroadcastJob, SettleJob } from '../domain/broadcasts.ts';
import type { RecipientsLoadJob } from '../domain/broadcast-uploads.ts';
import type { BroadcastQueue } from '../ports/broadcasts.ts';

export class SqsBroadcastQueue implements BroadcastQueue {
  private readonly sqs: SQSClient;
  private readonly queueUrl: string;
  constructor(sqs: SQSClient, queueUrl: string) {
    this.sqs = sqs;
    this.queueUrl = queueUrl;
  }

  async enqueue(jobs: readonly (BroadcastJob | RecipientsLoadJob | SettleJob)[], opts: { delayMs?: number } = {}): Promise<void> {
    const delay = Math.min(900, Math.max(0, Math.ceil((opts.delayMs ?? 0) / 1000)));
    const batches: (BroadcastJob | RecipientsLoadJob | SettleJob)[][] = [];
    for (let i = 0; i < jobs.length; i += 10) batches.push(jobs.slice(i, i + 10));
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        let pending = batches[next++]!.map((job, i) => ({ Id: String(i), MessageBody: JSON.stringify(job), ...(delay > 0 && { DelaySeconds: delay }) }));
        // A batch may be accepted in part: the rest is sent again (jobs are idempotent).
        for (let attempt = 0; pending.length > 0; attempt++) {
          const out = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: pending }));
          const failed = new Set((out.Failed ?? []).map((f) => f.Id));
          pending = pending.filter((e) => failed.has(e.Id));
          if (pending.length && attempt >= 4) throw new Error(`broadcast jobs not enqueued: ${pending.length} refused by SQS`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, batches.length) }, worker));
  }
}
