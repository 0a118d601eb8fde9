/**
 * What one event costs, measured: the deployed pipeline's handlers on DynamoDB Local and the
 * fauxqs SNS/SQS emulator, driven the way AWS drives them (events published to the event topic →
 * the inbound queue's poller → the inbound function → the table's stream → the events function →
 * the domain-events topic → the webhook-delivery queue's poller → the webhooks function, with no
 * webhook registered). For each kind of event: write and read units (meter.ts), AWS requests by
 * service counted on the SDK clients and the pollers, invocations by function, duration, and the
 * cost per million events from `bench/prices.json` (units, requests and invocations; duration
 * apart, as this machine's is not Lambda's), beside the naive design (SNS → a function per event →
 * one PutItem of the event) measured the same way.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { S3Client } from '@aws-sdk/client-s3';
import { PublishBatchCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../shared/adapters/aws-clients.ts';
import { DynamoDbOutbound } from '../shared/adapters/dynamodb-outbound.ts';
import { DynamoDbQueries } from '../shared/adapters/dynamodb-queries.ts';
import { DynamoDbStore } from '../shared/adapters/dynamodb-store.ts';
import { DynamoDbUnpublishedEvents } from '../shared/adapters/dynamodb-unpublished.ts';
import { DynamoDbWebhooks } from '../shared/adapters/dynamodb-webhooks.ts';
import { HttpWebhookTransport } from '../shared/adapters/http-webhooks.ts';
import { SnsEventPublisher } from '../shared/adapters/sns-events.ts';
import { SqsRetryQueue } from '../shared/adapters/sqs-webhook-retries.ts';
import { LocalSecretCipher } from '../shared/adapters/webhook-secrets.ts';
import { parseEventBody } from '../shared/domain/parse-event.ts';
import { requestHash } from '../shared/domain/send-message.ts';
import type { SendMessageRequest } from '../shared/whatsapp/outbound/request.ts';
import { makeHandler as eventsHandler } from '../lambdas/events/handler.ts';
import { makeHandler as inboundHandler } from '../lambdas/inbound/handler.ts';
import { makeHandler as webhooksHandler } from '../lambdas/webhooks/handler.ts';
import { startPoller, type Poller, type SqsHandler } from '../local/poller.ts';
import { defaultResourceNames, provision } from '../local/provision.ts';
import { startAwsEmulator, startDynamoDb } from '../local/servers.ts';
import { startStreamPoller, type StreamHandler } from '../local/stream-poller.ts';
import {
  DEFAULT_RETENTION_DAYS,
  INBOUND_QUEUE,
  LAMBDA_RUNTIME,
  TABLE_INDEX_PROJECTION,
  TABLE_INDEXES,
  WEBHOOK_DELIVERY_QUEUE,
  WEBHOOK_RETRY_QUEUE,
} from '../shared/resource-spec.ts';
import { entryOf, eumFixture, snsNotification, withEntry } from '../test/support/events.ts';
import { atMost, type Goal } from './goals.ts';
import { itemBytes, metered, newMeter, requestsOf, since, snapshot, type Meter } from './meter.ts';
import prices from './prices.json' with { type: 'json' };

const REGION = 'us-east-1';
const creds = { accessKeyId: 'bench', secretAccessKey: 'bench' };

/** Where a function's time and invocations are counted. */
interface FunctionMeter {
  invocations: number;
  ms: number;
}
const timed = <H extends (...a: any[]) => Promise<any>>(h: H, f: FunctionMeter): H =>
  (async (...a: Parameters<H>) => {
    const t0 = performance.now();
    f.invocations++;
    try {
      return await h(...a);
    } finally {
      f.ms += performance.now() - t0;
    }
  }) as H;

export interface KindCost {
  kind: string;
  events: number;
  /** Write units per event (refused writes included, counted by hand), and of them refused. */
  wcu: number;
  failedWcu: number;
  rcu: number;
  /** AWS requests per event, by service (our functions' and the pollers'). */
  requests: { DynamoDB: number; SNS: number; SQS: number };
  /** Invocations per event, by function. */
  invocations: Record<string, number>;
  /** Lambda GB-seconds per event (measured handler time × memory). */
  gbSeconds: number;
  /**
   * USD per million events: write and read units, invocations, SNS and SQS requests. Duration is
   * left out: measured here it is DynamoDB Local's and this machine's time, not Lambda's.
   */
  costPerMillion: number;
  /** The same with the duration measured here (an upper bound on a loaded machine). */
  costWithLocalDurationPerMillion: number;
  /** Requests by `<service> <command>`, whole run of this kind (for the JSON). */
  detail: Record<string, number>;
  /** Write units per event by where they went (`table`, `GSI1`, `GSI2`, `refused`) and by function. */
  wcuBy: Record<string, number>;
  wcuByFunction: Record<string, number>;
  /** `costPerMillion` by what it pays for: what dominates. */
  costBy: { writeUnits: number; readUnits: number; lambdaRequests: number; snsPublishes: number; sqsRequests: number };
  /** What the kind adds to the table's storage (items and their index copies), measured by a Scan. */
  storage: Storage;
}

/**
 * Storage an event leaves in the table, as DynamoDB bills it: each item's bytes plus 100 bytes of
 * overhead, once for the table and once for each index it has keys in (the indexes project every
 * attribute). Priced with point-in-time recovery (billed on the same size), per million events a
 * month, and over the whole retention (`DEFAULT_RETENTION_DAYS`).
 */
export interface Storage {
  bytesPerEvent: number;
  usdPerMillionPerMonth: number;
  retentionDays: number;
  usdPerMillionOverRetention: number;
}

const DAYS_PER_MONTH = 365.25 / 12;

/** The table's billed bytes (see `Storage`), from a Scan (not metered: the bench's own reading). */
async function tableBytes(dynamodb: DynamoDBClient, table: string): Promise<number> {
  const doc = documentClient(dynamodb);
  let bytes = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    for (const item of out.Items ?? []) {
      bytes += itemBytes(item) + 100;
      // An index entry holds what the index projects: the item's keys and the index's keys (or
      // the whole item where every attribute is projected), each with 100 bytes of overhead.
      for (const i of TABLE_INDEXES.filter((x) => item[x.partitionKey] !== undefined)) {
        const keysOnly = { PK: item.PK, SK: item.SK, [i.partitionKey]: item[i.partitionKey], [i.sortKey]: item[i.sortKey] };
        bytes += (TABLE_INDEX_PROJECTION === 'KEYS_ONLY' ? itemBytes(keysOnly) : itemBytes(item)) + 100;
      }
    }
    start = out.LastEvaluatedKey;
  } while (start);
  return bytes;
}

export function storageCost(bytesPerEvent: number, retentionDays = DEFAULT_RETENTION_DAYS): Storage {
  const gbMonth = (bytesPerEvent * 1e6) / 2 ** 30;
  const usdPerMillionPerMonth = gbMonth * (prices.dynamodb.storageGbMonth + prices.dynamodb.pointInTimeRecoveryGbMonth);
  return { bytesPerEvent, usdPerMillionPerMonth, retentionDays, usdPerMillionOverRetention: usdPerMillionPerMonth * (retentionDays / DAYS_PER_MONTH) };
}

const perMillion = (c: { wcu: number; rcu: number; gbSeconds: number; lambdaRequests: number; snsPublishes: number; sqsRequests: number }) =>
  1e6 *
  (c.wcu * prices.dynamodb.writeRequestUnit +
    c.rcu * prices.dynamodb.readRequestUnit +
    c.lambdaRequests * prices.lambda.request +
    c.gbSeconds * prices.lambda.gbSecondArm +
    c.snsPublishes * prices.sns.publish +
    c.sqsRequests * prices.sqs.request);

/** `n` inbound texts from contacts `contact(i)`, at second `t0 + i`, each its own wamid. */
function inboundBodies(n: number, contact: (i: number) => string, t0: number): string[] {
  const text = eumFixture('inbound-text');
  return Array.from({ length: n }, (_, i) => {
    const e = entryOf(text);
    const v = e.changes[0].value;
    v.messages[0].id = `wamid.BENCH${randomUUID()}`;
    v.messages[0].from = contact(i);
    v.messages[0].timestamp = String(t0 + i);
    v.contacts[0].wa_id = contact(i);
    return JSON.stringify(withEntry(text, e));
  });
}

/** A wamid as long as Meta's (62 characters), one per send. */
const wamidOf = (id: string) => `wamid.HBgL${Buffer.from(id.slice(4) + id.slice(4, 16)).toString('base64').slice(0, 52)}`;

/**
 * Status envelopes (`sent`, `delivered`, `read`) for send records `ids`, carrying our id, and AWS's
 * send id (`awsIds`) in the envelope. As Meta sends them (facts §4.3): `pricing` and `conversation`
 * on `sent` and one of `delivered`/`read` (here `delivered`), neither on the other.
 */
function statusBodies(ids: string[], awsIds: string[], contact: (i: number) => string, t0: number): string[] {
  const status = eumFixture('status-sent');
  return (['sent', 'delivered', 'read'] as const).flatMap((word, step) =>
    ids.map((id, i) => {
      const e = entryOf(status);
      const s = e.changes[0].value.statuses[0];
      s.id = wamidOf(id);
      s.status = word;
      s.timestamp = String(t0 + i + step);
      s.recipient_id = contact(i);
      s.biz_opaque_callback_data = id;
      if (word === 'read') {
        delete s.pricing;
        delete s.conversation;
      }
      return JSON.stringify({ ...withEntry(status, e), messageId: awsIds[i] });
    }),
  );
}

export async function benchCost(opts: { perKind: number }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-bench-cost-'));
  const ddb = await startDynamoDb();
  const aws = await startAwsEmulator();
  const plain = { region: REGION, credentials: creds };
  const dynamodb = new DynamoDBClient({ ...plain, endpoint: ddb.endpoint });
  const sqsPlain = new SQSClient({ ...plain, endpoint: aws.endpoint });
  const snsPlain = new SNSClient({ ...plain, endpoint: aws.endpoint });
  const names = { ...defaultResourceNames(`bench-${randomUUID().slice(0, 8)}`) };
  const resources = await provision({
    dynamodb,
    sqs: sqsPlain,
    sns: snsPlain,
    s3: new S3Client({ ...plain, endpoint: aws.endpoint, forcePathStyle: true }),
    names,
    queues: [INBOUND_QUEUE, WEBHOOK_DELIVERY_QUEUE, WEBHOOK_RETRY_QUEUE],
    sqsEndpoint: aws.endpoint,
  });
  const table = resources.tableName;

  // One meter per function: what its own SDK clients send.
  const meters = { inbound: newMeter(), events: newMeter(), webhooks: newMeter() };
  const fns = { inbound: { invocations: 0, ms: 0 }, events: { invocations: 0, ms: 0 }, webhooks: { invocations: 0, ms: 0 } };
  const docOf = (m: Meter) => documentClient(metered(new DynamoDBClient({ ...plain, endpoint: ddb.endpoint }), 'DynamoDB', m));
  const inboundDoc = docOf(meters.inbound);
  const eventsDoc = docOf(meters.events);
  const webhooksDoc = docOf(meters.webhooks);

  const inbound: SqsHandler = timed(inboundHandler({ store: new DynamoDbStore(inboundDoc, table) }), fns.inbound);
  const events: StreamHandler = timed(
    eventsHandler({
      messages: new DynamoDbQueries(eventsDoc, table),
      publisher: new SnsEventPublisher(metered(new SNSClient({ ...plain, endpoint: aws.endpoint }), 'SNS', meters.events), resources.eventsTopicArn),
      unpublished: new DynamoDbUnpublishedEvents(eventsDoc, table),
    }),
    fns.events,
  );
  const webhooks: SqsHandler = timed(
    webhooksHandler({
      webhooks: new DynamoDbWebhooks(webhooksDoc, table),
      secrets: new LocalSecretCipher(Buffer.alloc(32, 7).toString('base64')),
      retries: new SqsRetryQueue(metered(new SQSClient({ ...plain, endpoint: aws.endpoint }), 'SQS', meters.webhooks), resources.queues['webhook-retry']!.url),
      transport: new HttpWebhookTransport({ allowLoopback: true }),
      urlPolicy: { allowLoopback: true, resolve: async () => ['127.0.0.1'] },
      allowLoopback: true,
      now: Date.now,
    } as Parameters<typeof webhooksHandler>[0]),
    fns.webhooks,
  );

  const pollerSqs = () => new SQSClient({ ...plain, endpoint: aws.endpoint });
  const inboundPoller = await startPoller({ sqs: pollerSqs(), queueUrl: resources.queues[INBOUND_QUEUE.name]!.url, spec: INBOUND_QUEUE, handler: inbound, concurrency: 2 });
  const webhookPoller = await startPoller({
    sqs: pollerSqs(),
    queueUrl: resources.queues[WEBHOOK_DELIVERY_QUEUE.name]!.url,
    spec: WEBHOOK_DELIVERY_QUEUE,
    handler: webhooks,
    concurrency: 2,
  });
  const streamPoller = await startStreamPoller({
    dynamodb,
    streams: new DynamoDBStreamsClient({ ...plain, endpoint: ddb.endpoint }),
    tableName: table,
    handler: events,
    checkpointFile: join(dataDir, 'checkpoints.json'),
  });
  const pollers: Poller[] = [inboundPoller, webhookPoller];

  const queueUrls = [resources.queues[INBOUND_QUEUE.name]!.url, resources.queues[WEBHOOK_DELIVERY_QUEUE.name]!.url];
  /** No message waiting or in flight in the pipeline's queues (asked with the plain client: not metered). */
  const queuesEmpty = async () => {
    for (const QueueUrl of queueUrls) {
      const { Attributes: a = {} } = await sqsPlain.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      if (Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) > 0) return false;
    }
    return true;
  };

  /** Publishes the envelopes as End User Messaging Social does, and waits until every stage is quiet. */
  async function run(kind: string, bodies: string[]): Promise<KindCost> {
    const bytesBefore = await tableBytes(dynamodb, table);
    const before = {
      meters: Object.fromEntries(Object.entries(meters).map(([k, m]) => [k, snapshot(m)])) as Record<keyof typeof meters, Meter>,
      fns: structuredClone(fns),
      pollerSqs: pollers.map((p) => p.counters.sqsRequests),
      deleted: inboundPoller.counters.deleted,
    };
    for (let i = 0; i < bodies.length; i += 10) {
      await snsPlain.send(
        new PublishBatchCommand({
          TopicArn: resources.topicArn,
          PublishBatchRequestEntries: bodies.slice(i, i + 10).map((Message, j) => ({ Id: String(j), Message })),
        }),
      );
    }
    const state = () => JSON.stringify([inboundPoller.counters.deleted, webhookPoller.counters.deleted, streamPoller.counters.records, fns]);
    for (let last = '', quietSince = performance.now(); ; await new Promise((r) => setTimeout(r, 100))) {
      const now = state();
      if (now !== last) [last, quietSince] = [now, performance.now()];
      // Quiet, and nothing left in a queue: a message a loaded machine failed comes back after its
      // visibility timeout, and its writes belong to this kind, not to the next.
      else if (inboundPoller.counters.deleted - before.deleted >= bodies.length && performance.now() - quietSince > 2500 && (await queuesEmpty())) break;
    }
    const n = bodies.length;
    const d = Object.fromEntries(Object.entries(meters).map(([k, m]) => [k, since(m, before.meters[k as keyof typeof meters])])) as Record<keyof typeof meters, Meter>;
    const all = [d.inbound, d.events, d.webhooks];
    const pollerSqs = pollers.reduce((a, p, i) => a + p.counters.sqsRequests - before.pollerSqs[i]!, 0);
    const invocations = Object.fromEntries(Object.entries(fns).map(([k, f]) => [k, (f.invocations - before.fns[k as keyof typeof fns].invocations) / n]));
    const ms = Object.entries(fns).reduce((a, [k, f]) => a + f.ms - before.fns[k as keyof typeof fns].ms, 0);
    const gbSeconds = ((ms / 1000) * (LAMBDA_RUNTIME.memoryMb / 1024)) / n;
    const sum = (f: (m: Meter) => number) => all.reduce((a, m) => a + f(m), 0);
    const requests = {
      DynamoDB: sum((m) => requestsOf(m, 'DynamoDB')) / n,
      SNS: 1 + sum((m) => requestsOf(m, 'SNS')) / n, // 1: End User Messaging Social's publish of the event itself
      SQS: (pollerSqs + sum((m) => requestsOf(m, 'SQS'))) / n,
    };
    const wcu = sum((m) => m.wcu) / n;
    const rcu = sum((m) => m.rcu) / n;
    const lambdaRequests = Object.values(invocations).reduce((a, b) => a + b, 0);
    const detail: Record<string, number> = { 'SQS ReceiveMessage+DeleteMessageBatch (pollers)': pollerSqs };
    for (const m of all) for (const [k, v] of m.requests) detail[k] = (detail[k] ?? 0) + v;
    const wcuBy: Record<string, number> = {};
    for (const m of all) for (const [k, v] of m.wcuBy) wcuBy[k] = (wcuBy[k] ?? 0) + v / n;
    const costBy = {
      writeUnits: 1e6 * wcu * prices.dynamodb.writeRequestUnit,
      readUnits: 1e6 * rcu * prices.dynamodb.readRequestUnit,
      lambdaRequests: 1e6 * lambdaRequests * prices.lambda.request,
      snsPublishes: 1e6 * requests.SNS * prices.sns.publish,
      sqsRequests: 1e6 * requests.SQS * prices.sqs.request,
    };
    return {
      kind,
      events: n,
      wcu,
      failedWcu: sum((m) => m.failedWcu) / n,
      rcu,
      requests,
      invocations,
      gbSeconds,
      costPerMillion: perMillion({ wcu, rcu, gbSeconds: 0, lambdaRequests, snsPublishes: requests.SNS, sqsRequests: requests.SQS }),
      costWithLocalDurationPerMillion: perMillion({ wcu, rcu, gbSeconds, lambdaRequests, snsPublishes: requests.SNS, sqsRequests: requests.SQS }),
      detail,
      wcuBy,
      wcuByFunction: Object.fromEntries(Object.entries(d).map(([k, m]) => [k, m.wcu / n])),
      costBy,
      storage: storageCost(Math.max(0, (await tableBytes(dynamodb, table)) - bytesBefore) / n),
    };
  }

  try {
    const n = opts.perKind;
    const contact = (i: number) => `1650777${String(i).padStart(4, '0')}`;
    const t0 = 1_760_000_000;
    const kinds: KindCost[] = [];
    kinds.push(await run('inbound message, new conversation', inboundBodies(n, contact, t0)));
    const again = inboundBodies(n, contact, t0 + 10_000);
    kinds.push(await run('inbound message, existing conversation', again));
    kinds.push(await run('inbound message, redelivered', again));
    // Send records as the API writes them (not metered: the send is the API's cost), then their statuses.
    const outbound = new DynamoDbOutbound(documentClient(dynamodb), table);
    const sample = parseEventBody(snsNotification(eumFixture('inbound-text')), Date.now());
    if (sample.kind !== 'ok') throw new Error(sample.reason);
    const pn = sample.parsed.messages[0]!.business.phoneNumberId;
    const ids = Array.from({ length: n }, () => `msg_${randomUUID().replaceAll('-', '')}`);
    const awsIds = ids.map(() => randomUUID());
    // Ten at a time: DynamoDB Local times out transactions waiting for its locks on a loaded machine.
    for (let from = 0; from < n; from += 10) {
      await Promise.all(
        ids.slice(from, from + 10).map(async (id, j) => {
          const i = from + j;
          // A reply of a typical length, and the request hash the API computes for it.
          const body = `Thanks! Your order ${1000 + i} has shipped and should arrive within two working days.`;
          const r = {
            id,
            phoneNumberId: pn,
            contactId: contact(i),
            contact: { waId: contact(i) },
            type: 'text',
            content: { body },
            timestampMs: (t0 + 20_000 + i) * 1000,
            requestHash: requestHash(pn, { type: 'text', to: contact(i), text: { body } } as SendMessageRequest),
            attemptId: randomUUID(),
          };
          await outbound.begin(r, Date.now());
          await outbound.markSent(r, awsIds[i]!, Date.now());
        }),
      );
    }
    kinds.push(await run('status (sent, delivered, read)', statusBodies(ids, awsIds, contact, t0 + 20_000)));
    return { kinds, naive: await naive(ddb.endpoint, table, inboundBodies(n, contact, t0 + 30_000)) };
  } finally {
    await Promise.all([...pollers.map((p) => p.stop()), streamPoller.stop()]);
    await Promise.all([ddb.stop(), aws.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The naive design, measured: SNS invokes a function per event (no queue), which stores the event
 * with one PutItem. Its write units and duration are measured on the same table.
 */
async function naive(endpoint: string, table: string, bodies: string[]) {
  const m = newMeter();
  const doc = documentClient(metered(new DynamoDBClient({ region: REGION, credentials: creds, endpoint }), 'DynamoDB', m));
  const f = { invocations: 0, ms: 0 };
  const handler = timed(async (body: string) => {
    const sns = JSON.parse(body);
    await doc.send(new PutCommand({ TableName: table, Item: { PK: `NAIVE#${randomUUID()}`, SK: 'E', body: sns.Message ?? body } }));
  }, f);
  for (const b of bodies) await handler(snsNotification(JSON.parse(b)));
  const n = bodies.length;
  // The smallest function: 128 MB.
  const gbSeconds = ((f.ms / 1000) * (128 / 1024)) / n;
  const wcu = m.wcu / n;
  const naiveCost = (g: number) => perMillion({ wcu, rcu: 0, gbSeconds: g, lambdaRequests: 1, snsPublishes: 1, sqsRequests: 0 });
  return { wcu, gbSeconds, costPerMillion: naiveCost(0), costWithLocalDurationPerMillion: naiveCost(gbSeconds) };
}

export type CostBench = Awaited<ReturnType<typeof benchCost>>;

const fmt = (n: number, d = 2) => n.toFixed(d);

/** The cost tables: per kind, then where each kind's units and dollars go. */
export function printCost(cost: CostBench): void {
  console.log('\n== Cost per event (the whole pipeline: inbound, the stream, events, webhook delivery; measured; USD without duration) ==');
  console.table(
    Object.fromEntries(
      cost.kinds.map((k) => [
        k.kind,
        {
          'WCU/event': fmt(k.wcu),
          'of them refused (billed)': fmt(k.failedWcu),
          'RCU/event': fmt(k.rcu),
          'DynamoDB req': fmt(k.requests.DynamoDB),
          'SNS req': fmt(k.requests.SNS),
          'SQS req': fmt(k.requests.SQS),
          'invocations': fmt(Object.values(k.invocations).reduce((a, b) => a + b, 0), 3),
          'USD per million': fmt(k.costPerMillion),
          'x naive': fmt(k.costPerMillion / cost.naive.costPerMillion),
          'with local duration, x naive': fmt(k.costWithLocalDurationPerMillion / cost.naive.costWithLocalDurationPerMillion),
        },
      ]),
    ),
  );
  console.log(
    `naive design (SNS → a function per event → one PutItem): ${fmt(cost.naive.wcu)} WCU, ${fmt(cost.naive.costPerMillion)} USD per million events`,
  );
  console.log('\n== Where each kind\'s write units go (per event) and what its cost pays for (USD per million events) ==');
  console.table(
    Object.fromEntries(
      cost.kinds.map((k) => [
        k.kind,
        {
          ...Object.fromEntries(Object.entries(k.wcuBy).map(([where, v]) => [`WCU ${where}`, fmt(v)])),
          ...Object.fromEntries(Object.entries(k.wcuByFunction).map(([fn, v]) => [`WCU by ${fn}`, fmt(v)])),
          ...Object.fromEntries(Object.entries(k.costBy).map(([what, v]) => [`USD ${what}`, fmt(v)])),
        },
      ]),
    ),
  );
  console.log(`\n== Storage left per event (items + index copies, +100 B each), with point-in-time recovery ==`);
  console.table(
    Object.fromEntries(
      cost.kinds.map((k) => [
        k.kind,
        {
          'bytes/event': Math.round(k.storage.bytesPerEvent),
          'USD per million events, a month': fmt(k.storage.usdPerMillionPerMonth, 3),
          [`USD per million events over ${k.storage.retentionDays} days`]: fmt(k.storage.usdPerMillionOverRetention, 3),
        },
      ]),
    ),
  );
}

/** The cost goals of issue 14 from a cost run. */
export function costGoals(cost: CostBench): Goal[] {
  const kind = (prefix: string) => cost.kinds.find((k) => k.kind.startsWith(prefix))!;
  const newConv = kind('inbound message, new');
  const existing = kind('inbound message, existing');
  const redelivered = kind('inbound message, redelivered');
  const status = kind('status');
  return [
    atMost('write units per inbound message (new conversation)', newConv.wcu, 4),
    atMost('write units per inbound message (existing conversation)', existing.wcu, 4),
    atMost('write units per status', status.wcu, 1),
    atMost('write units per redelivered message', redelivered.wcu, 1),
    atMost('cost per million inbound messages / naive', (newConv.costPerMillion + existing.costPerMillion) / 2 / cost.naive.costPerMillion, 2),
    atMost('cost per million statuses / naive', status.costPerMillion / cost.naive.costPerMillion, 1.5),
  ];
}

// `npm run bench:cost`: the cost section alone (BENCH_COST_EVENTS events per kind), its goals and
// its results file.
if (import.meta.main) {
  const { printGoals, writeResults } = await import('./goals.ts');
  const cost = await benchCost({ perKind: Number(process.env.BENCH_COST_EVENTS ?? 200) });
  printCost(cost);
  const goals = costGoals(cost);
  printGoals(goals);
  console.log(`results: ${writeResults(goals, { cost, complete: true, section: 'cost' })}`);
  process.exit(0);
}
