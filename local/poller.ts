/**
 * Drains an SQS queue into a Lambda handler the way Lambda's SQS event source mapping does:
 * long polling, batching by size and window, a real `SQSEvent`, `ReportBatchItemFailures`
 * semantics, and the queue's own redrive policy for messages that keep failing.
 */
import { randomUUID } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  Context,
  SQSBatchResponse,
  SQSEvent,
  SQSMessageAttributes,
  SQSRecord,
  SQSRecordAttributes,
} from 'aws-lambda';
import { LAMBDA_RUNTIME, type QueueSpec } from '../shared/resource-spec.ts';

/** What a queue-driven handler looks like (the deployed Lambda's signature). */
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

/** The subset of `console` the local runtime logs through. */
export interface LocalLogger {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export const silentLogger: LocalLogger = { info() {}, warn() {}, error() {} };

/** A Lambda `Context` for an in-process invocation that must finish within `timeoutMs`. */
export function createLambdaContext(opts: { functionName: string; timeoutMs: number; region?: string }): Context {
  const region = opts.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const deadline = Date.now() + opts.timeoutMs;
  const unsupported = () => {
    throw new Error('Callback-style context methods are not supported; return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: opts.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${opts.functionName}`,
    memoryLimitInMB: String(LAMBDA_RUNTIME.memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${opts.functionName}`,
    logStreamName: `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

export interface PollerCounters {
  /** Handler invocations. */
  batches: number;
  /** Records handed to the handler (a redelivered message counts again). */
  records: number;
  /** Records deleted after the handler was done with them. */
  deleted: number;
  /** Records left on the queue: reported in `batchItemFailures` or part of a failed invocation. */
  failures: number;
  /** Invocations that threw, timed out or returned an unusable response. */
  handlerErrors: number;
  /** SQS requests the poller made (ReceiveMessage, DeleteMessageBatch), as Lambda's pollers would. */
  sqsRequests: number;
}

export interface PollerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly spec: QueueSpec;
  readonly handler: SqsHandler;
  /** Looked up with GetQueueAttributes when not given. */
  readonly queueArn?: string;
  /** Batches processed at the same time (Lambda runs several invocations per queue). @default 1 */
  readonly concurrency?: number;
  /** @default `<handler>` from the spec */
  readonly functionName?: string;
  /** @default silentLogger */
  readonly logger?: LocalLogger;
}

export interface Poller {
  readonly counters: Readonly<PollerCounters>;
  /** Stops receiving, finishes the batches in flight (handler and deletes), then resolves. */
  stop(): Promise<void>;
}

/** Lambda's synchronous invocation payload limit; the event source mapping cuts batches below it. */
const MAX_EVENT_BYTES = 6 * 1024 * 1024;
/** SQS's longest long poll. */
const MAX_WAIT_SECONDS = 20;

function toLambdaAttributes(attrs: Message['Attributes']): SQSRecordAttributes {
  const a = (attrs ?? {}) as Record<string, string>;
  const out: Record<string, string> = {
    ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
    SentTimestamp: a.SentTimestamp ?? String(Date.now()),
    SenderId: a.SenderId ?? '000000000000',
    ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
  };
  for (const key of ['AWSTraceHeader', 'SequenceNumber', 'MessageGroupId', 'MessageDeduplicationId', 'DeadLetterQueueSourceArn']) {
    if (a[key] !== undefined) out[key] = a[key];
  }
  return out as unknown as SQSRecordAttributes;
}

function toLambdaMessageAttributes(attrs: Record<string, MessageAttributeValue> | undefined): SQSMessageAttributes {
  const out: SQSMessageAttributes = {};
  for (const [name, v] of Object.entries(attrs ?? {})) {
    out[name] = {
      dataType: v.DataType ?? 'String',
      stringListValues: v.StringListValues ?? [],
      binaryListValues: (v.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
      ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
      ...(v.BinaryValue !== undefined ? { binaryValue: Buffer.from(v.BinaryValue).toString('base64') } : {}),
    };
  }
  return out;
}

function toRecord(m: Message, queueArn: string, region: string): SQSRecord {
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: toLambdaAttributes(m.Attributes),
    messageAttributes: toLambdaMessageAttributes(m.MessageAttributes),
    md5OfBody: m.MD5OfBody ?? '',
    ...(m.MD5OfMessageAttributes ? { md5OfMessageAttributes: m.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

function recordBytes(m: Message): number {
  return Buffer.byteLength(m.Body ?? '') + 1024; // plus the record's envelope, roughly
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((done) => {
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), done()), { once: true });
  });

/**
 * Which records to delete after an invocation, following Lambda's rules for
 * `ReportBatchItemFailures`: a response naming an unknown, empty or missing id fails the whole batch.
 */
function deletable(records: SQSRecord[], response: unknown): { ok: SQSRecord[]; invalid: boolean } {
  if (response === undefined || response === null) return { ok: records, invalid: false };
  if (typeof response !== 'object') return { ok: [], invalid: true };
  const failures = (response as Partial<SQSBatchResponse>).batchItemFailures;
  if (failures === undefined || failures === null) return { ok: records, invalid: false };
  if (!Array.isArray(failures)) return { ok: [], invalid: true };
  const ids = new Set(records.map((r) => r.messageId));
  const failed = new Set<string>();
  for (const f of failures) {
    const id = (f as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '' || !ids.has(id)) return { ok: [], invalid: true };
    failed.add(id);
  }
  return { ok: records.filter((r) => !failed.has(r.messageId)), invalid: false };
}

/** Starts draining `queueUrl` into `handler`; see {@link Poller}. */
export async function startPoller(opts: PollerOptions): Promise<Poller> {
  const { sqs, queueUrl, spec, handler } = opts;
  const logger = opts.logger ?? silentLogger;
  const functionName = opts.functionName ?? spec.handler;
  const region = await sqs.config.region();
  const queueArn =
    opts.queueArn ??
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes
      ?.QueueArn;
  if (!queueArn) throw new Error(`Queue ${queueUrl} has no ARN`);

  const counters: PollerCounters = { batches: 0, records: 0, deleted: 0, failures: 0, handlerErrors: 0, sqsRequests: 0 };
  const stopping = new AbortController();

  async function receive(max: number, waitSeconds: number): Promise<Message[]> {
    try {
      counters.sqsRequests++;
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, max),
          WaitTimeSeconds: waitSeconds,
          AttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: stopping.signal },
      );
      return out.Messages ?? [];
    } catch (err) {
      if (stopping.signal.aborted) return [];
      logger.warn('ReceiveMessage failed; retrying', { queue: spec.name, error: (err as Error).message });
      await sleep(1000, stopping.signal);
      return [];
    }
  }

  /** Collects one batch: waits for a first message, then fills up for at most the batching window. */
  async function collect(carry: Message[]): Promise<{ batch: Message[]; carry: Message[] }> {
    const batch: Message[] = [];
    let bytes = 0;
    let rest = carry;
    const take = (msgs: Message[]) => {
      for (let i = 0; i < msgs.length; i++) {
        const m = msgs[i]!;
        const size = recordBytes(m);
        if (batch.length >= spec.batchSize || (batch.length > 0 && bytes + size > MAX_EVENT_BYTES)) {
          rest = msgs.slice(i);
          return true;
        }
        batch.push(m);
        bytes += size;
      }
      return batch.length >= spec.batchSize;
    };
    rest = [];
    if (take(carry)) return { batch, carry: rest };
    while (batch.length === 0 && !stopping.signal.aborted) {
      if (take(await receive(spec.batchSize, MAX_WAIT_SECONDS))) return { batch, carry: rest };
    }
    const deadline = Date.now() + spec.maxBatchingWindowSeconds * 1000;
    while (!stopping.signal.aborted && Date.now() < deadline) {
      const waitSeconds = Math.min(MAX_WAIT_SECONDS, Math.ceil((deadline - Date.now()) / 1000));
      if (take(await receive(spec.batchSize - batch.length, waitSeconds))) break;
    }
    return { batch, carry: rest };
  }

  async function invoke(messages: Message[]): Promise<void> {
    const records = messages.map((m) => toRecord(m, queueArn!, region));
    const context = createLambdaContext({ functionName, timeoutMs: spec.handlerTimeoutSeconds * 1000, region });
    counters.batches++;
    counters.records += records.length;

    let response: unknown;
    let failed = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, fail) => {
        timer = setTimeout(
          () => fail(new Error(`Task timed out after ${spec.handlerTimeoutSeconds} seconds`)),
          spec.handlerTimeoutSeconds * 1000,
        );
      });
      response = await Promise.race([handler({ Records: records }, context), timeout]);
    } catch (err) {
      failed = true;
      logger.error('Handler failed; the whole batch returns after the visibility timeout', {
        queue: spec.name,
        records: records.length,
        awsRequestId: context.awsRequestId,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
    } finally {
      clearTimeout(timer);
    }

    let ok: SQSRecord[] = [];
    if (!failed) {
      const verdict = deletable(records, response);
      if (verdict.invalid) {
        failed = true;
        logger.error('Handler returned an invalid batchItemFailures; the whole batch counts as failed', {
          queue: spec.name,
          awsRequestId: context.awsRequestId,
        });
      }
      ok = verdict.ok;
    }
    if (failed) counters.handlerErrors++;
    counters.failures += records.length - ok.length;

    // The deletes of the batch's chunks go out at once, and the worker polls on meanwhile, as
    // Lambda's pollers do: a batch's records are gone from the queue once its deletes land, and
    // `stop()` waits for them.
    for (let i = 0; i < ok.length; i += 10) track(deleteChunk(ok.slice(i, i + 10)));
  }

  const deletes = new Set<Promise<void>>();
  function track(p: Promise<void>): void {
    deletes.add(p);
    void p.finally(() => deletes.delete(p));
  }

  async function deleteChunk(chunk: SQSRecord[]): Promise<void> {
    try {
      counters.sqsRequests++;
      const out = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((r, n) => ({ Id: String(n), ReceiptHandle: r.receiptHandle })),
        }),
      );
      counters.deleted += out.Successful?.length ?? 0;
      for (const f of out.Failed ?? []) {
        logger.warn('DeleteMessageBatch entry failed; the message will be delivered again', {
          queue: spec.name,
          code: f.Code,
        });
      }
    } catch (err) {
      logger.warn('DeleteMessageBatch failed; the messages will be delivered again', {
        queue: spec.name,
        error: (err as Error).message,
      });
    }
  }

  /**
   * One receiver per queue fills batches and hands each to a free slot of `concurrency`
   * invocations. (Several long polls on one queue would each be woken by every message the emulator
   * enqueues, and all but one answered empty: requests that say nothing of the design.) While every
   * slot is busy, nothing is received, so a backlog makes the next batch fuller, as Lambda's batches
   * fill at load.
   */
  const slots = Math.max(1, opts.concurrency ?? 1);
  const inFlight = new Set<Promise<void>>();
  async function receiver(): Promise<void> {
    let carry: Message[] = [];
    while (!stopping.signal.aborted || carry.length > 0) {
      while (inFlight.size >= slots) await Promise.race(inFlight);
      const collected = await collect(carry);
      carry = collected.carry;
      if (!collected.batch.length) continue;
      const invocation: Promise<void> = invoke(collected.batch)
        .catch((err: unknown) => logger.error('Poller invocation stopped unexpectedly', { queue: spec.name, error: String(err) }))
        .finally(() => inFlight.delete(invocation));
      inFlight.add(invocation);
    }
    await Promise.all(inFlight);
  }

  const receiving = receiver().catch((err: unknown) => {
    logger.error('Poller stopped unexpectedly', { queue: spec.name, error: String(err) });
  });

  return {
    counters,
    async stop() {
      stopping.abort();
      await receiving;
      await Promise.all([...deletes]);
    },
  };
}
