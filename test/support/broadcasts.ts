/**
 * Broadcasts wired as in the Lambda on a DynamoDB Local table (the send world of `send.ts`, whose
 * socialmessaging client the caller mocks), with an in-memory job queue that keeps each job's due
 * time and a clock that `sleep` moves forward.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbBroadcasts } from '../../shared/adapters/dynamodb-broadcasts.ts';
import { Broadcasts, BroadcastFeedback, type BroadcastJob, type BroadcastPacingDeps, type SettleJob } from '../../shared/domain/broadcasts.ts';
import type { MessageSender } from '../../shared/domain/send-message.ts';
import type { BroadcastQueue } from '../../shared/ports/broadcasts.ts';
import type { SendWorld } from './send.ts';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';

/** Jobs waiting, each with the time it becomes visible. */
export class MemoryQueue implements BroadcastQueue {
  readonly jobs: Array<{ job: BroadcastJob | SettleJob; dueMs: number }> = [];
  readonly delays: number[] = [];
  private readonly clock: { now: number };
  constructor(clock: { now: number }) {
    this.clock = clock;
  }
  async enqueue(jobs: readonly (BroadcastJob | SettleJob)[], opts: { delayMs?: number } = {}): Promise<void> {
    for (const job of jobs) this.jobs.push({ job, dueMs: this.clock.now + (opts.delayMs ?? 0) });
    if (opts.delayMs) this.delays.push(opts.delayMs);
  }
  /** The next job by due time (taken off the queue). */
  take(): { job: BroadcastJob | SettleJob; dueMs: number } | undefined {
    if (!this.jobs.length) return undefined;
    let best = 0;
    this.jobs.forEach((j, i) => {
      if (j.dueMs < this.jobs[best]!.dueMs) best = i;
    });
    return this.jobs.splice(best, 1)[0];
  }
}

export interface BroadcastWorld {
  store: DynamoDbBroadcasts;
  queue: MemoryQueue;
  broadcasts: Broadcasts;
  feedback: BroadcastFeedback;
  deps: BroadcastPacingDeps;
  /** Processes every job, moving the clock to each one's due time, until none is left. */
  drain(b?: Broadcasts): Promise<void>;
}

export function broadcastWorld(
  w: SendWorld,
  opts: {
    mps?: number;
    doc?: DynamoDBDocumentClient;
    /** The broadcasts' table (a fresh one: no other test's users in the messaging limit); default the send world's. */
    tableName?: string;
    sender?: MessageSender;
    queue?: MemoryQueue;
    suppressions?: BroadcastPacingDeps['suppressions'];
    /** The messaging limit: `limit` configured, with the store as gate and reported limits. */
    tierLimit?: number;
  } = {},
): BroadcastWorld {
  const store = new DynamoDbBroadcasts(opts.doc ?? w.doc, opts.tableName ?? w.tableName);
  const queue = opts.queue ?? new MemoryQueue(w.clock);
  const deps: BroadcastPacingDeps = {
    store,
    pacer: store,
    pairs: store,
    queue,
    messagesPerSecond: () => opts.mps ?? 80,
    now: () => w.clock.now,
    ...(opts.suppressions && { suppressions: opts.suppressions }),
    ...(opts.tierLimit !== undefined && { tier: { limit: opts.tierLimit, gate: store, limits: store } }),
  };
  const broadcasts = new Broadcasts({
    ...deps,
    sender: opts.sender ?? w.sender,
    queries: new DynamoDbQueries(opts.doc ?? w.doc, w.tableName),
    sleep: async (ms) => {
      w.clock.now += ms;
    },
  });
  return {
    store,
    queue,
    broadcasts,
    feedback: new BroadcastFeedback(deps),
    deps,
    async drain(b = broadcasts) {
      for (let next = queue.take(); next; next = queue.take()) {
        w.clock.now = Math.max(w.clock.now, next.dueMs);
        await b.handle(next.job);
      }
    },
  };
}
