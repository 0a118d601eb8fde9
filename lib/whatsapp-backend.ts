import { RemovalPolicy, Token } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { INBOUND_QUEUE } from './resource-spec.ts';
import { EventIngest } from './constructs/event-ingest.ts';
import { InboundProcessor } from './constructs/inbound-processor.ts';
import { MessageStore } from './constructs/message-store.ts';
import { WabaEventDestination } from './constructs/waba-event-destination.ts';

/** An AWS phone number id as End User Messaging Social names it. */
export const PHONE_NUMBER_ID_PATTERN = /^phone-number-id-[0-9a-f]+$/;

/** Properties of {@link WhatsAppBackend}. */
export interface WhatsAppBackendProps {
  /**
   * AWS WABA id (`waba-<hex>`, as shown by End User Messaging Social, not Meta's numeric id).
   * When set, the WABA's event destination is pointed at the event topic on deploy and
   * cleared when the stack is deleted.
   * @default - none: set the WABA's event destination to the topic yourself
   */
  readonly wabaId?: string;
  /**
   * AWS phone number ids (`phone-number-id-<hex>`) the backend sends from. Kept for the send API,
   * which scopes its permissions to them.
   * @default - none
   */
  readonly phoneNumberIds?: readonly string[];
  /**
   * Whether DynamoDB refuses to delete the message table.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * What happens to the message table and the KMS keys when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long function logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/**
 * A serverless WhatsApp backend on AWS End User Messaging Social, to embed in any CDK app.
 *
 * Events of the WABA flow SNS topic → SQS queue (with DLQ) → `inbound` Lambda → DynamoDB table.
 */
export class WhatsAppBackend extends Construct {
  /** The WABA's event destination (standard topic, KMS-encrypted). */
  readonly eventTopic: Topic;
  /** The single table of messages, conversations and quarantined events. */
  readonly table: Table;
  /** The queue between the event topic and the inbound function. */
  readonly inboundQueue: Queue;
  /** Where events land that the inbound function could not process. */
  readonly inboundDeadLetterQueue: Queue;
  /** The function storing inbound messages, statuses and account events. */
  readonly inboundFunction: NodejsFunction;
  /** The AWS WABA id whose event destination this backend manages, if any. */
  readonly wabaId?: string;
  /** The AWS phone number ids the backend sends from. */
  readonly phoneNumberIds: readonly string[];

  constructor(scope: Construct, id: string, props: WhatsAppBackendProps = {}) {
    super(scope, id);
    const phoneNumberIds = [...(props.phoneNumberIds ?? [])];
    const invalid = phoneNumberIds.filter((p) => !Token.isUnresolved(p) && !PHONE_NUMBER_ID_PATTERN.test(p));
    if (invalid.length > 0) {
      throw new Error(`phoneNumberIds must look like phone-number-id-<hex>, got ${JSON.stringify(invalid)}`);
    }
    this.phoneNumberIds = phoneNumberIds;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    const store = new MessageStore(this, 'MessageStore', {
      deletionProtection: props.deletionProtection,
      removalPolicy,
    });
    const ingest = new EventIngest(this, 'EventIngest', {
      queueSpec: INBOUND_QUEUE,
      keyRemovalPolicy: removalPolicy,
    });
    const inbound = new InboundProcessor(this, 'Inbound', {
      queue: ingest.queue,
      store,
      queueSpec: INBOUND_QUEUE,
      logRetention: props.logRetention,
    });

    if (props.wabaId !== undefined) {
      new WabaEventDestination(this, 'WabaEventDestination', {
        wabaId: props.wabaId,
        topic: ingest.topic,
        logRetention: props.logRetention,
      });
      this.wabaId = props.wabaId;
    }

    this.eventTopic = ingest.topic;
    this.table = store.table;
    this.inboundQueue = ingest.queue;
    this.inboundDeadLetterQueue = ingest.deadLetterQueue;
    this.inboundFunction = inbound.function;
  }
}
