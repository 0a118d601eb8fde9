/**
 * The one description of the backend's stateful resources and event wiring.
 *
 * The CDK constructs in `lib/constructs/` build AWS resources from it and the local runtime
 * (`local/`) creates the same tables, queues, topics and buckets on the local servers from it,
 * so the two cannot drift. Plain data only: no CDK or SDK imports here.
 */

/** Attribute names of the single table (see docs/data-model.md). */
export const TABLE_KEYS = {
  partitionKey: 'PK',
  sortKey: 'SK',
  ttlAttribute: 'ttl',
} as const;

/**
 * Days a message (inbound or sent), a status-only item, a contact alias and a conversation are kept
 * after their time (a conversation after its last message): each gets `ttl` = that time + this, and
 * DynamoDB deletes it within a few days of then. The inbound media bucket expires its objects after
 * the same days by default. Cost of the default: docs/data-model.md (Retention).
 */
export const DEFAULT_RETENTION_DAYS = 365;

/**
 * What broadcasts do when nothing says otherwise (the stack's `broadcastOptions`, the functions'
 * environment): a number's messages per second, under Meta's default throughput of 80 with room for
 * what else it sends; and the answers that stop marketing messages.
 */
export const BROADCAST_DEFAULTS = { messagesPerSecond: 76, stopKeywords: ['STOP', 'UNSUBSCRIBE'] } as const;
/** The environment variable that gives the functions writing messages their retention in days. */
export const RETENTION_DAYS_ENV = 'RETENTION_DAYS';

/**
 * Global secondary indexes of the single table. They project keys only: an update that changes no
 * index key (a status, a count, the window) then writes no index, and a list reads its page's keys
 * from the index and the items from the table (docs/data-model.md).
 */
export const TABLE_INDEX_PROJECTION = 'KEYS_ONLY';
export const TABLE_INDEXES = [
  /** Conversation timelines, conversations by phone number, quarantine and other lists. */
  { indexName: 'GSI1', partitionKey: 'GSI1PK', sortKey: 'GSI1SK' },
  /** A send record by AWS's send id; the items of a message's statuses by wamid (an older send record too). */
  { indexName: 'GSI2', partitionKey: 'GSI2PK', sortKey: 'GSI2SK' },
] as const;

/** An SQS queue fed by the event topic (or by a producer) and drained by one Lambda. */
export interface QueueSpec {
  /** Logical name; also the local queue name suffix. */
  readonly name: string;
  /** Lambda handler folder under `lambdas/`. */
  readonly handler: string;
  /** Lambda timeout in seconds; the queue's visibility timeout is six times this (AWS guidance). */
  readonly handlerTimeoutSeconds: number;
  /** Event source mapping batch size. */
  readonly batchSize: number;
  /** Event source mapping maximum batching window in seconds. */
  readonly maxBatchingWindowSeconds: number;
  /** Receives before a message moves to the queue's DLQ. */
  readonly maxReceiveCount: number;
  /** Whether the queue is subscribed to the event-destination topic. */
  readonly subscribedToEventTopic: boolean;
  /**
   * Whether the queue is subscribed to the domain-events topic, with raw message delivery (the
   * body is the CloudEvent itself).
   * @default false
   */
  readonly subscribedToDomainEvents?: boolean;
}

export const INBOUND_QUEUE: QueueSpec = {
  name: 'inbound-events',
  handler: 'inbound',
  handlerTimeoutSeconds: 30,
  batchSize: 100,
  maxBatchingWindowSeconds: 1,
  maxReceiveCount: 5,
  subscribedToEventTopic: true,
};

/**
 * Inbound media jobs (one per media message), sent by the inbound function, drained by `media`.
 * Small batches: each job may copy a file of up to 100 MB within the timeout.
 */
export const MEDIA_QUEUE: QueueSpec = {
  name: 'media',
  handler: 'media',
  handlerTimeoutSeconds: 120,
  batchSize: 5,
  maxBatchingWindowSeconds: 1,
  maxReceiveCount: 5,
  subscribedToEventTopic: false,
};

/**
 * Domain events for webhook delivery: subscribed to the events topic (raw), drained by `webhooks`,
 * which fans each event out to the registered endpoints. No batching window: deliveries go out as
 * soon as the events arrive.
 */
export const WEBHOOK_DELIVERY_QUEUE: QueueSpec = {
  name: 'webhook-delivery',
  handler: 'webhooks',
  handlerTimeoutSeconds: 60,
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  maxReceiveCount: 5,
  subscribedToEventTopic: false,
  subscribedToDomainEvents: true,
};

/** Webhook jobs waiting for their next attempt (delayed messages), drained by `webhooks` too. */
export const WEBHOOK_RETRY_QUEUE: QueueSpec = { ...WEBHOOK_DELIVERY_QUEUE, name: 'webhook-retry', subscribedToDomainEvents: false };

/**
 * Broadcast sends: one job per (broadcast, recipient), sent by the API, drained by `broadcasts`,
 * which paces each number (a job waits for its slot). Small batches, so that a batch's slots fit in
 * its timeout.
 */
export const BROADCAST_QUEUE: QueueSpec = {
  name: 'broadcast-sends',
  handler: 'broadcasts',
  handlerTimeoutSeconds: 60,
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  maxReceiveCount: 5,
  subscribedToEventTopic: false,
};

/**
 * Batches of broadcast jobs handled at once, deployed (the mapping's maximum concurrency) and
 * locally: 100 sends in flight per function. A number's sends take any free permit (no order), so
 * many waiting senders starve none; a job whose slot is over `SLOT_HORIZON_MS` ahead takes none and
 * comes back later, so a slow number does not keep senders waiting past their timeout. Together the
 * sends of every number go at most `100 / the time one job takes`; raise this for more (see
 * docs/capacity.md). Locally, 100 senders reached 0.988 of a cap of 5 over 5,000 recipients.
 */
export const BROADCAST_CONCURRENT_BATCHES = 10;

export const QUEUES: readonly QueueSpec[] = [INBOUND_QUEUE, MEDIA_QUEUE, WEBHOOK_DELIVERY_QUEUE, WEBHOOK_RETRY_QUEUE, BROADCAST_QUEUE];

/** The table's stream: new and old images, so a change can be compared with what it replaced. */
export const TABLE_STREAM_VIEW = 'NEW_AND_OLD_IMAGES' as const;

/**
 * The `events` function's mapping on the table's stream. A failed batch is split in two until the
 * record at fault is alone (bisect); a record that keeps failing is retried `retryAttempts` times,
 * then skipped (its events are parked by the handler before it ever reports a failure, see
 * publish-events.ts).
 */
export const EVENTS_STREAM = {
  handler: 'events',
  handlerTimeoutSeconds: 30,
  batchSize: 100,
  /**
   * No window: the deployed mapping takes whole seconds, and one second alone is the lag goal's
   * whole budget (p99 ≤ 1 s). Without it Lambda reads the shard four times a second, so PublishBatch
   * requests per event fall with the write rate: about 0.2 at 10 messages a second, within 0.15 once
   * a read holds 14 events or more (`npm run bench`, events, prints both rates and a windowed run).
   */
  maxBatchingWindowSeconds: 0,
  retryAttempts: 10,
  bisectBatchOnError: true,
} as const;

/** Visibility timeout for a queue drained by a Lambda of the given timeout. */
export function visibilityTimeoutSeconds(q: QueueSpec): number {
  return q.handlerTimeoutSeconds * 6;
}

/** How long DLQs keep messages (the SQS maximum). */
export const DLQ_RETENTION_DAYS = 14;

/** The Lambda runtime every function uses. */
export const LAMBDA_RUNTIME = { nodeMajor: 24, architecture: 'arm64', memoryMb: 512 } as const;

/** Largest HTTP API request body accepted, in bytes (API Gateway itself allows 10 MB). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Where uploaded broadcast recipient lists live in the media bucket (expired by a lifecycle rule). */
export const RECIPIENT_LIST_PREFIX = 'broadcasts/';
