/**
 * Publishes domain events to the events topic with PublishBatch: up to 10 entries and 256 KiB per
 * request. Entries SNS refuses as retryable (or the request as a whole, throttled or unreachable)
 * are tried again with backoff; what is left after that is answered as failed.
 */
import { PublishBatchCommand, type PublishBatchRequestEntry, type SNSClient } from '@aws-sdk/client-sns';
import { eventAttributes, type DomainEvent } from '../domain/events.ts';
import type { EventPublisher } from '../ports/events.ts';

const MAX_ENTRIES = 10;
/** SNS's limit on a whole PublishBatch request (and on one message). */
export const MAX_BATCH_BYTES = 256 * 1024;
const ATTEMPTS = 4;

function entryOf(event: DomainEvent, index: number): { entry: PublishBatchRequestEntry; bytes: number } {
  const message = JSON.stringify(event);
  const attrs = eventAttributes(event);
  const entry: PublishBatchRequestEntry = {
    Id: String(index),
    Message: message,
    MessageAttributes: Object.fromEntries(
      Object.entries(attrs).map(([name, value]) => [name, { DataType: 'String', StringValue: value }]),
    ),
  };
  const bytes = Buffer.byteLength(message) + Object.entries(attrs).reduce((n, [k, v]) => n + k.length + 6 + Buffer.byteLength(v!), 0);
  return { entry, bytes };
}

/** Groups events into requests of at most 10 entries and 256 KiB; a lone oversized event is its own group. */
export function batchesOf(events: readonly DomainEvent[]): DomainEvent[][] {
  const out: DomainEvent[][] = [];
  let current: DomainEvent[] = [];
  let bytes = 0;
  for (const e of events) {
    const size = entryOf(e, 0).bytes;
    if (current.length && (current.length >= MAX_ENTRIES || bytes + size > MAX_BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(e);
    bytes += size;
  }
  if (current.length) out.push(current);
  return out;
}

export class SnsEventPublisher implements EventPublisher {
  private readonly sns: SNSClient;
  private readonly topicArn: string;
  private readonly sleep: (ms: number) => Promise<void>;
  constructor(sns: SNSClient, topicArn: string, opts: { sleep?: (ms: number) => Promise<void> } = {}) {
    this.sns = sns;
    this.topicArn = topicArn;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async publish(events: readonly DomainEvent[]): Promise<{ failed: DomainEvent[] }> {
    const failed: DomainEvent[] = [];
    await Promise.all(batchesOf(events).map(async (batch) => failed.push(...(await this.publishBatch(batch)))));
    return { failed };
  }

  private async publishBatch(batch: DomainEvent[]): Promise<DomainEvent[]> {
    let pending = batch;
    for (let attempt = 1; pending.length && attempt <= ATTEMPTS; attempt++) {
      if (attempt > 1) await this.sleep(50 * 2 ** attempt);
      if (pending.length === 1 && entryOf(pending[0]!, 0).bytes > MAX_BATCH_BYTES) return pending;
      const entries = pending.map((e, i) => entryOf(e, i).entry);
      try {
        const out = await this.sns.send(new PublishBatchCommand({ TopicArn: this.topicArn, PublishBatchRequestEntries: entries }));
        const retry = new Set<number>();
        const permanent = new Set<number>();
        for (const f of out.Failed ?? []) (f.SenderFault ? permanent : retry).add(Number(f.Id));
        // A sender fault (too large, invalid) does not improve with retries: fail it now.
        const next = pending.filter((_, i) => retry.has(i));
        const given = pending.filter((_, i) => permanent.has(i));
        if (given.length) return [...given, ...(await this.publishBatch(next))];
        pending = next;
      } catch (err) {
        // A refused request (denied, invalid, no such topic) fails the same way again; throttling
        // and server or network faults are retried.
        const e = err as { $fault?: string; name?: string };
        if (e.$fault === 'client' && !/Throttl/.test(e.name ?? '')) return pending;
      }
    }
    return pending;
  }
}
