import { createHash } from 'node:crypto';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { INBOUND_QUEUE, type QueueSpec } from '../../shared/resource-spec.ts';
import { startPoller, type Poller, type SqsHandler } from '../../local/poller.ts';
import { defaultResourceNames, provisionQueues, type ProvisionedQueue } from '../../local/provision.ts';
import { startAwsEmulator, type RunningServer } from '../../local/servers.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

/** The inbound spec under another name, drained without a batching window. */
function fastSpec(name: string, overrides: Partial<QueueSpec> = {}): QueueSpec {
  return {
    ...INBOUND_QUEUE,
    name,
    handlerTimeoutSeconds: 5,
    maxBatchingWindowSeconds: 0,
    subscribedToEventTopic: false,
    ...overrides,
  };
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('startPoller', () => {
  let aws: RunningServer;
  let sqs: SQSClient;
  let topicArn: string;
  const pollers: Poller[] = [];
  let n = 0;

  async function queueFor(spec: QueueSpec): Promise<ProvisionedQueue> {
    const queues = await provisionQueues({
      sqs,
      sns: new SNSClient({ endpoint: aws.endpoint, region: 'us-east-1', credentials }),
      topicArn,
      queues: [spec],
      names: defaultResourceNames('poller-test'),
      sqsEndpoint: aws.endpoint,
    });
    const q = queues[spec.name]!;
    // A 1 s visibility timeout (instead of six times the handler timeout) brings redeliveries
    // back within the test; the redrive policy stays the one provision set.
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: q.url, Attributes: { VisibilityTimeout: '1' } }));
    return q;
  }

  async function counts(url: string): Promise<{ visible: number; inFlight: number }> {
    const a = (
      await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      )
    ).Attributes!;
    return { visible: Number(a.ApproximateNumberOfMessages), inFlight: Number(a.ApproximateNumberOfMessagesNotVisible) };
  }

  async function poll(spec: QueueSpec, q: ProvisionedQueue, handler: SqsHandler): Promise<Poller> {
    const p = await startPoller({ sqs, queueUrl: q.url, spec, handler });
    pollers.push(p);
    return p;
  }

  beforeAll(async () => {
    aws = await startAwsEmulator();
    sqs = new SQSClient({ endpoint: aws.endpoint, region: 'us-east-1', credentials });
    const sns = new SNSClient({ endpoint: aws.endpoint, region: 'us-east-1', credentials });
    topicArn = (await sns.send(new CreateTopicCommand({ Name: 'poller-test-events' }))).TopicArn!;
  });

  afterEach(async () => {
    await Promise.all(pollers.splice(0).map((p) => p.stop()));
  });

  afterAll(async () => {
    await aws?.stop();
  });

  it('hands the handler an SQSEvent shaped like the one Lambda delivers', async () => {
    // Prepare
    const spec = fastSpec(`shape-${n++}`);
    const q = await queueFor(spec);
    const events: SQSEvent[] = [];
    const contexts: { functionName: string; awsRequestId: string; remainingMs: number }[] = [];
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: q.url,
        MessageBody: '{"hello":"world"}',
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: 'greeting' },
          blob: { DataType: 'Binary', BinaryValue: Buffer.from([1, 2, 3]) },
        },
      }),
    );

    // Act
    const poller = await poll(spec, q, async (event, context) => {
      const { functionName, awsRequestId } = context;
      contexts.push({ functionName, awsRequestId, remainingMs: context.getRemainingTimeInMillis() });
      events.push(event);
    });
    await until(() => poller.counters.deleted === 1);

    // Assess
    expect(events).toHaveLength(1);
    expect(contexts[0]!.functionName).toBe(spec.handler);
    expect(contexts[0]!.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(contexts[0]!.remainingMs).toBeGreaterThan(1_000);
    expect(contexts[0]!.remainingMs).toBeLessThanOrEqual(5_000);
    const record = events[0]!.Records[0]!;
    expect(record).toMatchObject({
      body: '{"hello":"world"}',
      md5OfBody: createHash('md5').update('{"hello":"world"}').digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: q.arn,
      awsRegion: 'us-east-1',
      messageAttributes: {
        kind: { dataType: 'String', stringValue: 'greeting' },
        blob: { dataType: 'Binary', binaryValue: Buffer.from([1, 2, 3]).toString('base64') },
      },
    });
    expect(record.messageId).toBeTruthy();
    expect(record.receiptHandle).toBeTruthy();
    expect(record.attributes.ApproximateReceiveCount).toBe('1');
    expect(Number(record.attributes.SentTimestamp)).toBeGreaterThan(Date.now() - 60_000);
    expect(await counts(q.url)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('receives again only the record the handler reported in batchItemFailures', async () => {
    // Prepare
    const spec = fastSpec(`partial-${n++}`);
    const q = await queueFor(spec);
    const seen: SQSRecord[] = [];
    let failedOnce = false;
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: q.url,
        Entries: ['a', 'b', 'c'].map((body) => ({ Id: body, MessageBody: body })),
      }),
    );

    // Act
    const poller = await poll(spec, q, async (event) => {
      seen.push(...event.Records);
      const b = event.Records.find((r) => r.body === 'b');
      if (b && !failedOnce) {
        failedOnce = true;
        return { batchItemFailures: [{ itemIdentifier: b.messageId }] };
      }
      return { batchItemFailures: [] };
    });
    await until(() => poller.counters.deleted === 3);

    // Assess
    expect(seen.map((r) => r.body).sort()).toEqual(['a', 'b', 'b', 'c']);
    const bs = seen.filter((r) => r.body === 'b');
    expect(bs.map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
    expect(poller.counters).toMatchObject({ records: 4, deleted: 3, failures: 1, handlerErrors: 0 });
    expect(await counts(q.url)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('moves a message the handler always fails on to the DLQ after maxReceiveCount receives', async () => {
    // Prepare
    const spec = fastSpec(`dlq-${n++}`, { maxReceiveCount: 2 });
    const q = await queueFor(spec);
    const receiveCounts: string[] = [];
    await sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'poison' }));

    // Act
    const poller = await poll(spec, q, async (event) => {
      receiveCounts.push(...event.Records.map((r) => r.attributes.ApproximateReceiveCount));
      throw new Error('always fails');
    });
    const dead = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: q.dlqUrl, WaitTimeSeconds: 10, MessageSystemAttributeNames: ['All'] }),
    );

    // Assess
    expect(dead.Messages?.map((m) => m.Body)).toEqual(['poison']);
    expect(receiveCounts).toEqual(['1', '2']);
    expect(poller.counters).toMatchObject({ batches: 2, deleted: 0, failures: 2, handlerErrors: 2 });
    expect(await counts(q.url)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('fails the whole batch when batchItemFailures names a record that is not in it', async () => {
    // Prepare
    const spec = fastSpec(`invalid-${n++}`);
    const q = await queueFor(spec);
    const bodies: string[] = [];
    await sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'x' }));

    // Act
    const poller = await poll(spec, q, async (event) => {
      bodies.push(...event.Records.map((r) => r.body));
      return bodies.length === 1 ? { batchItemFailures: [{ itemIdentifier: 'not-a-message-id' }] } : undefined;
    });
    await until(() => poller.counters.deleted === 1);

    // Assess
    expect(bodies).toEqual(['x', 'x']);
    expect(poller.counters).toMatchObject({ batches: 2, handlerErrors: 1, failures: 1, deleted: 1 });
  });

  it('treats a handler that runs past its timeout as a failed invocation', async () => {
    // Prepare
    const spec = fastSpec(`timeout-${n++}`, { handlerTimeoutSeconds: 1 });
    const q = await queueFor(spec);
    let calls = 0;
    await sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'slow once' }));

    // Act
    const poller = await poll(spec, q, async () => {
      calls++;
      if (calls === 1) await new Promise((r) => setTimeout(r, 1500));
    });
    await until(() => poller.counters.deleted === 1);

    // Assess
    expect(calls).toBe(2);
    expect(poller.counters).toMatchObject({ batches: 2, handlerErrors: 1, failures: 1, deleted: 1 });
  });

  it('never hands the handler more records than the batch size', async () => {
    // Prepare
    const spec = fastSpec(`size-${n++}`, { batchSize: 4, maxBatchingWindowSeconds: 0.5 });
    const q = await queueFor(spec);
    for (let i = 0; i < 20; i += 10) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: q.url,
          Entries: Array.from({ length: 10 }, (_, k) => ({ Id: String(k), MessageBody: String(i + k) })),
        }),
      );
    }
    const sizes: number[] = [];
    const bodies: string[] = [];

    // Act
    const poller = await poll(spec, q, async (event) => {
      sizes.push(event.Records.length);
      bodies.push(...event.Records.map((r) => r.body));
    });
    await until(() => poller.counters.deleted === 20);

    // Assess
    expect(Math.max(...sizes)).toBe(4);
    expect(bodies.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('runs up to `concurrency` batches at once from one receiver: a message on an idle queue costs one receive and one delete', async () => {
    // Prepare: five slots, idle (one long poll waiting), then one message.
    const spec = fastSpec(`slots-${n++}`, { batchSize: 10 });
    const q = await queueFor(spec);
    let active = 0;
    let most = 0;
    let received = 0;
    let hold = false;
    const poller = await startPoller({
      sqs,
      queueUrl: q.url,
      spec,
      concurrency: 5,
      handler: async (event) => {
        active++;
        most = Math.max(most, active);
        received += event.Records.length;
        // Once held: until a third batch runs beside it, or every message is in a batch.
        if (hold) await until(() => active >= 3 || received >= 31);
        active--;
      },
    });
    pollers.push(poller);
    await until(() => poller.counters.sqsRequests >= 1);

    // Act
    await sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'one' }));
    await until(() => poller.counters.deleted === 1);
    const afterOne = poller.counters.sqsRequests;
    hold = true;
    for (let i = 0; i < 30; i += 10) {
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: q.url, Entries: Array.from({ length: 10 }, (_, k) => ({ Id: String(k), MessageBody: String(i + k) })) }));
    }
    await until(() => poller.counters.deleted === 31);

    // Assess: the first long poll, its delete and the next long poll (several pollers would each
    // have been woken by the message and answered empty); then batches side by side, never more
    // than the slots.
    expect(afterOne).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThanOrEqual(2);
    expect(most).toBeLessThanOrEqual(5);
    expect(received).toBe(31);
  });

  it('finishes the batch in flight before stop resolves', async () => {
    // Prepare
    const spec = fastSpec(`stop-${n++}`);
    const q = await queueFor(spec);
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    let finished = false;
    await sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'slow' }));
    const poller = await startPoller({
      sqs,
      queueUrl: q.url,
      spec,
      handler: async () => {
        entered();
        await new Promise((r) => setTimeout(r, 300));
        finished = true;
      },
    });
    await inHandler;

    // Act
    await poller.stop();

    // Assess
    expect(finished).toBe(true);
    expect(poller.counters.deleted).toBe(1);
    expect(await counts(q.url)).toEqual({ visible: 0, inFlight: 0 });
  });
});
