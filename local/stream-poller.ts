/**
 * Reads the table's stream into the `events` handler the way Lambda's DynamoDB event source
 * mapping does: every shard (parents before children), batches of up to `batchSize` records in
 * order, a real `DynamoDBStreamEvent`, `ReportBatchItemFailures` (the batch is taken again from the
 * first failed record), bisection of a batch whose invocation failed, a record given up after
 * `retryAttempts`, and checkpoints in a file so a restart resumes where it stopped.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
  type DynamoDBStreamsClient,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { EVENTS_STREAM } from '../shared/resource-spec.ts';
import { createLambdaContext, silentLogger, type LocalLogger } from './poller.ts';

export type StreamHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse | void>;

export interface StreamPollerCounters {
  batches: number;
  records: number;
  /** Records given up after `retryAttempts`. */
  skipped: number;
  handlerErrors: number;
  partialFailures: number;
  /** Checkpoint file writes, and the time they took (they hold the shard's reads up). */
  checkpointWrites: number;
  checkpointMs: number;
}

export interface StreamPollerOptions {
  readonly dynamodb: DynamoDBClient;
  readonly streams: DynamoDBStreamsClient;
  readonly tableName: string;
  readonly handler: StreamHandler;
  /** JSON file of checkpoints (`{ [streamArn]: { [shardId]: { seq?, closed? } } }`). */
  readonly checkpointFile: string;
  /** Period of a shard's reads while it has less than a full batch. @default 250 (Lambda reads a shard four times a second) */
  readonly idleMs?: number;
  readonly logger?: LocalLogger;
  /** Overrides of the mapping's settings (a test's batch size). */
  readonly spec?: { readonly batchSize?: number; readonly retryAttempts?: number; readonly bisectBatchOnError?: boolean; readonly maxBatchingWindowSeconds?: number };
}

export interface StreamPoller {
  readonly counters: Readonly<StreamPollerCounters>;
  stop(): Promise<void>;
}

type Checkpoints = Record<string, Record<string, { seq?: string; closed?: boolean }>>;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((done) => {
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), done()), { once: true });
  });

function toLambdaRecord(r: StreamRecord, streamArn: string, region: string): DynamoDBRecord {
  const d = r.dynamodb ?? {};
  return {
    eventID: r.eventID,
    eventName: r.eventName as DynamoDBRecord['eventName'],
    eventVersion: r.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    eventSourceARN: streamArn,
    dynamodb: {
      ...(d.ApproximateCreationDateTime && { ApproximateCreationDateTime: Math.floor(d.ApproximateCreationDateTime.getTime() / 1000) }),
      Keys: d.Keys as never,
      ...(d.NewImage && { NewImage: d.NewImage as never }),
      ...(d.OldImage && { OldImage: d.OldImage as never }),
      SequenceNumber: d.SequenceNumber,
      SizeBytes: d.SizeBytes,
      StreamViewType: d.StreamViewType as never,
    },
  };
}

export async function startStreamPoller(opts: StreamPollerOptions): Promise<StreamPoller> {
  const spec = { ...EVENTS_STREAM, ...opts.spec };
  const logger = opts.logger ?? silentLogger;
  const idleMs = opts.idleMs ?? 250;
  const region = await opts.streams.config.region();
  const table = (await opts.dynamodb.send(new DescribeTableCommand({ TableName: opts.tableName }))).Table;
  const streamArn = table?.LatestStreamArn;
  if (!streamArn) throw new Error(`Table ${opts.tableName} has no stream`);

  const all: Checkpoints = existsSync(opts.checkpointFile) ? (JSON.parse(readFileSync(opts.checkpointFile, 'utf8')) as Checkpoints) : {};
  const checkpoints = (all[streamArn] ??= {});
  const counters: StreamPollerCounters = { batches: 0, records: 0, skipped: 0, handlerErrors: 0, partialFailures: 0, checkpointWrites: 0, checkpointMs: 0 };
  const save = () => {
    const t0 = performance.now();
    const tmp = `${opts.checkpointFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(all));
    renameSync(tmp, opts.checkpointFile);
    counters.checkpointWrites++;
    counters.checkpointMs += performance.now() - t0;
  };

  const stopping = new AbortController();
  const running = new Map<string, Promise<void>>();

  /** Invokes the handler; answers how many leading records are done. */
  async function invoke(records: StreamRecord[]): Promise<number> {
    const event: DynamoDBStreamEvent = { Records: records.map((r) => toLambdaRecord(r, streamArn!, region)) };
    const context = createLambdaContext({ functionName: spec.handler, timeoutMs: spec.handlerTimeoutSeconds * 1000, region });
    counters.batches++;
    counters.records += records.length;
    let response: DynamoDBBatchResponse | void;
    try {
      response = await opts.handler(event, context);
    } catch (err) {
      counters.handlerErrors++;
      logger.error('events handler failed', { records: records.length, error: err instanceof Error ? err.message : String(err) });
      if (!spec.bisectBatchOnError || records.length === 1) return 0;
      const half = Math.ceil(records.length / 2);
      const first = await invoke(records.slice(0, half));
      return first < half ? first : half + (await invoke(records.slice(half)));
    }
    const failed = (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
    if (!failed.length) return records.length;
    counters.partialFailures++;
    const index = records.findIndex((r) => failed.includes(r.dynamodb?.SequenceNumber ?? ''));
    // An unknown identifier fails the whole batch, as Lambda does.
    return index < 0 ? 0 : index;
  }

  async function readShard(shard: Shard): Promise<void> {
    const shardId = shard.ShardId!;
    const state = (checkpoints[shardId] ??= {});
    const attempts = new Map<string, number>();
    const iteratorFrom = async () =>
      (
        await opts.streams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shardId,
            ...(state.seq ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: state.seq } : { ShardIteratorType: 'TRIM_HORIZON' }),
          }),
        )
      ).ShardIterator;
    let iterator = await iteratorFrom();
    // Lambda reads a shard four times a second: a read that found less than a full batch waits out
    // the rest of that period before the next one, so a burst of writes goes in one batch (and in
    // fewer PublishBatch requests); a full batch means a backlog, read on at once. With a batching
    // window, records are gathered over reads until the batch is full or the window, counted from
    // the first of them, has passed.
    const windowMs = spec.maxBatchingWindowSeconds * 1000;
    let gathered: StreamRecord[] = [];
    let firstAt = 0;
    let nextReadAt = 0;
    while (iterator && !stopping.signal.aborted) {
      const wait = nextReadAt - Date.now();
      if (wait > 0) await sleep(wait, stopping.signal);
      nextReadAt = Date.now() + idleMs;
      let out;
      try {
        out = await opts.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: spec.batchSize - gathered.length }));
      } catch (err) {
        if ((err as Error).name !== 'ExpiredIteratorException') logger.warn('GetRecords failed; retrying', { error: (err as Error).message });
        await sleep(500, stopping.signal);
        // Read again from the checkpoint: what was gathered comes again.
        gathered = [];
        iterator = await iteratorFrom();
        continue;
      }
      iterator = out.NextShardIterator;
      if (out.Records?.length) {
        if (!gathered.length) firstAt = Date.now();
        gathered.push(...out.Records);
      }
      if (gathered.length >= spec.batchSize) nextReadAt = 0;
      else if (gathered.length && iterator && Date.now() - firstAt < windowMs) {
        nextReadAt = Math.min(nextReadAt, firstAt + windowMs);
        continue;
      }
      if (!gathered.length) continue;
      const records = gathered;
      gathered = [];
      const done = await invoke(records);
      if (done > 0) state.seq = records[done - 1]!.dynamodb!.SequenceNumber;
      if (done === records.length) {
        save();
        continue;
      }
      const seq = records[done]!.dynamodb!.SequenceNumber!;
      const n = (attempts.get(seq) ?? 0) + 1;
      attempts.set(seq, n);
      if (n > spec.retryAttempts) {
        counters.skipped++;
        logger.error('stream record given up after its retries', { shardId, sequenceNumber: seq });
        state.seq = seq;
      } else await sleep(Math.min(5000, 100 * 2 ** n), stopping.signal);
      save();
      iterator = await iteratorFrom();
    }
    if (!iterator) {
      state.closed = true;
      save();
    }
  }

  async function discover(): Promise<void> {
    while (!stopping.signal.aborted) {
      try {
        const shards: Shard[] = [];
        let start: string | undefined;
        do {
          const out = await opts.streams.send(new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }));
          shards.push(...(out.StreamDescription?.Shards ?? []));
          start = out.StreamDescription?.LastEvaluatedShardId;
        } while (start);
        const known = new Set(shards.map((s) => s.ShardId));
        for (const shard of shards) {
          const id = shard.ShardId!;
          if (running.has(id) || checkpoints[id]?.closed) continue;
          // A child waits for its parent, so one item's changes are handled in order.
          const parent = shard.ParentShardId;
          if (parent && known.has(parent) && !checkpoints[parent]?.closed) continue;
          running.set(
            id,
            readShard(shard).catch((err: unknown) => logger.error('stream shard reader stopped', { shardId: id, error: String(err) })).finally(() => running.delete(id)),
          );
        }
      } catch (err) {
        logger.warn('DescribeStream failed; retrying', { error: (err as Error).message });
      }
      await sleep(1000, stopping.signal);
    }
  }

  const discovering = discover();
  return {
    counters,
    async stop() {
      stopping.abort();
      await discovering;
      await Promise.all(running.values());
    },
  };
}

