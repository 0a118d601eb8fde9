import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { INBOUND_QUEUE, type QueueSpec } from '../../shared/resource-spec.ts';
import { encryptedQueue } from './encrypted-queue.ts';
import { DATA_REMOVAL_POLICY, KEY_ROTATION, SSL_ONLY } from '../defaults.ts';

/** The service principal of AWS End User Messaging Social (IAM prefix `social-messaging`). */
export const SOCIAL_MESSAGING_PRINCIPAL = 'social-messaging.amazonaws.com';

/** Properties of {@link EventIngest}. */
export interface EventIngestProps {
  /**
   * The queue subscribed to the topic and its settings (visibility timeout, DLQ receive count).
   * @default INBOUND_QUEUE of the resource spec
   */
  readonly queueSpec?: QueueSpec;
  /**
   * What happens to the KMS keys when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly keyRemovalPolicy?: RemovalPolicy;
}

/**
 * The event destination of a WABA and the queue that buffers it: a standard SNS topic that
 * End User Messaging Social may publish to (same account only), an SQS queue subscribed to it
 * (raw delivery off: each body is the SNS notification JSON) and the queue's DLQ.
 *
 * Two customer-managed keys (rotation on): the topic's, whose key policy lets End User Messaging
 * Social encrypt what it publishes, and the queues', which the SQS subscription lets SNS use for
 * this topic only. One shared key would be circular: the topic needs the key, and the key policy
 * names the topic.
 */
export class EventIngest extends Construct {
  readonly topicKey: Key;
  readonly queueKey: Key;
  readonly topic: Topic;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly queueSpec: QueueSpec;

  constructor(scope: Construct, id: string, props: EventIngestProps = {}) {
    super(scope, id);
    const spec = props.queueSpec ?? INBOUND_QUEUE;
    this.queueSpec = spec;
    const account = Stack.of(this).account;
    const socialMessaging = new ServicePrincipal(SOCIAL_MESSAGING_PRINCIPAL);
    // Confused-deputy guard: only publications made for this account's WABAs.
    const sameAccount = { StringEquals: { 'aws:SourceAccount': account } };

    const keyRemovalPolicy = props.keyRemovalPolicy ?? DATA_REMOVAL_POLICY;
    this.topicKey = new Key(this, 'TopicKey', {
      description: 'Encrypts the WhatsApp event topic',
      ...KEY_ROTATION,
      removalPolicy: keyRemovalPolicy,
    });
    this.topicKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowEndUserMessagingSocialToEncryptEvents',
        principals: [socialMessaging],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
        conditions: sameAccount,
      }),
    );

    // End User Messaging Social does not support FIFO topics.
    this.topic = new Topic(this, 'Topic', {
      displayName: 'WhatsApp events (End User Messaging Social)',
      masterKey: this.topicKey,
      ...SSL_ONLY,
    });
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowEndUserMessagingSocialToPublish',
        principals: [socialMessaging],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: sameAccount,
      }),
    );

    this.queueKey = new Key(this, 'QueueKey', {
      description: 'Encrypts the WhatsApp event queue and its DLQ',
      ...KEY_ROTATION,
      removalPolicy: keyRemovalPolicy,
    });

    ({ queue: this.queue, deadLetterQueue: this.deadLetterQueue } = encryptedQueue(this, this.queueKey, spec));

    if (spec.subscribedToEventTopic) {
      // Raw delivery off: the consumer parses the SNS envelope, whose Message is the EUM JSON.
      this.topic.addSubscription(new SqsSubscription(this.queue, { rawMessageDelivery: false }));
    }
  }
}
