/**
 * Events bench on the local runtime: many inbound messages, each timed from its table write (the
 * inbound handler's store, instrumented) to its `message.received` webhook delivery; and the AWS
 * requests the events path makes per event, counted on the clients and pollers that make them:
 * SNS PublishBatch by the events handler, and the delivery side's SQS requests (the delivery and
 * retry queues' pollers, and the webhook handler's own sends).
 *
 * Runs in its own process (`node bench/events.ts`): the runtime's handlers are bound to one runtime.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { documentClient } from '../shared/adapters/aws-clients.ts';
import { DynamoDbQueries } from '../shared/adapters/dynamodb-queries.ts';
import { DynamoDbStore } from '../shared/adapters/dynamodb-store.ts';
import { DynamoDbUnpublishedEvents } from '../shared/adapters/dynamodb-unpublished.ts';
import { HttpWebhookTransport } from '../shared/adapters/http-webhooks.ts';
import { SnsEventPublisher } from '../shared/adapters/sns-events.ts';
import { webhookAdapters } from '../shared/adapters/webhook-wiring.ts';
import { SqsRetryQueue } from '../shared/adapters/sqs-webhook-retries.ts';
import type { InboundMessage } from '../shared/domain/types.ts';
import { makeHandler as eventsHandler } from '../lambdas/events/handler.ts';
import { makeHandler as inboundHandler } from '../lambdas/inbound/handler.ts';
import { makeHandler as webhooksHandler } from '../lambdas/webhooks/handler.ts';
import { INBOUND_QUEUE, WEBHOOK_DELIVERY_QUEUE, WEBHOOK_RETRY_QUEUE } from '../shared/resource-spec.ts';
import { startRuntime } from '../local/runtime.ts';
import { freePort } from '../local/servers.ts';
import type { SqsHandler } from '../local/poller.ts';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** Counts every command a client sends, by command name. */
function counted<C extends SNSClient | SQSClient>(client: C, counts: Map<string, number>): C {
  (client.middlewareStack as SNSClient['middlewareStack']).add(
    (next, context) => async (args) => {
      counts.set(context.commandName!, (counts.get(context.commandName!) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'benchCounter' },
  );
  return client;
}

export async function benchEvents(opts: { messages: number; perSecond: number }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-bench-events-'));
  const writtenAt = new Map<string, number>();
  /** When the events handler published a message's first event: splits the lag into its two halves. */
  const publishedAt = new Map<string, number>();
  const toPublish: number[] = [];
  const toDeliver: number[] = [];
  const lags: number[] = [];
  const delivered = new Set<string>();
  const sns = new Map<string, number>();
  const sqs = new Map<string, number>();
  let published = 0;

  // The receiving app: notes when each message.received arrives.
  const port = await freePort();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const at = performance.now();
      const event = JSON.parse(body) as { id: string; type: string; data: { id: string } };
      if (event.type === 'message.received' && !delivered.has(event.id)) {
        delivered.add(event.id);
        const written = writtenAt.get(event.data.id);
        if (written !== undefined) lags.push(at - written);
        const pub = publishedAt.get(event.data.id);
        if (written !== undefined && pub !== undefined) toPublish.push(pub - written);
        if (pub !== undefined) toDeliver.push(at - pub);
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));

  // Handlers are the deployed ones, built on first use (once the runtime has set the environment),
  // with instrumented adapters.
  const lazy = <H extends (...a: any[]) => any>(make: () => H) => {
    let h: H | undefined;
    return ((...a: Parameters<H>) => (h ??= make())(...a)) as H;
  };
  class TimedStore extends DynamoDbStore {
    // From the start of the write: the stream may carry the item before the call returns (the
    // conversation's update follows the item's transaction), so this counts the write's own time too.
    override async recordInbound(m: InboundMessage) {
      const start = performance.now();
      const out = await super.recordInbound(m);
      if (out.inserted) writtenAt.set(m.id, start);
      return out;
    }
  }
  const inbound = lazy(() => inboundHandler({ store: new TimedStore(documentClient(), process.env.TABLE_NAME!) }));
  const stream = lazy(() => {
    const doc = documentClient();
    const publisher = new SnsEventPublisher(counted(new SNSClient({}), sns), process.env.EVENTS_TOPIC_ARN!);
    const counting = {
      publish: async (events: Parameters<typeof publisher.publish>[0]) => {
        published += events.length;
        const now = performance.now();
        for (const e of events) if (!publishedAt.has(e.subject)) publishedAt.set(e.subject, now);
        return publisher.publish(events);
      },
    };
    return eventsHandler({ messages: new DynamoDbQueries(doc, process.env.TABLE_NAME!), publisher: counting, unpublished: new DynamoDbUnpublishedEvents(doc, process.env.TABLE_NAME!) });
  });
  const webhooks: SqsHandler = lazy(() => {
    const adapters = webhookAdapters(documentClient());
    return webhooksHandler({
      ...adapters,
      retries: new SqsRetryQueue(counted(new SQSClient({}), sqs), process.env.WEBHOOK_RETRY_QUEUE_URL!),
      transport: new HttpWebhookTransport({ allowLoopback: true }),
      now: Date.now,
    });
  });

  const runtime = await startRuntime({
    dataDir,
    fresh: true,
    ports: { api: 0, sandbox: 0, aws: 0, dynamodb: 0 },
    logger: { info() {}, warn() {}, error: (m) => console.error(m) },
    webhook: `http://127.0.0.1:${port}/hook`,
    handlers: {
      stream,
      queues: { [INBOUND_QUEUE.name]: inbound, [WEBHOOK_DELIVERY_QUEUE.name]: webhooks, [WEBHOOK_RETRY_QUEUE.name]: webhooks },
    },
  });
  try {
    const { sandboxUrl, phoneNumbers } = runtime.info;
    const to = phoneNumbers[0]!.phoneNumberId;
    const gap = 1000 / opts.perSecond;
    const begin = performance.now();
    const posts: Promise<unknown>[] = [];
    for (let i = 0; i < opts.messages; i++) {
      const wait = begin + i * gap - performance.now();
      if (wait > 0) await new Promise((d) => setTimeout(d, wait));
      const post = async (attempt = 1): Promise<unknown> => {
        try {
          const r = await fetch(`${sandboxUrl}/sandbox/inbound`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ from: `1650888${String(i % 97).padStart(4, '0')}`, to, type: 'text', text: { body: `bench ${i}` } }),
          });
          return await r.arrayBuffer();
        } catch (err) {
          // A busy machine may drop a connection to the sandbox: the message was not sent, so send it again.
          if (attempt >= 3) throw err;
          return post(attempt + 1);
        }
      };
      posts.push(post());
    }
    await Promise.all(posts);
    const deadline = performance.now() + 60_000;
    while (delivered.size < opts.messages && performance.now() < deadline) await new Promise((d) => setTimeout(d, 100));
    // Let the pollers settle so their last requests are counted.
    await new Promise((d) => setTimeout(d, 500));
    const pollerRequests = runtime.pollers[WEBHOOK_DELIVERY_QUEUE.name]!.counters.sqsRequests + runtime.pollers[WEBHOOK_RETRY_QUEUE.name]!.counters.sqsRequests;
    const handlerSqs = [...sqs.values()].reduce((a, b) => a + b, 0);
    lags.sort((a, b) => a - b);
    toPublish.sort((a, b) => a - b);
    toDeliver.sort((a, b) => a - b);
    return {
      deliverP50: percentile(toDeliver, 50),
      deliverP99: percentile(toDeliver, 99),
      publishP50: percentile(toPublish, 50),
      publishP99: percentile(toPublish, 99),
      messages: opts.messages,
      perSecond: opts.perSecond,
      delivered: delivered.size,
      timed: lags.length,
      p50: percentile(lags, 50),
      p90: percentile(lags, 90),
      p99: percentile(lags, 99),
      max: lags.at(-1)!,
      eventsPublished: published,
      snsRequests: sns.get('PublishBatchCommand') ?? 0,
      snsOther: [...sns.entries()].filter(([k]) => k !== 'PublishBatchCommand'),
      deliverySqsRequests: pollerRequests + handlerSqs,
      deliveryPollerRequests: pollerRequests,
      handlerSqsRequests: handlerSqs,
      streamBatches: runtime.streamPoller.counters.batches,
    };
  } finally {
    await runtime.stop();
    server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function printEventsBench(r: Awaited<ReturnType<typeof benchEvents>>) {
  console.log('\n== Events: table write → webhook delivery (local runtime) ==');
  console.table({
    [`${r.messages} inbound messages at ${r.perSecond}/s`]: {
      delivered: r.delivered,
      'p50 ms': Math.round(r.p50),
      'p90 ms': Math.round(r.p90),
      'p99 ms': Math.round(r.p99),
      'max ms': Math.round(r.max),
    },
  });
  console.log(
    `split: write start → published to the topic p50 ${Math.round(r.publishP50)} ms, p99 ${Math.round(r.publishP99)} ms; ` +
      `published → delivered p50 ${Math.round(r.deliverP50)} ms, p99 ${Math.round(r.deliverP99)} ms (${r.streamBatches} stream batches)`,
  );
  console.table({
    'SNS PublishBatch requests / event (goal ≤ 0.15)': { value: (r.snsRequests / r.eventsPublished).toFixed(3), counted: `${r.snsRequests} / ${r.eventsPublished}` },
    'delivery-side SQS requests / event (goal ≤ 0.3)': {
      value: (r.deliverySqsRequests / r.eventsPublished).toFixed(3),
      counted: `${r.deliverySqsRequests} (pollers ${r.deliveryPollerRequests}, handler ${r.handlerSqsRequests}) / ${r.eventsPublished}`,
    },
  });
  if (r.snsOther.length) console.log('other SNS requests:', r.snsOther);
}

if (import.meta.main) {
  printEventsBench(await benchEvents({ messages: Number(process.env.BENCH_EVENTS_MESSAGES ?? 1000), perSecond: Number(process.env.BENCH_EVENTS_RATE ?? 10) }));
  process.exit(0);
}
