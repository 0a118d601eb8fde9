/**
 * A burst of inbound messages on the local runtime: `messages` inbound texts (each from its own
 * user, so each opens a conversation) published to the event topic at once, as End User Messaging
 * Social publishes them, until each is readable; and, in the same run and on the same DynamoDB
 * Local, the floor: the same messages written by the deployed inbound handler invoked straight,
 * in the batches and with the parallelism the local poller gives it (its own write plan, whatever
 * it is), with no SNS, SQS or poller between. The floor runs twice, right before the burst and
 * right after it, and the faster of the two is the floor: DynamoDB Local's JVM is still warming up
 * for the first (measured: p99 5.6 s before the burst, 3.4 s after it, in one run), so a floor
 * measured once, before, was slower than the pipeline it should bound.
 *
 * Readable: the message's item exists (one strongly consistent BatchGetItem per 100 pending
 * messages, every `pollMs`), for the floor's messages as for the burst's; every burst message is
 * then read through the HTTP API as well, and the bench fails unless each answers 200. Where the time goes is measured per message from the queue's own
 * timestamps and the handler's invocations (a timing wrapper around the deployed handler).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { PublishBatchCommand, SNSClient } from '@aws-sdk/client-sns';
import type { SQSEvent, SQSRecord, Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { handler as inboundHandler } from '../lambdas/inbound/handler.ts';
import { documentClient } from '../shared/adapters/aws-clients.ts';
import { keys } from '../shared/adapters/dynamodb-keys.ts';
import { messageIdFromWamid } from '../shared/domain/ids.ts';
import { INBOUND_QUEUE } from '../shared/resource-spec.ts';
import { loadSandboxConfig } from '../local/sandbox/config.ts';
import { envelopeOf, messagesEntry, newWamid, unixSeconds } from '../local/sandbox/webhooks.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION, QUEUE_POLLERS, startRuntime } from '../local/runtime.ts';
import { createLambdaContext, type SqsHandler } from '../local/poller.ts';
import { snsNotification } from '../test/support/events.ts';

const quiet = { info: () => {}, warn: () => {}, error: (m: string) => console.error(m) };

export const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

/** p50, p90, p99 and max of `values` (ms). */
export function spread(values: readonly number[]) {
  const s = [...values].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN };
}

/** `n` inbound text envelopes from `n` users (`<prefix><i>`), each its own wamid. */
function inboundEnvelopes(n: number, prefix: string) {
  const number = loadSandboxConfig().phoneNumbers[0]!;
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => {
    const from = `${prefix}${String(i).padStart(6, '0')}`;
    const wamid = newWamid(from, 'inbound');
    const entry = messagesEntry(number, {
      contacts: [{ profile: { name: 'Burst User' }, wa_id: from }],
      messages: [{ from, id: wamid, timestamp: unixSeconds(now), type: 'text', text: { body: `burst ${i}` } }],
    });
    return { wamid, message: JSON.stringify(envelopeOf({ number, entry, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID, nowMs: now })) };
  });
}

/** An SQS record of `body`, as the queue would hand it to the inbound handler. */
function sqsRecord(body: string): SQSRecord {
  const now = String(Date.now());
  return {
    messageId: randomUUID(),
    receiptHandle: 'floor',
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: now, SenderId: LOCAL_ACCOUNT_ID, ApproximateFirstReceiveTimestamp: now },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${INBOUND_QUEUE.name}`,
    awsRegion: LOCAL_REGION,
  };
}

/** What the inbound handler saw of each record: when SQS took it, when it was received and handled. */
interface RecordTiming {
  sentMs: number;
  firstReceiveMs: number;
  invokedMs: number;
  doneMs: number;
  batch: number;
}

/** The wamid of a burst message, from its SQS body (SNS notification → envelope → webhook entry). */
function wamidOf(body: string): string | undefined {
  try {
    const entry = JSON.parse(JSON.parse(JSON.parse(body).Message).whatsAppWebhookEntry);
    return entry.changes?.[0]?.value?.messages?.[0]?.id;
  } catch {
    return undefined;
  }
}

function timedHandler(handler: SqsHandler, timings: Map<string, RecordTiming>, invocations: { count: number; inFlight: number; maxInFlight: number }): SqsHandler {
  return async (event: SQSEvent, context: Context) => {
    const invokedMs = Date.now();
    invocations.count++;
    invocations.maxInFlight = Math.max(invocations.maxInFlight, ++invocations.inFlight);
    try {
      return await handler(event, context);
    } finally {
      invocations.inFlight--;
      const doneMs = Date.now();
      for (const r of event.Records) {
        const wamid = wamidOf(r.body);
        if (!wamid || timings.has(wamid)) continue;
        timings.set(wamid, {
          sentMs: Number(r.attributes.SentTimestamp),
          firstReceiveMs: Number(r.attributes.ApproximateFirstReceiveTimestamp),
          invokedMs,
          doneMs,
          batch: event.Records.length,
        });
      }
    }
  };
}

/** Waits until every id's item exists; answers when each was first seen (Date.now() ms). */
async function readableTimes(doc: ReturnType<typeof documentClient>, tableName: string, wamids: readonly string[], pollMs: number, timeoutMs = 120_000) {
  const seen = new Map<string, number>();
  const idOf = new Map(wamids.map((w) => [`MSG#${messageIdFromWamid(w)}`, w]));
  const deadline = Date.now() + timeoutMs;
  while (seen.size < wamids.length) {
    const pending = wamids.filter((w) => !seen.has(w));
    const chunks = Array.from({ length: Math.ceil(pending.length / 100) }, (_, i) => pending.slice(i * 100, i * 100 + 100));
    await Promise.all(
      chunks.map(async (chunk) => {
        let ask: Record<string, unknown>[] = chunk.map((w) => keys.message(messageIdFromWamid(w)));
        while (ask.length) {
          const out = await doc.send(
            new BatchGetCommand({ RequestItems: { [tableName]: { Keys: ask, ProjectionExpression: 'PK', ConsistentRead: true } } }),
          );
          const at = Date.now();
          for (const item of out.Responses?.[tableName] ?? []) {
            const w = idOf.get(item.PK as string);
            if (w && !seen.has(w)) seen.set(w, at);
          }
          ask = (out.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[] | undefined) ?? [];
        }
      }),
    );
    if (seen.size >= wamids.length) break;
    if (Date.now() > deadline) throw new Error(`${wamids.length - seen.size} of ${wamids.length} burst messages not readable after ${timeoutMs / 1000} s`);
    await new Promise((d) => setTimeout(d, pollMs));
  }
  return seen;
}

export async function benchBurst(opts: { messages: number; pollMs?: number; warmup?: number; steady?: number }) {
  const pollMs = opts.pollMs ?? 50;
  const warmup = 2 * Math.ceil((opts.warmup ?? 50) / 2);
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-bench-burst-'));
  const timings = new Map<string, RecordTiming>();
  const invocations = { count: 0, inFlight: 0, maxInFlight: 0 };
  const runtime = await startRuntime({
    dataDir,
    fresh: true,
    ports: { api: 0, sandbox: 0, aws: 0, dynamodb: 0 },
    logger: quiet,
    handlers: { queues: { [INBOUND_QUEUE.name]: timedHandler(inboundHandler, timings, invocations) } },
  });
  const client = new DynamoDBClient({ endpoint: runtime.info.dynamodbEndpointUrl, region: LOCAL_REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const sns = new SNSClient({ endpoint: runtime.info.awsEndpointUrl, region: LOCAL_REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    const doc = documentClient(client);
    const tableName = runtime.info.tableName;

    const publish = async (envelopes: { message: string }[]) => {
      const batches = Array.from({ length: Math.ceil(envelopes.length / 10) }, (_, i) => envelopes.slice(i * 10, i * 10 + 10));
      await Promise.all(
        batches.map(async (b) => {
          const out = await sns.send(
            new PublishBatchCommand({ TopicArn: runtime.info.eventTopicArn, PublishBatchRequestEntries: b.map((e, j) => ({ Id: String(j), Message: e.message })) }),
          );
          if (out.Failed?.length) throw new Error(`PublishBatch refused ${out.Failed.length} entries: ${out.Failed[0]!.Code}`);
        }),
      );
    };
    /** Resolves once the stream poller and every queue's poller have been idle for 1.5 s. */
    const settled = async () => {
      const state = () => JSON.stringify([runtime.streamPoller.counters, Object.values(runtime.pollers).map((p) => [p.counters.records, p.counters.deleted])]);
      for (let last = state(), since = Date.now(); Date.now() - since < 1500; ) {
        await new Promise((d) => setTimeout(d, 250));
        const now = state();
        if (now !== last) [last, since] = [now, Date.now()];
      }
    };
    /**
     * Messages' writes as the inbound handler issues them: the deployed handler itself, invoked
     * straight (no SNS, SQS or poller between) in batches of the queue's batch size, as many at once
     * as the runtime's poller runs, so the floor follows its write plan whatever that is. (Invoked
     * once with 500 records, DynamoDB Local served them about twice slower than the pipeline did:
     * not a floor.) Records it reports (DynamoDB Local gives up waiting for a lock with an
     * InternalServerError it alone answers; deployed, they would come back from the queue) are
     * handed to it again. Each message is timed as the burst's are: when a read first finds it.
     */
    let floorRetries = 0;
    const floorWrite = async (messages: readonly string[]) => {
      const queue = messages.map((m) => sqsRecord(snsNotification(m, runtime.info.eventTopicArn)));
      const invokeOnce = async (records: SQSRecord[], attempt = 1): Promise<void> => {
        const context = createLambdaContext({ functionName: INBOUND_QUEUE.handler, timeoutMs: INBOUND_QUEUE.handlerTimeoutSeconds * 1000 });
        const failed = new Set((await inboundHandler({ Records: records }, context)).batchItemFailures.map((f) => f.itemIdentifier));
        if (!failed.size) return;
        if (attempt >= 5) throw new Error(`the inbound handler reported ${failed.size} floor messages ${attempt} times`);
        floorRetries += failed.size;
        return invokeOnce(records.filter((r) => failed.has(r.messageId)), attempt + 1);
      };
      await Promise.all(
        Array.from({ length: QUEUE_POLLERS }, async () => {
          for (let batch = queue.splice(0, INBOUND_QUEUE.batchSize); batch.length; batch = queue.splice(0, INBOUND_QUEUE.batchSize)) await invokeOnce(batch);
        }),
      );
    };
    /** Writes `envelopes` through `floorWrite`; answers when each was first readable (ms from the start). */
    const floorReadable = async (envelopes: { wamid: string; message: string }[], readPollMs: number) => {
      const f0 = Date.now();
      const [seen] = await Promise.all([readableTimes(doc, tableName, envelopes.map((e) => e.wamid), readPollMs), floorWrite(envelopes.map((e) => e.message))]);
      return envelopes.map((e) => seen.get(e.wamid)! - f0);
    };

    // Warm-up, both ways (a cold JVM and cold handlers would count against whichever runs first).
    const warm = inboundEnvelopes(warmup, '1654');
    await floorWrite(warm.slice(0, warmup / 2).map((e) => e.message));
    await publish(warm.slice(warmup / 2));
    await readableTimes(doc, tableName, warm.slice(warmup / 2).map((e) => e.wamid), pollMs);
    await settled();
    timings.clear();
    Object.assign(invocations, { count: 0, inFlight: 0, maxInFlight: 0 });

    // The floor, first run: the same writes, the handler invoked straight.
    const floorBeforeMs = await floorReadable(inboundEnvelopes(opts.messages, '1655'), pollMs);
    // The floor's writes go on down the table's stream (events, webhooks): the burst starts once that is done.
    await settled();

    // The burst: published to the event topic at once (PublishBatch, 10 a request, all requests at once).
    const burst = inboundEnvelopes(opts.messages, '1656');
    // How long the process's event loop (the emulator, pollers, handlers and API all run on it) was held up.
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const t0 = Date.now();
    await publish(burst);
    const publishedMs = Date.now() - t0;
    const wamids = burst.map((b) => b.wamid);
    const seen = await readableTimes(doc, tableName, wamids, pollMs);
    const burstSeconds = (Math.max(...seen.values()) - t0) / 1000;
    loop.disable();
    const eventLoopDelayMs = { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 };

    // The floor, second run, once the burst's writes have gone down the stream too; the faster run is the floor.
    await settled();
    const floorAfterMs = await floorReadable(inboundEnvelopes(opts.messages, '1659'), pollMs);
    const floorRuns = { before: spread(floorBeforeMs), after: spread(floorAfterMs) };
    const floorMs = floorRuns.after.p99 < floorRuns.before.p99 ? floorAfterMs : floorBeforeMs;
    const floorSeconds = Math.max(...floorMs) / 1000;

    // Every one of them through the API too, as a client reads it.
    let notReadable = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let i = next++; i < wamids.length; i = next++) {
          const res = await fetch(`${runtime.info.apiUrl}/v1/messages/${encodeURIComponent(wamids[i]!)}`);
          await res.arrayBuffer();
          if (res.status !== 200) notReadable++;
        }
      }),
    );
    if (notReadable) throw new Error(`${notReadable} burst messages seen in the table answer no 200 through the API`);

    await settled();
    // Steady state: one message at a time, each published once the one before is readable; and
    // its floor, one direct handler invocation at a time. Interleaved, so drift of the machine falls on both.
    const steadyMs: number[] = [];
    const steadyFloorMs: number[] = [];
    const steady = inboundEnvelopes(opts.steady ?? 20, '1657');
    const steadyFloor = inboundEnvelopes(opts.steady ?? 20, '1658');
    for (let i = 0; i < steady.length; i++) {
      steadyFloorMs.push(...(await floorReadable([steadyFloor[i]!], 20)));
      const s0 = Date.now();
      await publish([steady[i]!]);
      const at = await readableTimes(doc, tableName, [steady[i]!.wamid], 20);
      steadyMs.push(at.get(steady[i]!.wamid)! - s0);
    }

    const stage = (f: (t: RecordTiming, w: string) => number) => spread(wamids.filter((w) => timings.has(w)).map((w) => f(timings.get(w)!, w)));
    return {
      messages: opts.messages,
      pollMs,
      readable: spread(wamids.map((w) => seen.get(w)! - t0)),
      floor: spread(floorMs),
      floorRuns,
      floorSeconds,
      floorRetries,
      handlerRecordFailures: runtime.pollers[INBOUND_QUEUE.name]!.counters.failures,
      burstSeconds,
      messagesPerSecond: opts.messages / burstSeconds,
      publishMs: publishedMs,
      stages: {
        'publish → in the queue (SNS → SQS)': stage((t) => t.sentMs - t0),
        'in the queue → first received': stage((t) => t.firstReceiveMs - t.sentMs),
        'received → handler invoked (batching)': stage((t) => t.invokedMs - t.firstReceiveMs),
        'handler invoked → readable': stage((t, w) => seen.get(w)! - t.invokedMs),
        'handler invocation': stage((t) => t.doneMs - t.invokedMs),
      },
      eventLoopDelayMs,
      steady: { messages: steady.length, readable: spread(steadyMs), floor: spread(steadyFloorMs), batchingWindowMs: INBOUND_QUEUE.maxBatchingWindowSeconds * 1000 },
      invocations: invocations.count,
      maxConcurrentInvocations: invocations.maxInFlight,
      batchSizes: spread(wamids.filter((w) => timings.has(w)).map((w) => timings.get(w)!.batch)),
    };
  } finally {
    client.destroy();
    sns.destroy();
    await runtime.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function printBurstBench(r: Awaited<ReturnType<typeof benchBurst>>): void {
  const ms = (s: { p50: number; p90: number; p99: number; max: number }) => ({ 'p50 ms': Math.round(s.p50), 'p90 ms': Math.round(s.p90), 'p99 ms': Math.round(s.p99), 'max ms': Math.round(s.max) });
  console.log(`\n== A burst of ${r.messages} inbound messages (local runtime): published at once → readable ==`);
  console.table({
    'published to the topic → readable': ms(r.readable),
    [`floor: the inbound handler invoked straight, batches of ${INBOUND_QUEUE.batchSize}, ${QUEUE_POLLERS} at once (the faster run)`]: ms(r.floor),
    'floor, run before the burst': ms(r.floorRuns.before),
    'floor, run after the burst': ms(r.floorRuns.after),
  });
  console.table(Object.fromEntries(Object.entries(r.stages).map(([k, v]) => [k, ms(v)])));
  console.log(`Steady state: ${r.steady.messages} messages one at a time (the queue's batching window is ${r.steady.batchingWindowMs} ms, as deployed).`);
  console.table({
    'one at a time: published → readable': ms(r.steady.readable),
    'floor: the inbound handler invoked straight, one at a time': ms(r.steady.floor),
  });
  console.log(
    `${r.messagesPerSecond.toFixed(0)} messages/s (floor ${(r.messages / r.floorSeconds).toFixed(0)}/s); publishing took ${r.publishMs} ms; ` +
      `${r.invocations} handler invocations, at most ${r.maxConcurrentInvocations} at once, batch size p50 ${r.batchSizes.p50}, max ${r.batchSizes.max}; readability polled every ${r.pollMs} ms; ` +
      `DynamoDB Local lock timeouts: ${r.floorRetries} floor writes retried, ${r.handlerRecordFailures} records left on the queue by a failed or timed-out invocation (back after the visibility timeout); ` +
      `event-loop delay during the burst p50 ${r.eventLoopDelayMs.p50.toFixed(0)} ms, p99 ${r.eventLoopDelayMs.p99.toFixed(0)} ms, max ${r.eventLoopDelayMs.max.toFixed(0)} ms.`,
  );
}
