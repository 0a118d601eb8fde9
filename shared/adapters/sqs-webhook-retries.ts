/**
 * The retry queue of webhook jobs: each job waits with DelaySeconds (at most SQS's 15 minutes; a
 * job due later is received early and put back to wait again, see runJobs).
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeliveryJob } from '../domain/webhooks.ts';
import type { RetryQueue } from '../ports/webhooks.ts';

const MAX_DELAY_SECONDS = 900;

export class SqsRetryQueue implements RetryQueue {
  private readonly sqs: SQSClient;
  private readonly queueUrl: string;
  constructor(sqs: SQSClient, queueUrl: string) {
    this.sqs = sqs;
    this.queueUrl = queueUrl;
  }
  async schedule(jobs: readonly DeliveryJob[], nowMs: number): Promise<void> {
    for (let i = 0; i < jobs.length; i += 10) {
      let pending = jobs.slice(i, i + 10);
      for (let attempt = 1; pending.length; attempt++) {
        const out = await this.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: pending.map((job, n) => ({
              Id: String(n),
              MessageBody: JSON.stringify(job),
              DelaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil((job.dueAtMs - nowMs) / 1000))),
            })),
          }),
        );
        const failed = new Set((out.Failed ?? []).map((f) => Number(f.Id)));
        pending = pending.filter((_, n) => failed.has(n));
        if (pending.length && attempt >= 3) throw new Error(`${pending.length} webhook jobs could not be queued`);
      }
    }
  }
}
