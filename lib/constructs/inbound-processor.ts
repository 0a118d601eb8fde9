import { Duration } from 'aws-cdk-lib';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { INBOUND_QUEUE, type QueueSpec } from '../../shared/resource-spec.ts';
import { HandlerFunction } from './handler-function.ts';
import type { MessageStore, TableAccess } from './message-store.ts';

/**
 * The table calls of the inbound handler (DynamoDbStore): one GetItem of a message's key (a
 * redelivery is told by a read rather than by refused, billed writes), a transaction of Puts (the
 * message, and a contact alias when there is one) and an Update (its conversation), Updates (the
 * conversation window, conditional; statuses, unconditional and commutative) and conditional Puts
 * (account events, quarantine). A status of a broadcast message also counts on its broadcast: a
 * transaction of a ConditionCheck (the recipient still on that message), a conditional Put (the
 * status marker) and an Update (the counter). It never queries or deletes.
 */
export const INBOUND_TABLE_ACCESS: TableAccess = { items: ['GetItem', 'PutItem', 'UpdateItem', 'ConditionCheckItem'] };

/** Properties of {@link InboundProcessor}. */
export interface InboundProcessorProps {
  /** The queue the topic delivers WhatsApp events to. */
  readonly queue: IQueue;
  /** The message store the handler writes to. */
  readonly store: MessageStore;
  /**
   * Handler folder, timeout and event source settings.
   * @default INBOUND_QUEUE of the resource spec
   */
  readonly queueSpec?: QueueSpec;
  /**
   * How long the function's logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/**
 * The `inbound` function draining the event queue into the message table. Batch size and window
 * come from the resource spec; failures are reported per record so a transient error retries only
 * that record, and a record that keeps failing lands in the queue's DLQ.
 */
export class InboundProcessor extends Construct {
  readonly function: LambdaFunction;

  constructor(scope: Construct, id: string, props: InboundProcessorProps) {
    super(scope, id);
    const spec = props.queueSpec ?? INBOUND_QUEUE;

    const handler = new HandlerFunction(this, 'Handler', {
      handler: spec.handler,
      timeout: Duration.seconds(spec.handlerTimeoutSeconds),
      logRetention: props.logRetention,
      description: 'Stores WhatsApp events from End User Messaging Social',
      // Permission and the variable that points at the resource, side by side.
      environment: { TABLE_NAME: props.store.table.tableName, ...props.store.retentionEnvironment() },
    });
    this.function = handler.function;
    props.store.grantItemAccess(this.function, INBOUND_TABLE_ACCESS);

    this.function.addEventSource(
      new SqsEventSource(props.queue, {
        batchSize: spec.batchSize,
        maxBatchingWindow: Duration.seconds(spec.maxBatchingWindowSeconds),
        reportBatchItemFailures: true,
      }),
    );
  }
}
