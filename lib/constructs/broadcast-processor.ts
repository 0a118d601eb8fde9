import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BROADCAST_CONCURRENT_BATCHES, BROADCAST_DEFAULTS, BROADCAST_QUEUE } from '../../shared/resource-spec.ts';
import { HandlerFunction } from './handler-function.ts';
import type { MessageStore, TableAccess } from './message-store.ts';
import type { MediaStore } from './media-store.ts';

/**
 * The table calls of a broadcast send: the send path's record (Put, Update, Delete when nothing was
 * accepted), the broadcast, its counters and recipients (Get, BatchGet, Update; a recipient's claim
 * checks the broadcast's state in its transaction: ConditionCheck), the catalog (Get; Query GSI1 for
 * the languages of a template it does not hold). No list of the API is read here.
 */
export const BROADCAST_TABLE_ACCESS: TableAccess = { items: ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'ConditionCheckItem'], queryIndexes: ['GSI1'] };
import { grantPhoneNumberActions } from './phone-numbers.ts';
import { WorkQueue } from './work-queue.ts';

/** What a broadcast send calls on the configured numbers: the send, and the number's description. */
export const BROADCAST_PHONE_NUMBER_ACTIONS = ['SendWhatsAppMessage', 'GetLinkedWhatsAppBusinessAccountPhoneNumber'] as const;

/** How broadcasts pace and whom they skip (the stack's `broadcastOptions`). */
export interface BroadcastOptions {
  /**
   * Messages per second a broadcast sends from one number (Meta's default throughput is 80).
   * @default 76
   */
  readonly messagesPerSecond?: number;
  /**
   * Numbers whose throughput differs (Meta raised it to 1,000, say): phone number id → messages per second.
   * @default - every number at `messagesPerSecond`
   */
  readonly messagesPerSecondByNumber?: Readonly<Record<string, number>>;
  /**
   * The business's messaging limit: unique users broadcasts may reach in 24 hours (250, 2,000,
   * 10,000, 100,000 as Meta raises it).
   * @default - unlimited
   */
  readonly messagingTier?: number;
  /**
   * What a user answers to stop marketing messages (compared trimmed, case-insensitive).
   * @default ['STOP', 'UNSUBSCRIBE']
   */
  readonly stopKeywords?: readonly string[];
}

/** Properties of {@link BroadcastProcessor}. */
export interface BroadcastProcessorProps extends BroadcastOptions {
  readonly store: MessageStore;
  /** Where uploaded recipient lists are (`broadcasts/` of the media bucket), read page by page. */
  readonly media: MediaStore;
  /** The AWS phone number ids broadcasts may send from. */
  readonly phoneNumberIds: readonly string[];
  /** `META_API_VERSION` of the sends. */
  readonly metaApiVersion: string;
  /** @default the HandlerFunction default */
  readonly logRetention?: RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly keyRemovalPolicy?: RemovalPolicy;
}

/**
 * Broadcast sends: a work queue (one job per recipient, with DLQ) drained by `lambdas/broadcasts`,
 * which paces each number and sends through the same path as the API (the same table access and
 * send permission on the configured numbers).
 */
export class BroadcastProcessor extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly function: LambdaFunction;
  private readonly work: WorkQueue;
  /** What every function that paces, counts or suppresses for broadcasts reads (`broadcastPacingDeps`). */
  private readonly pacingEnvironment: Record<string, string>;

  constructor(scope: Construct, id: string, props: BroadcastProcessorProps) {
    super(scope, id);
    const spec = BROADCAST_QUEUE;
    this.work = new WorkQueue(this, 'Jobs', { queueSpec: spec, keyRemovalPolicy: props.keyRemovalPolicy });
    this.queue = this.work.queue;
    this.deadLetterQueue = this.work.deadLetterQueue;
    this.pacingEnvironment = pacingEnvironmentOf(props);

    const handler = new HandlerFunction(this, 'Handler', {
      handler: spec.handler,
      timeout: Duration.seconds(spec.handlerTimeoutSeconds),
      logRetention: props.logRetention,
      description: 'Sends broadcast messages, paced per business number',
      environment: {
        TABLE_NAME: props.store.table.tableName,
        PHONE_NUMBER_IDS: props.phoneNumberIds.join(','),
        META_API_VERSION: props.metaApiVersion,
        ...this.pacingEnvironment,
        BROADCAST_SENDS_QUEUE_URL: this.queue.queueUrl,
        MEDIA_BUCKET: props.media.bucket.bucketName,
        ...props.store.retentionEnvironment(),
      },
    });
    this.function = handler.function;
    props.store.grantItemAccess(this.function, BROADCAST_TABLE_ACCESS);
    props.media.grantRecipientListRead(this.function);
    // Loading a page of an uploaded list queues its recipients' sends and the next page.
    this.work.grantSend(this.function);
    grantPhoneNumberActions(this, this.function, props.phoneNumberIds, BROADCAST_PHONE_NUMBER_ACTIONS);
    this.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: spec.batchSize,
        maxBatchingWindow: Duration.seconds(spec.maxBatchingWindowSeconds),
        reportBatchItemFailures: true,
        maxConcurrency: BROADCAST_CONCURRENT_BATCHES,
      }),
    );
  }

  /** Lets `fn` (the API) queue broadcast jobs. */
  grantEnqueue(fn: LambdaFunction): void {
    fn.addEnvironment('BROADCAST_SENDS_QUEUE_URL', this.queue.queueUrl);
    for (const [name, value] of Object.entries(this.pacingEnvironment)) fn.addEnvironment(name, value);
    this.work.grantSend(fn);
  }
}

/** The options as the functions read them (shared/config.ts), checked: a wrong value stops the synthesis. */
function pacingEnvironmentOf(o: BroadcastOptions): Record<string, string> {
  const mps = (what: string, v: number) => {
    if (!(Number.isFinite(v) && v >= 1 && v <= 1000)) throw new Error(`broadcastOptions: ${what} must be between 1 and 1,000 messages a second (a number sends at least one a second), got ${v}.`);
    return String(v);
  };
  const byNumber = Object.entries(o.messagesPerSecondByNumber ?? {}).map(([id, v]) => {
    if (!/^[A-Za-z0-9-]+$/.test(id)) throw new Error(`broadcastOptions: messagesPerSecondByNumber keys must be phone number ids, got "${id}".`);
    return `${id}=${mps(`messagesPerSecondByNumber.${id}`, v)}`;
  });
  if (o.messagingTier !== undefined && !(Number.isInteger(o.messagingTier) && o.messagingTier >= 1)) {
    throw new Error(`broadcastOptions: messagingTier must be a whole number of users >= 1, got ${o.messagingTier}.`);
  }
  const keywords = (o.stopKeywords ?? BROADCAST_DEFAULTS.stopKeywords).map((k) => k.trim());
  if (!keywords.length || keywords.some((k) => k === '' || k.includes(','))) {
    throw new Error(`broadcastOptions: stopKeywords must be words without commas, got ${JSON.stringify(o.stopKeywords)}.`);
  }
  return {
    BROADCAST_MPS: mps('messagesPerSecond', o.messagesPerSecond ?? BROADCAST_DEFAULTS.messagesPerSecond),
    BROADCAST_MPS_BY_NUMBER: byNumber.join(','),
    BROADCAST_MESSAGING_TIER: o.messagingTier === undefined ? 'UNLIMITED' : String(o.messagingTier),
    BROADCAST_STOP_KEYWORDS: keywords.join(','),
  };
}
