import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSubscriptionAttributesCommand, ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INBOUND_QUEUE, QUEUES, TABLE_INDEXES, visibilityTimeoutSeconds } from '../../shared/resource-spec.ts';
import { provision, type ProvisionOptions } from '../../local/provision.ts';
import { startAwsEmulator, startDynamoDb, type RunningServer } from '../../local/servers.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const region = 'us-east-1';

function clients(dynamodbEndpoint: string, awsEndpoint: string) {
  return {
    dynamodb: new DynamoDBClient({ endpoint: dynamodbEndpoint, region, credentials }),
    sqs: new SQSClient({ endpoint: awsEndpoint, region, credentials }),
    sns: new SNSClient({ endpoint: awsEndpoint, region, credentials }),
    s3: new S3Client({ endpoint: awsEndpoint, region, credentials }),
    sqsEndpoint: awsEndpoint,
  } satisfies ProvisionOptions;
}

describe('provision', () => {
  let dataDir: string;
  let dynamo: RunningServer;
  let aws: RunningServer;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'provision-'));
    [dynamo, aws] = await Promise.all([
      startDynamoDb({ dataDir: join(dataDir, 'dynamodb') }),
      startAwsEmulator({ dataDir: join(dataDir, 'aws') }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([dynamo?.stop(), aws?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates the table, topic, queues, subscriptions and bucket of the resource spec', async () => {
    // Prepare
    const c = clients(dynamo.endpoint, aws.endpoint);

    // Act
    const out = await provision(c);

    // Assess
    expect(out.tableName).toBe('whatsapp-backend');
    expect(out.mediaBucket).toBe('whatsapp-backend-media');
    expect(out.topicArn).toBe('arn:aws:sns:us-east-1:000000000000:whatsapp-backend-events');
    expect(Object.keys(out.queues).sort()).toEqual(QUEUES.map((q) => q.name).sort());

    const table = (await c.dynamodb.send(new DescribeTableCommand({ TableName: out.tableName }))).Table!;
    expect(table.KeySchema).toEqual([
      { AttributeName: 'PK', KeyType: 'HASH' },
      { AttributeName: 'SK', KeyType: 'RANGE' },
    ]);
    expect(table.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    const gsis = table.GlobalSecondaryIndexes ?? [];
    expect(gsis.map((g) => g.IndexName).sort()).toEqual(TABLE_INDEXES.map((g) => g.indexName).sort());
    for (const g of gsis) expect(g.Projection?.ProjectionType).toBe('KEYS_ONLY');
    const ttl = await c.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: out.tableName }));
    expect(ttl.TimeToLiveDescription).toMatchObject({ TimeToLiveStatus: 'ENABLED', AttributeName: 'ttl' });

    const inbound = out.queues[INBOUND_QUEUE.name]!;
    const attrs = (
      await c.sqs.send(new GetQueueAttributesCommand({ QueueUrl: inbound.url, AttributeNames: ['All'] }))
    ).Attributes!;
    expect(attrs.QueueArn).toBe(inbound.arn);
    expect(attrs.VisibilityTimeout).toBe(String(visibilityTimeoutSeconds(INBOUND_QUEUE)));
    expect(JSON.parse(attrs.RedrivePolicy!)).toMatchObject({ deadLetterTargetArn: inbound.dlqArn });
    expect(Number(JSON.parse(attrs.RedrivePolicy!).maxReceiveCount)).toBe(INBOUND_QUEUE.maxReceiveCount);

    const subs = (await c.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: out.topicArn }))).Subscriptions!;
    expect(subs.map((s) => s.Endpoint)).toEqual([inbound.arn]);
    const subAttrs = await c.sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: subs[0]!.SubscriptionArn }));
    expect(subAttrs.Attributes?.RawMessageDelivery).toBe('false');

    await expect(c.s3.send(new HeadBucketCommand({ Bucket: out.mediaBucket }))).resolves.toBeDefined();
  });

  it('returns the same resources and creates nothing twice when run again', async () => {
    // Prepare
    const c = clients(dynamo.endpoint, aws.endpoint);
    const first = await provision(c);

    // Act
    const second = await provision(c);

    // Assess
    expect(second).toEqual(first);
    const queues = (await c.sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'whatsapp-backend-' }))).QueueUrls ?? [];
    expect(queues).toHaveLength(QUEUES.length * 2);
    const subs = (await c.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: second.topicArn }))).Subscriptions!;
    expect(subs).toHaveLength(QUEUES.filter((q) => q.subscribedToEventTopic).length);
  });

  it('brings an existing queue to a changed spec instead of failing', async () => {
    // Prepare
    const c = clients(dynamo.endpoint, aws.endpoint);
    await provision(c);
    const changed = { ...INBOUND_QUEUE, handlerTimeoutSeconds: 20, maxReceiveCount: 7 };

    // Act
    const out = await provision({ ...c, queues: [changed] });

    // Assess
    const attrs = (
      await c.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: out.queues[changed.name]!.url, AttributeNames: ['All'] }),
      )
    ).Attributes!;
    expect(attrs.VisibilityTimeout).toBe('120');
    expect(Number(JSON.parse(attrs.RedrivePolicy!).maxReceiveCount)).toBe(7);
    await provision(c); // back to the real spec for the other tests
  });

  it('keeps working over persisted data after a restart on other ports', async () => {
    // Prepare
    const before = await provision(clients(dynamo.endpoint, aws.endpoint));
    await Promise.all([dynamo.stop(), aws.stop()]);
    [dynamo, aws] = await Promise.all([
      startDynamoDb({ dataDir: join(dataDir, 'dynamodb') }),
      startAwsEmulator({ dataDir: join(dataDir, 'aws') }),
    ]);
    const c = clients(dynamo.endpoint, aws.endpoint);

    // Act
    const after = await provision(c);

    // Assess
    expect(after.topicArn).toBe(before.topicArn);
    const inbound = after.queues[INBOUND_QUEUE.name]!;
    expect(inbound.arn).toBe(before.queues[INBOUND_QUEUE.name]!.arn);
    expect(new URL(inbound.url).origin).toBe(aws.endpoint);
    const subs = (await c.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: after.topicArn }))).Subscriptions!;
    expect(subs).toHaveLength(1);
  }, 60_000);
});
