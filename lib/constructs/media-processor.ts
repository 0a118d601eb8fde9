import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MEDIA_QUEUE, type QueueSpec } from '../../shared/resource-spec.ts';
import { HandlerFunction } from './handler-function.ts';
import type { MediaStore } from './media-store.ts';
import type { MessageStore, TableAccess } from './message-store.ts';
import { grantPhoneNumberActions } from './phone-numbers.ts';
import { WorkQueue } from './work-queue.ts';

/** What the media function may do on the configured phone numbers, and nothing else there. */
export const MEDIA_PHONE_NUMBER_ACTIONS = ['GetWhatsAppMessageMedia'] as const;

/**
 * The table calls of the media handler (DynamoDbMediaRecords, inbound copy only): every state change
 * of a message's `media` map (claim, release, stored, failed) is one conditional Update, whose
 * failed condition returns the old item without a read.
 */
export const MEDIA_TABLE_ACCESS: TableAccess = { items: ['UpdateItem'] };

/** Properties of {@link MediaProcessor}. */
export interface MediaProcessorProps {
  /** The message table whose media state the function records. */
  readonly store: MessageStore;
  /** The media bucket the files are copied into (`inbound/`). */
  readonly media: MediaStore;
  /**
   * AWS phone number ids (`phone-number-id-<hex>`) whose media the function may download.
   * @default - none: every download is refused by IAM
   */
  readonly phoneNumberIds?: readonly string[];
  /**
   * Handler folder, timeout and event source settings.
   * @default MEDIA_QUEUE of the resource spec
   */
  readonly queueSpec?: QueueSpec;
  /**
   * How long the function's logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the queues' KMS key when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly keyRemovalPolicy?: RemovalPolicy;
}

/**
 * Inbound media jobs: a KMS-encrypted queue with a DLQ, fed by the inbound function (one job per
 * media message), drained by the `media` function, which copies each file from WhatsApp into the
 * bucket's `inbound/` prefix and records its state on the message. Failures are reported per
 * record; a job that keeps failing lands in the DLQ.
 *
 * The function may download media of the configured phone numbers only, write, read and list
 * `inbound/` only, and update items of the table (its only table call is UpdateItem).
 */
export class MediaProcessor extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly function: LambdaFunction;
  private readonly work: WorkQueue;

  constructor(scope: Construct, id: string, props: MediaProcessorProps) {
    super(scope, id);
    const spec = props.queueSpec ?? MEDIA_QUEUE;
    this.work = new WorkQueue(this, 'Jobs', { queueSpec: spec, keyRemovalPolicy: props.keyRemovalPolicy });
    this.queue = this.work.queue;
    this.deadLetterQueue = this.work.deadLetterQueue;

    const handler = new HandlerFunction(this, 'Handler', {
      handler: spec.handler,
      timeout: Duration.seconds(spec.handlerTimeoutSeconds),
      logRetention: props.logRetention,
      description: 'Copies inbound WhatsApp media into the media bucket',
      environment: {
        TABLE_NAME: props.store.table.tableName,
        MEDIA_BUCKET: props.media.bucket.bucketName,
        // Its own queue: a failed job's next delivery is delayed with ChangeMessageVisibility,
        // which the event source mapping's permissions already cover.
        MEDIA_QUEUE_URL: this.queue.queueUrl,
      },
    });
    this.function = handler.function;
    props.store.grantItemAccess(this.function, MEDIA_TABLE_ACCESS);
    props.media.grantInboundReadWrite(this.function);
    grantPhoneNumberActions(this, this.function, props.phoneNumberIds ?? [], MEDIA_PHONE_NUMBER_ACTIONS);

    this.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: spec.batchSize,
        maxBatchingWindow: Duration.seconds(spec.maxBatchingWindowSeconds),
        reportBatchItemFailures: true,
      }),
    );
  }

  /** Lets a function enqueue media jobs: `MEDIA_QUEUE_URL` and the permission to send there. */
  grantEnqueue(fn: LambdaFunction): void {
    fn.addEnvironment('MEDIA_QUEUE_URL', this.queue.queueUrl);
    this.work.grantSend(fn);
  }
}
