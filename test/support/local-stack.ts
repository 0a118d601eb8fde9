/**
 * The local runtime seen from outside, for tests that publish to its event topic and look at its
 * table and queues: publish, wait until a queue is drained, read the DLQ, scan by entity.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/adapters/aws-clients.ts';
import { startRuntime, type Runtime, type RuntimeOptions } from '../../local/runtime.ts';

const quiet = { info: () => {}, warn: () => {}, error: () => {} };

export interface LocalStack {
  runtime: Runtime;
  sqs: SQSClient;
  publish(message: string): Promise<void>;
  /** Messages on a queue, visible and in flight. */
  depth(queueUrl: string): Promise<number>;
  /** Resolves once the inbound queue is empty and its poller has finished what it took. */
  drained(timeoutMs: number): Promise<void>;
  /** Items of one entity (`message`, `quarantine`, …). */
  items(entity: string): Promise<Array<Record<string, any>>>;
  stop(): Promise<void>;
}

/** `handlers`: handlers to run instead of the deployed ones (by queue name), as `startRuntime` takes them. */
export async function startLocalStack(opts: { handlers?: RuntimeOptions['handlers'] } = {}): Promise<LocalStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-stack-'));
  const runtime = await startRuntime({ dataDir, fresh: true, sandbox: false, ports: { api: 0, aws: 0, dynamodb: 0 }, logger: quiet, ...opts });
  const creds = { region: runtime.info.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
  const sns = new SNSClient({ endpoint: runtime.info.awsEndpointUrl, ...creds });
  const sqs = new SQSClient({ endpoint: runtime.info.awsEndpointUrl, ...creds });
  const dynamo = new DynamoDBClient({ endpoint: runtime.info.dynamodbEndpointUrl, ...creds });
  const doc = documentClient(dynamo);
  const inbound = runtime.info.queues['inbound-events']!;

  const depth = async (queueUrl: string) => {
    const out = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    const a = out.Attributes ?? {};
    return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
  };

  return {
    runtime,
    sqs,
    publish: async (message) => {
      await sns.send(new PublishCommand({ TopicArn: runtime.info.eventTopicArn, Message: message }));
    },
    depth,
    async drained(timeoutMs) {
      const poller = runtime.pollers['inbound-events']!;
      const deadline = Date.now() + timeoutMs;
      let quietRounds = 0;
      let lastRecords = -1;
      // Empty twice in a row with no new records in between: nothing is in flight any more.
      while (quietRounds < 2) {
        if (Date.now() > deadline) throw new Error(`inbound queue not drained in ${timeoutMs} ms (depth ${await depth(inbound.url)})`);
        await new Promise((r) => setTimeout(r, 500));
        const empty = (await depth(inbound.url)) === 0;
        quietRounds = empty && poller.counters.records === lastRecords ? quietRounds + 1 : 0;
        lastRecords = poller.counters.records;
      }
    },
    async items(entity) {
      const out: Array<Record<string, any>> = [];
      let start: Record<string, any> | undefined;
      do {
        const page = await doc.send(
          new ScanCommand({
            TableName: runtime.info.tableName,
            FilterExpression: 'entity = :e',
            ExpressionAttributeValues: { ':e': entity },
            ConsistentRead: true,
            ...(start && { ExclusiveStartKey: start }),
          }),
        );
        out.push(...(page.Items ?? []));
        start = page.LastEvaluatedKey;
      } while (start);
      return out;
    },
    async stop() {
      for (const c of [sns, sqs, dynamo]) c.destroy();
      await runtime.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
