import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { StartingPosition, FilterCriteria, FilterRule, type Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DLQ_RETENTION_DAYS, EVENTS_STREAM, WEBHOOK_DELIVERY_QUEUE, WEBHOOK_RETRY_QUEUE } from '../../shared/resource-spec.ts';
import { HandlerFunction } from './handler-function.ts';
import type { MessageStore, TableAccess } from './message-store.ts';
import { WorkQueue } from './work-queue.ts';
import { DATA_REMOVAL_POLICY, KEY_ROTATION, SSL_ONLY } from '../defaults.ts';

/**
 * The table calls of the events handler: the merged Message (GetItem, BatchGetItem, Query GSI2 by
 * wamid) and the parking of events that could not be published (BatchWriteItem, Query GSI1).
 */
export const EVENTS_TABLE_ACCESS: TableAccess = { items: ['GetItem', 'BatchGetItem', 'BatchWriteItem'], queryIndexes: ['GSI1', 'GSI2'] };

/**
 * The table calls of the webhook delivery function: the webhook of a job (consistent GetItem), the
 * registered webhooks (Query GSI1, whose keys-only entries are read whole by BatchGetItem) and the
 * log of attempts and parked jobs (BatchWriteItem).
 */
export const WEBHOOKS_TABLE_ACCESS: TableAccess = { items: ['GetItem', 'BatchGetItem', 'BatchWriteItem'], queryIndexes: ['GSI1'] };

/**
 * The table calls of the webhook routes of the API: GetItem, BatchGetItem (a list's items, after
 * Query GSI1 gave their keys), PutItem, UpdateItem, DeleteItem, all within what the API may do
 * already (API_TABLE_ACCESS), so they add no grant.
 */
export const WEBHOOK_ADMIN_TABLE_ACCESS: TableAccess = { items: ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem', 'DeleteItem'], queryIndexes: ['GSI1'] };

/** Entities whose changes become events: the stream mapping hands the function nothing else. */
export const EVENT_ENTITIES = ['message', 'accountEvent', 'quarantine'] as const;

/** Properties of {@link DomainEvents}. */
export interface DomainEventsProps {
  /** The table whose stream is the source of the events. */
  readonly store: MessageStore;
  /**
   * How long the functions' logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the KMS keys when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly keyRemovalPolicy?: RemovalPolicy;
}

/**
 * Events out to the business's own app. The table's stream (new and old images) feeds the `events`
 * function, which publishes CloudEvents to the events topic (KMS) with PublishBatch and parks in
 * the table, whole, what it could not publish. Users subscribe their own queues, functions or HTTPS
 * endpoints to the topic (message attributes `type` and `phoneNumberId` for filter policies).
 *
 * Webhooks: the topic feeds a delivery queue (raw, with DLQ) drained by the `webhooks` function,
 * which signs and POSTs each event to every registered endpoint, one job per (event, endpoint);
 * failed jobs wait on the retry queue (with DLQ). Secrets are encrypted with their own KMS key.
 */
export class DomainEvents extends Construct {
  readonly topic: Topic;
  readonly topicKey: Key;
  readonly eventsFunction: LambdaFunction;
  /** Pointers (shard, sequence numbers) of stream batches given up after their retries. */
  readonly streamFailureQueue: Queue;
  readonly deliveryQueue: Queue;
  readonly deliveryDeadLetterQueue: Queue;
  readonly retryQueue: Queue;
  readonly retryDeadLetterQueue: Queue;
  readonly webhooksFunction: LambdaFunction;
  readonly secretsKey: Key;
  private readonly retries: WorkQueue;

  constructor(scope: Construct, id: string, props: DomainEventsProps) {
    super(scope, id);
    const removalPolicy = props.keyRemovalPolicy ?? DATA_REMOVAL_POLICY;

    this.topicKey = new Key(this, 'TopicKey', { description: 'Encrypts the domain-events topic', ...KEY_ROTATION, removalPolicy });
    this.topic = new Topic(this, 'Topic', { displayName: 'WhatsApp backend domain events (CloudEvents)', masterKey: this.topicKey, ...SSL_ONLY });

    const events = new HandlerFunction(this, 'Events', {
      handler: EVENTS_STREAM.handler,
      timeout: Duration.seconds(EVENTS_STREAM.handlerTimeoutSeconds),
      logRetention: props.logRetention,
      description: "Publishes the table's changes as CloudEvents",
      environment: { TABLE_NAME: props.store.table.tableName, EVENTS_TOPIC_ARN: this.topic.topicArn },
    });
    this.eventsFunction = events.function;
    props.store.grantItemAccess(this.eventsFunction, EVENTS_TABLE_ACCESS);
    // Publish and what SNS needs of the topic key for it; nothing else (grantPublish would add ReEncrypt*).
    this.eventsFunction.addToRolePolicy(new PolicyStatement({ actions: ['sns:Publish'], resources: [this.topic.topicArn] }));
    this.eventsFunction.addToRolePolicy(new PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [this.topicKey.keyArn] }));

    // SQS-managed encryption: it holds pointers only, and a KMS key would need the function to
    // hold kms:ReEncrypt* and GenerateDataKey* (what SqsDlq grants on a customer key).
    this.streamFailureQueue = new Queue(this, 'StreamFailures', {
      encryption: QueueEncryption.SQS_MANAGED,
      ...SSL_ONLY,
      retentionPeriod: Duration.days(DLQ_RETENTION_DAYS),
    });
    Validations.of(this.streamFailureQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: "The stream mapping's on-failure destination: a dead-letter queue itself.",
    });
    this.eventsFunction.addEventSource(
      new DynamoEventSource(props.store.table, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: EVENTS_STREAM.batchSize,
        // The local stream poller gathers for the same window (none by default: see resource-spec.ts).
        ...(EVENTS_STREAM.maxBatchingWindowSeconds > 0 && { maxBatchingWindow: Duration.seconds(EVENTS_STREAM.maxBatchingWindowSeconds) }),
        bisectBatchOnError: EVENTS_STREAM.bisectBatchOnError,
        retryAttempts: EVENTS_STREAM.retryAttempts,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.streamFailureQueue),
        filters: [FilterCriteria.filter({ dynamodb: { NewImage: { entity: { S: FilterRule.or(...EVENT_ENTITIES) } } } })],
      }),
    );
    // The stream's own ListStreams has no resource-level permission.
    Validations.of(events.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'dynamodb:ListStreams (stream event source) and X-Ray have no resource-level permissions.',
    });

    // Webhook delivery.
    const delivery = new WorkQueue(this, 'Delivery', { queueSpec: WEBHOOK_DELIVERY_QUEUE, keyRemovalPolicy: removalPolicy });
    this.deliveryQueue = delivery.queue;
    this.deliveryDeadLetterQueue = delivery.deadLetterQueue;
    delivery.key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowEventsTopicToDeliver',
        principals: [new ServicePrincipal('sns.amazonaws.com')],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
        conditions: { ArnEquals: { 'aws:SourceArn': this.topic.topicArn } },
      }),
    );
    this.topic.addSubscription(new SqsSubscription(this.deliveryQueue, { rawMessageDelivery: true }));
    this.retries = new WorkQueue(this, 'Retry', { queueSpec: WEBHOOK_RETRY_QUEUE, keyRemovalPolicy: removalPolicy });
    this.retryQueue = this.retries.queue;
    this.retryDeadLetterQueue = this.retries.deadLetterQueue;

    this.secretsKey = new Key(this, 'SecretsKey', { description: 'Encrypts webhook signing secrets', ...KEY_ROTATION, removalPolicy });
    const webhooks = new HandlerFunction(this, 'Webhooks', {
      handler: WEBHOOK_DELIVERY_QUEUE.handler,
      timeout: Duration.seconds(WEBHOOK_DELIVERY_QUEUE.handlerTimeoutSeconds),
      logRetention: props.logRetention,
      description: 'Delivers domain events to the registered webhooks, signed',
      environment: {
        TABLE_NAME: props.store.table.tableName,
        WEBHOOKS_KEY_ID: this.secretsKey.keyArn,
        WEBHOOK_RETRY_QUEUE_URL: this.retryQueue.queueUrl,
      },
    });
    this.webhooksFunction = webhooks.function;
    props.store.grantItemAccess(this.webhooksFunction, WEBHOOKS_TABLE_ACCESS);
    this.secretsKey.grant(this.webhooksFunction, 'kms:Decrypt');
    this.retries.grantSend(this.webhooksFunction);
    for (const [queue, spec] of [
      [this.deliveryQueue, WEBHOOK_DELIVERY_QUEUE],
      [this.retryQueue, WEBHOOK_RETRY_QUEUE],
    ] as const) {
      this.webhooksFunction.addEventSource(new SqsEventSource(queue, { batchSize: spec.batchSize, reportBatchItemFailures: true }));
    }
  }

  /**
   * Lets the API function manage webhooks: encrypting secrets with the secrets key and putting
   * parked jobs back on the retry queue (replay). Its table access covers WEBHOOK_ADMIN_TABLE_ACCESS.
   */
  grantWebhookAdmin(fn: LambdaFunction): void {
    fn.addEnvironment('WEBHOOKS_KEY_ID', this.secretsKey.keyArn);
    fn.addEnvironment('WEBHOOK_RETRY_QUEUE_URL', this.retryQueue.queueUrl);
    this.secretsKey.grant(fn, 'kms:Encrypt');
    this.retries.grantSend(fn);
  }
}
