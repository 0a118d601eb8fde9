/**
 * Creates on the local servers what the CDK stack declares in `shared/resource-spec.ts`: the table,
 * the event topic, every queue with its DLQ and topic subscription, and the media bucket.
 *
 * Idempotent: it runs on every `npm start`, also over persisted data, and only creates or corrects
 * what is missing. It uses the ordinary SDK calls a user would make against AWS.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  CreateTopicCommand,
  GetSubscriptionAttributesCommand,
  ListSubscriptionsByTopicCommand,
  SetSubscriptionAttributesCommand,
  SubscribeCommand,
  type SNSClient,
} from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  DLQ_RETENTION_DAYS,
  QUEUES,
  TABLE_INDEX_PROJECTION,
  TABLE_INDEXES,
  TABLE_KEYS,
  TABLE_STREAM_VIEW,
  visibilityTimeoutSeconds,
  type QueueSpec,
} from '../shared/resource-spec.ts';

/** Names of the local resources. */
export interface ResourceNames {
  readonly table: string;
  readonly eventTopic: string;
  /** The domain-events topic (CloudEvents out to the business's app). */
  readonly eventsTopic: string;
  readonly mediaBucket: string;
  /** Queue name for a queue spec; its DLQ is this plus `-dlq`. */
  queue(spec: QueueSpec): string;
}

/** The deterministic names `npm start` uses. */
export function defaultResourceNames(prefix = 'whatsapp-backend'): ResourceNames {
  return {
    table: prefix,
    eventTopic: `${prefix}-events`,
    eventsTopic: `${prefix}-domain-events`,
    mediaBucket: `${prefix}-media`,
    queue: (spec) => `${prefix}-${spec.name}`,
  };
}

export interface ProvisionedQueue {
  readonly url: string;
  readonly arn: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

export interface ProvisionedResources {
  readonly tableName: string;
  readonly topicArn: string;
  /** The domain-events topic. */
  readonly eventsTopicArn: string;
  /** Keyed by `QueueSpec.name`. */
  readonly queues: Record<string, ProvisionedQueue>;
  readonly mediaBucket: string;
}

export interface ProvisionOptions {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  readonly s3: S3Client;
  /** @default defaultResourceNames() */
  readonly names?: ResourceNames;
  /** @default QUEUES */
  readonly queues?: readonly QueueSpec[];
  /**
   * The SQS endpoint the clients talk to. When given, returned queue URLs are rebased onto it: the
   * emulator keeps the URL a queue was created with (an older port after a restart on another port),
   * and the SDK sends requests to a queue URL's own host when no endpoint is configured explicitly.
   */
  readonly sqsEndpoint?: string;
}

/** Creates (or completes) every local resource and returns their names, ARNs and URLs. */
export async function provision(opts: ProvisionOptions): Promise<ProvisionedResources> {
  const names = opts.names ?? defaultResourceNames();
  const specs = opts.queues ?? QUEUES;

  const [tableName, topicArn, eventsTopicArn, mediaBucket] = await Promise.all([
    ensureTable(opts.dynamodb, names.table),
    ensureTopic(opts.sns, names.eventTopic),
    ensureTopic(opts.sns, names.eventsTopic),
    ensureBucket(opts.s3, names.mediaBucket),
  ]);

  const queues = await provisionQueues({ ...opts, names, queues: specs, topicArn, eventsTopicArn });
  return { tableName, topicArn, eventsTopicArn, queues, mediaBucket };
}

export interface ProvisionQueuesOptions {
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  /** The topic that queues with `subscribedToEventTopic` subscribe to. */
  readonly topicArn: string;
  /** The topic that queues with `subscribedToDomainEvents` subscribe to (raw delivery). */
  readonly eventsTopicArn?: string;
  /** @default defaultResourceNames() */
  readonly names?: ResourceNames;
  /** @default QUEUES */
  readonly queues?: readonly QueueSpec[];
  /** See {@link ProvisionOptions.sqsEndpoint}. */
  readonly sqsEndpoint?: string;
}

/** The queue part of {@link provision}: each queue with its DLQ, redrive policy and subscription. */
export async function provisionQueues(opts: ProvisionQueuesOptions): Promise<Record<string, ProvisionedQueue>> {
  const names = opts.names ?? defaultResourceNames();
  const queues: Record<string, ProvisionedQueue> = {};
  for (const spec of opts.queues ?? QUEUES) {
    queues[spec.name] = await ensureQueuePair(opts, names.queue(spec), spec);
  }
  return queues;
}

// ---------------------------------------------------------------------------------------------
// DynamoDB

function attributeDefinitions(): AttributeDefinition[] {
  const names = new Set<string>([TABLE_KEYS.partitionKey, TABLE_KEYS.sortKey]);
  for (const gsi of TABLE_INDEXES) {
    names.add(gsi.partitionKey);
    names.add(gsi.sortKey);
  }
  return [...names].map((AttributeName) => ({ AttributeName, AttributeType: 'S' }));
}

function globalSecondaryIndex(gsi: (typeof TABLE_INDEXES)[number]): GlobalSecondaryIndex {
  return {
    IndexName: gsi.indexName,
    KeySchema: [
      { AttributeName: gsi.partitionKey, KeyType: 'HASH' },
      { AttributeName: gsi.sortKey, KeyType: 'RANGE' },
    ],
    Projection: { ProjectionType: TABLE_INDEX_PROJECTION },
  };
}

async function describeTable(client: DynamoDBClient, name: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: name }))).Table;
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') return undefined;
    throw err;
  }
}

/** Creates or upgrades the message table; `timeToLive: false` leaves its TTL off (the stack turns it on). */
export async function ensureTable(client: DynamoDBClient, name: string, opts: { timeToLive?: boolean } = {}): Promise<string> {
  let table = await describeTable(client, name);
  if (!table) {
    try {
      await client.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: attributeDefinitions(),
          KeySchema: [
            { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
            { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
          ],
          GlobalSecondaryIndexes: TABLE_INDEXES.map(globalSecondaryIndex),
          StreamSpecification: { StreamEnabled: true, StreamViewType: TABLE_STREAM_VIEW },
        }),
      );
    } catch (err) {
      // Another provisioner won the race; what exists is checked below like any persisted table.
      if ((err as Error).name !== 'ResourceInUseException') throw err;
    }
    table = await describeTable(client, name);
  }
  if (!table) throw new Error(`Table ${name} is missing right after it was created`);

  const keys = table.KeySchema ?? [];
  const hash = keys.find((k) => k.KeyType === 'HASH')?.AttributeName;
  const range = keys.find((k) => k.KeyType === 'RANGE')?.AttributeName;
  if (hash !== TABLE_KEYS.partitionKey || range !== TABLE_KEYS.sortKey) {
    throw new Error(
      `Table ${name} has keys ${hash}/${range}, expected ${TABLE_KEYS.partitionKey}/${TABLE_KEYS.sortKey}; ` +
        'start with --fresh to recreate the local data',
    );
  }

  // A persisted table from before an index was added to the spec gets the index now, one per call
  // (DynamoDB creates a single GSI per UpdateTable).
  const existing = new Set((table.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName));
  for (const gsi of TABLE_INDEXES) {
    if (existing.has(gsi.indexName)) continue;
    await client.send(
      new UpdateTableCommand({
        TableName: name,
        AttributeDefinitions: attributeDefinitions(),
        GlobalSecondaryIndexUpdates: [{ Create: globalSecondaryIndex(gsi) }],
      }),
    );
  }

  // A persisted table from before the stream was declared gets it now.
  if (!table.StreamSpecification?.StreamEnabled) {
    await client.send(
      new UpdateTableCommand({ TableName: name, StreamSpecification: { StreamEnabled: true, StreamViewType: TABLE_STREAM_VIEW } }),
    );
  } else if (table.StreamSpecification.StreamViewType !== TABLE_STREAM_VIEW) {
    throw new Error(`Table ${name} streams ${table.StreamSpecification.StreamViewType}, expected ${TABLE_STREAM_VIEW}; start with --fresh`);
  }

  if (opts.timeToLive === false) return name;
  const ttl = (await client.send(new DescribeTimeToLiveCommand({ TableName: name }))).TimeToLiveDescription;
  const ttlOn = ttl?.TimeToLiveStatus === 'ENABLED' || ttl?.TimeToLiveStatus === 'ENABLING';
  if (!ttlOn) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: TABLE_KEYS.ttlAttribute, Enabled: true },
      }),
    );
  } else if (ttl?.AttributeName !== TABLE_KEYS.ttlAttribute) {
    throw new Error(
      `Table ${name} has TTL on ${ttl?.AttributeName}, expected ${TABLE_KEYS.ttlAttribute}; ` +
        'start with --fresh to recreate the local data',
    );
  }
  return name;
}

// ---------------------------------------------------------------------------------------------
// SNS, SQS, S3

async function ensureTopic(client: SNSClient, name: string): Promise<string> {
  // CreateTopic returns the existing topic's ARN when the name is taken.
  const out = await client.send(new CreateTopicCommand({ Name: name }));
  if (!out.TopicArn) throw new Error(`CreateTopic ${name} returned no ARN`);
  return out.TopicArn;
}

async function ensureBucket(client: S3Client, name: string): Promise<string> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: name }));
    return name;
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 404 && (err as Error).name !== 'NotFound') throw err;
  }
  try {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  } catch (err) {
    if ((err as Error).name !== 'BucketAlreadyOwnedByYou') throw err;
  }
  return name;
}

function rebase(url: string, endpoint: string | undefined): string {
  if (!endpoint) return url;
  const path = url.replace(/^https?:\/\/[^/]+/, '');
  return new URL(path, endpoint).toString();
}

/** Creates the queue, or brings an existing one's attributes to the wanted values. */
async function ensureQueue(
  client: SQSClient,
  name: string,
  attributes: Record<string, string>,
  endpoint: string | undefined,
): Promise<{ url: string; arn: string }> {
  let url: string | undefined;
  try {
    url = (await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl;
  } catch (err) {
    // SQS refuses CreateQueue for an existing name with other attribute values (the spec changed
    // since the data was persisted): update the queue in place instead.
    if (!(err as Error).name.endsWith('QueueNameExists')) throw err;
    url = (await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    if (!url) throw new Error(`GetQueueUrl ${name} returned no URL`);
    await client.send(new SetQueueAttributesCommand({ QueueUrl: rebase(url, endpoint), Attributes: attributes }));
  }
  if (!url) throw new Error(`CreateQueue ${name} returned no URL`);
  url = rebase(url, endpoint);
  const got = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  const arn = got.Attributes?.QueueArn;
  if (!arn) throw new Error(`Queue ${name} has no QueueArn`);
  return { url, arn };
}

/** The queue policy AWS needs before SNS may deliver to a queue (the emulator does not enforce it). */
function allowTopicPolicy(queueArn: string, topicArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AllowEventTopic',
        Effect: 'Allow',
        Principal: { Service: 'sns.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: queueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
      },
    ],
  });
}

/** The ARN of the topic's SQS subscription for `queueArn`, if there is one. */
async function findSubscription(client: SNSClient, topicArn: string, queueArn: string): Promise<string | undefined> {
  let NextToken: string | undefined;
  do {
    const page = await client.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken }));
    const hit = page.Subscriptions?.find((s) => s.Protocol === 'sqs' && s.Endpoint === queueArn);
    // A subscription still pending confirmation has no ARN yet; SQS subscriptions never are.
    if (hit?.SubscriptionArn?.startsWith('arn:')) return hit.SubscriptionArn;
    NextToken = page.NextToken;
  } while (NextToken);
  return undefined;
}

/**
 * Subscribes a queue to a topic (with the queue policy AWS needs). Bodies are SNS notifications
 * (JSON envelope) for the event-destination topic, as in the deployed stack, and the CloudEvent itself
 * (raw) for the domain-events topic; a subscription someone switched by hand is switched back.
 */
async function ensureSubscription(
  opts: { sqs: SQSClient; sns: SNSClient },
  queue: { url: string; arn: string },
  topicArn: string,
  raw: boolean,
  name: string,
): Promise<void> {
  await opts.sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: queue.url,
      Attributes: { Policy: allowTopicPolicy(queue.arn, topicArn) },
    }),
  );
  const subscriptionArn =
    (await findSubscription(opts.sns, topicArn, queue.arn)) ??
    (
      await opts.sns.send(
        new SubscribeCommand({
          TopicArn: topicArn,
          Protocol: 'sqs',
          Endpoint: queue.arn,
          Attributes: { RawMessageDelivery: String(raw) },
          ReturnSubscriptionArn: true,
        }),
      )
    ).SubscriptionArn;
  if (!subscriptionArn) throw new Error(`Subscribe ${name} returned no subscription ARN`);
  const current = await opts.sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: subscriptionArn }));
  if ((current.Attributes?.RawMessageDelivery === 'true') !== raw) {
    await opts.sns.send(
      new SetSubscriptionAttributesCommand({
        SubscriptionArn: subscriptionArn,
        AttributeName: 'RawMessageDelivery',
        AttributeValue: String(raw),
      }),
    );
  }
}

async function ensureQueuePair(opts: ProvisionQueuesOptions, name: string, spec: QueueSpec): Promise<ProvisionedQueue> {
  const dlq = await ensureQueue(
    opts.sqs,
    `${name}-dlq`,
    { MessageRetentionPeriod: String(DLQ_RETENTION_DAYS * 24 * 3600) },
    opts.sqsEndpoint,
  );
  const queue = await ensureQueue(
    opts.sqs,
    name,
    {
      VisibilityTimeout: String(visibilityTimeoutSeconds(spec)),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: spec.maxReceiveCount }),
    },
    opts.sqsEndpoint,
  );

  if (spec.subscribedToEventTopic) await ensureSubscription(opts, queue, opts.topicArn, false, name);
  if (spec.subscribedToDomainEvents) {
    if (!opts.eventsTopicArn) throw new Error(`Queue ${name} subscribes to the domain-events topic, but none was given`);
    await ensureSubscription(opts, queue, opts.eventsTopicArn, true, name);
  }
  return { url: queue.url, arn: queue.arn, dlqUrl: dlq.url, dlqArn: dlq.arn };
}

/**
 * A plain queue subscribed to the event topic, for a local consumer that is not one of the stack's
 * (the sandbox WABA reads the topic through it). No DLQ: its reader never fails a message.
 */
export async function ensureTopicSubscriber(opts: {
  sqs: SQSClient;
  sns: SNSClient;
  topicArn: string;
  queueName: string;
  sqsEndpoint?: string;
}): Promise<{ url: string; arn: string }> {
  const queue = await ensureQueue(opts.sqs, opts.queueName, { VisibilityTimeout: '30', MessageRetentionPeriod: String(3600) }, opts.sqsEndpoint);
  await ensureSubscription(opts, queue, opts.topicArn, false, opts.queueName);
  return queue;
}
