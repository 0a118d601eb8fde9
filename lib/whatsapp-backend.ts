import { RemovalPolicy, Token } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { INBOUND_QUEUE, MEDIA_QUEUE } from '../shared/resource-spec.ts';
import { DomainEvents } from './constructs/domain-events.ts';
import { EventIngest } from './constructs/event-ingest.ts';
import { HttpApi, type HttpApiOptions } from './constructs/http-api.ts';
import { InboundProcessor } from './constructs/inbound-processor.ts';
import { MediaProcessor } from './constructs/media-processor.ts';
import { MediaStore, type MediaStoreOptions } from './constructs/media-store.ts';
import { MessageStore } from './constructs/message-store.ts';
import { Monitoring, type MonitoringOptions } from './constructs/monitoring.ts';
import { BACKEND_ID_ENV } from '../shared/metric-names.ts';
import { WABA_ID_PATTERN, WabaEventDestination } from './constructs/waba-event-destination.ts';
import { NumberDiscovery } from './constructs/number-discovery.ts';
import { discoveredIds } from './constructs/phone-numbers.ts';
import { BroadcastProcessor, type BroadcastOptions } from './constructs/broadcast-processor.ts';
import { API_TEMPLATE_ACTIONS, grantWabaActions, TemplateSync } from './constructs/template-sync.ts';
import { DATA_REMOVAL_POLICY, FEATURE_FLAGS } from './defaults.ts';

/** An AWS phone number id as End User Messaging Social names it. */
export const PHONE_NUMBER_ID_PATTERN = /^phone-number-id-[0-9a-f]+$/;

/** Properties of {@link WhatsAppBackend}. */
export interface WhatsAppBackendProps {
  /**
   * AWS WABA id (`waba-<hex>`, as shown by End User Messaging Social, not Meta's numeric id): the
   * same as `wabaIds: [wabaId]`, kept for stacks that serve one WABA.
   * @default - none
   */
  readonly wabaId?: string;
  /**
   * AWS WABA ids (`waba-<hex>`). Each WABA's event destination is pointed at the event topic on
   * deploy and cleared when the stack is deleted, and the API may read, create and delete its
   * templates (the template catalog, synced on a schedule and once per deploy).
   * @default - none (or `[wabaId]`): set each WABA's event destination to the topic yourself; the
   * template routes are then not allowed to call AWS
   */
  readonly wabaIds?: readonly string[];
  /**
   * AWS phone number ids (`phone-number-id-<hex>`) the backend sends from. The API and media
   * functions may act on these numbers only.
   * @default - none: the API cannot send, upload or download media
   */
  readonly phoneNumberIds?: readonly string[];
  /**
   * Serve every WABA linked to the account and every number of them, found at deploy time
   * (ListLinkedWhatsAppBusinessAccounts, GetLinkedWhatsAppBusinessAccount in a custom resource),
   * each WABA pointed at the event topic. Instead of `wabaId`, `wabaIds` and `phoneNumberIds`.
   * @default false
   */
  readonly discoverNumbers?: boolean;
  /**
   * With `discoverNumbers`: any new value discovers again on the next deploy (a number linked
   * since, without another change to the stack).
   * @default - discovers on create and whenever the stack's topic changes
   */
  readonly discoveryRun?: string;
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
   * Days messages and conversations are kept in the table (`ttl`; a conversation after its last
   * message), and, unless `mediaOptions.inboundRetentionDays` says otherwise, inbound media files in
   * the bucket. Storage at the default: docs/data-model.md (Retention).
   * @default 365
   */
  readonly retentionDays?: number;
  /**
   * What the message table's indexes project: keys only, unless the table was created by an
   * earlier version with every attribute projected (`ALL`; docs/capacity.md, "Upgrading an
   * existing table").
   * @default 'KEYS_ONLY'
   */
  readonly indexProjection?: 'KEYS_ONLY' | 'ALL';
  /**
   * How long function logs and API access logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Settings of the HTTP API (Meta API version, throttling, stage, WAF, access log detail).
   * @default - the defaults of {@link HttpApiOptions}
   */
  readonly apiOptions?: HttpApiOptions;
  /**
   * Settings of the media bucket (retention per prefix, browser origins).
   * @default - the defaults of {@link MediaStoreOptions}
   */
  readonly mediaOptions?: MediaStoreOptions;
  /**
   * Alarm thresholds and the dashboard's name.
   * @default - the defaults of {@link MonitoringOptions}
   */
  readonly monitoring?: MonitoringOptions;
  /**
   * Broadcast pacing per number, the business's messaging limit, and the stop keywords.
   * @default - the defaults of {@link BroadcastOptions}
   */
  readonly broadcastOptions?: BroadcastOptions;
}

/**
 * A serverless WhatsApp backend on AWS End User Messaging Social, to embed in any CDK app.
 *
 * Events of the WABA flow SNS topic → SQS queue (with DLQ) → `inbound` Lambda → DynamoDB table;
 * each inbound media message becomes a job on the media queue (with DLQ), whose `media` Lambda
 * copies the file from WhatsApp into the media bucket.
 * Callers use the IAM-authorized REST API (`api` Lambda), which sends through End User Messaging
 * Social and hands out presigned URLs of the media bucket.
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
  readonly inboundFunction: LambdaFunction;
  /** The queue of inbound media jobs (one per media message), fed by the inbound function. */
  readonly mediaQueue: Queue;
  /** Where media jobs land that the media function could not process. */
  readonly mediaDeadLetterQueue: Queue;
  /** The function copying inbound media from WhatsApp into the media bucket. */
  readonly mediaFunction: LambdaFunction;
  /** Domain events (CloudEvents) out to the business's own app; subscribe with a filter on `type`. */
  readonly eventsTopic: Topic;
  /** The function publishing the table's stream as domain events. */
  readonly eventsFunction: LambdaFunction;
  /** The queue between the events topic and the webhook delivery function. */
  readonly webhookDeliveryQueue: Queue;
  /** Where events land that the webhook delivery function could not process. */
  readonly webhookDeliveryDeadLetterQueue: Queue;
  /** The function delivering domain events to the registered webhooks. */
  readonly webhooksFunction: LambdaFunction;
  /** The IAM-authorized REST API. */
  readonly api: RestApi;
  /** The invoke URL of the API's stage. */
  readonly apiUrl: string;
  /** The function behind every API route. */
  readonly apiFunction: LambdaFunction;
  /** The bucket of inbound (`inbound/`) and outbound (`outbound/`) media. */
  readonly mediaBucket: Bucket;
  /** Where every alarm of the backend notifies (KMS-encrypted): subscribe people or tools to it. */
  readonly alarmTopic: Topic;
  /** The CloudWatch dashboard of the backend's signals. */
  readonly dashboard: Dashboard;
  /** The first AWS WABA id whose event destination this backend manages, if any. */
  readonly wabaId?: string;
  /** The AWS WABA ids whose event destinations this backend manages (one token when discovered). */
  readonly wabaIds: readonly string[];
  /** The function sending broadcasts (one SQS job per recipient). */
  readonly broadcastFunction: LambdaFunction;
  /** Where broadcast jobs land that could not be processed. */
  readonly broadcastDeadLetterQueue: Queue;
  /** The function syncing the WABA's template catalog (scheduled, and once per deploy); only with `wabaId`. */
  readonly templateSyncFunction?: LambdaFunction;
  /** The AWS phone number ids the backend sends from. */
  readonly phoneNumberIds: readonly string[];

  constructor(scope: Construct, id: string, props: WhatsAppBackendProps = {}) {
    super(scope, id);
    // The flags the constructs rely on, where the embedding app has not chosen (lib/defaults.ts).
    for (const [flag, value] of Object.entries(FEATURE_FLAGS)) {
      if (this.node.tryGetContext(flag) === undefined) this.node.setContext(flag, value);
    }
    const givenWabaIds = [...new Set([...(props.wabaId !== undefined ? [props.wabaId] : []), ...(props.wabaIds ?? [])])];
    if (props.discoverNumbers && (givenWabaIds.length > 0 || (props.phoneNumberIds ?? []).length > 0)) {
      throw new Error('discoverNumbers finds the WABAs and numbers itself: give it without wabaId, wabaIds or phoneNumberIds');
    }
    const invalidWabas = givenWabaIds.filter((w) => !Token.isUnresolved(w) && !WABA_ID_PATTERN.test(w));
    if (invalidWabas.length > 0) {
      throw new Error(`wabaIds must look like waba-<hex> (the AWS WABA id), got ${JSON.stringify(invalidWabas)}`);
    }
    const givenNumbers = [...(props.phoneNumberIds ?? [])];
    const invalid = givenNumbers.filter((p) => !Token.isUnresolved(p) && !PHONE_NUMBER_ID_PATTERN.test(p));
    if (invalid.length > 0) {
      throw new Error(`phoneNumberIds must look like phone-number-id-<hex>, got ${JSON.stringify(invalid)}`);
    }
    const removalPolicy = props.removalPolicy ?? DATA_REMOVAL_POLICY;

    const store = new MessageStore(this, 'MessageStore', {
      deletionProtection: props.deletionProtection,
      removalPolicy,
      retentionDays: props.retentionDays,
      indexProjection: props.indexProjection,
    });
    const ingest = new EventIngest(this, 'EventIngest', {
      queueSpec: INBOUND_QUEUE,
      keyRemovalPolicy: removalPolicy,
    });
    // Discovered: one token of the comma-joined ids, standing for the list of their ARNs in policies.
    let phoneNumberIds = givenNumbers;
    let wabaIds = givenWabaIds;
    if (props.discoverNumbers) {
      const found = new NumberDiscovery(this, 'NumberDiscovery', {
        topic: ingest.topic,
        ...(props.discoveryRun !== undefined && { run: props.discoveryRun }),
        ...(props.logRetention !== undefined && { logRetention: props.logRetention }),
      });
      phoneNumberIds = discoveredIds(found.phoneNumberIds, found.phoneNumberArns);
      wabaIds = discoveredIds(found.wabaIds, found.wabaArns);
    }
    this.phoneNumberIds = phoneNumberIds;
    this.wabaIds = wabaIds;
    this.wabaId = props.discoverNumbers ? undefined : wabaIds[0];

    const inbound = new InboundProcessor(this, 'Inbound', {
      queue: ingest.queue,
      store,
      queueSpec: INBOUND_QUEUE,
      logRetention: props.logRetention,
    });

    // A stored file lives as long as the message that shows it (unless the media options say otherwise).
    const media = new MediaStore(this, 'MediaStore', {
      ...props.mediaOptions,
      inboundRetentionDays: props.mediaOptions?.inboundRetentionDays ?? store.retentionDays,
      removalPolicy,
    });
    const api = new HttpApi(this, 'HttpApi', {
      ...props.apiOptions,
      store,
      media,
      phoneNumberIds,
      logRetention: props.logRetention,
      removalPolicy,
    });

    const mediaJobs = new MediaProcessor(this, 'MediaProcessor', {
      store,
      media,
      phoneNumberIds,
      queueSpec: MEDIA_QUEUE,
      logRetention: props.logRetention,
      keyRemovalPolicy: removalPolicy,
    });
    mediaJobs.grantEnqueue(inbound.function);
    // Quarantine replay (POST /v1/quarantine/{id}/replay) ingests as the inbound function does.
    mediaJobs.grantEnqueue(api.function);

    const broadcasts = new BroadcastProcessor(this, 'Broadcasts', {
      store,
      media,
      phoneNumberIds,
      metaApiVersion: props.apiOptions?.metaApiVersion ?? 'v24.0',
      logRetention: props.logRetention,
      keyRemovalPolicy: removalPolicy,
      ...props.broadcastOptions,
    });
    broadcasts.grantEnqueue(api.function);
    media.grantRecipientListWrite(api.function);
    // Statuses of broadcast messages: a 130429 / 131056 queues the recipient again.
    broadcasts.grantEnqueue(inbound.function);
    this.broadcastFunction = broadcasts.function;
    this.broadcastDeadLetterQueue = broadcasts.deadLetterQueue;

    const domainEvents = new DomainEvents(this, 'DomainEvents', {
      store,
      logRetention: props.logRetention,
      keyRemovalPolicy: removalPolicy,
    });
    domainEvents.grantWebhookAdmin(api.function);
    this.eventsTopic = domainEvents.topic;
    this.eventsFunction = domainEvents.eventsFunction;
    this.webhookDeliveryQueue = domainEvents.deliveryQueue;
    this.webhookDeliveryDeadLetterQueue = domainEvents.deliveryDeadLetterQueue;
    this.webhooksFunction = domainEvents.webhooksFunction;
    // The inbound function writes what the API and the events function read: CloudFormation updates
    // it after them, so a deploy that changes where the inbound path writes (statuses beside the
    // send record) never runs a new writer against readers that do not know it yet.
    inbound.function.node.addDependency(api.function, domainEvents.eventsFunction);

    // The functions write their metrics under this backend's id; the alarms read them there.
    const backendId = this.node.path;
    for (const fn of [inbound.function, api.function, mediaJobs.function, domainEvents.eventsFunction, domainEvents.webhooksFunction, broadcasts.function]) {
      fn.addEnvironment(BACKEND_ID_ENV, backendId);
    }
    const monitoring = new Monitoring(this, 'Monitoring', {
      ...props.monitoring,
      backendId,
      deadLetterQueues: {
        inbound: ingest.deadLetterQueue,
        media: mediaJobs.deadLetterQueue,
        webhookDelivery: domainEvents.deliveryDeadLetterQueue,
        webhookRetry: domainEvents.retryDeadLetterQueue,
        broadcasts: broadcasts.deadLetterQueue,
      },
      functions: {
        inbound: inbound.function,
        api: api.function,
        media: mediaJobs.function,
        events: domainEvents.eventsFunction,
        webhooks: domainEvents.webhooksFunction,
        broadcasts: broadcasts.function,
      },
      apiStage: api.api.deploymentStage,
      keyRemovalPolicy: removalPolicy,
    });
    this.alarmTopic = monitoring.alarmTopic;
    this.dashboard = monitoring.dashboard;

    // Discovered WABAs are pointed at the topic by the discovery itself.
    if (!props.discoverNumbers) {
      givenWabaIds.forEach((wabaId, i) => {
        new WabaEventDestination(this, i === 0 ? 'WabaEventDestination' : `WabaEventDestination${wabaId.slice('waba-'.length)}`, {
          wabaId,
          topic: ingest.topic,
          logRetention: props.logRetention,
        });
      });
    }
    if (wabaIds.length > 0) {
      // The template catalog: the API reads, creates and deletes the WABAs' templates; a sync runs
      // on a schedule and after each deploy. Scoped to these WABAs' ARNs.
      grantWabaActions(this, api.function, wabaIds, API_TEMPLATE_ACTIONS);
      this.templateSyncFunction = new TemplateSync(this, 'TemplateSync', {
        store,
        wabaIds,
        phoneNumberIds,
        logRetention: props.logRetention,
      }).function;
    }

    this.eventTopic = ingest.topic;
    this.table = store.table;
    this.inboundQueue = ingest.queue;
    this.inboundDeadLetterQueue = ingest.deadLetterQueue;
    this.inboundFunction = inbound.function;
    this.api = api.api;
    this.apiUrl = api.url;
    this.apiFunction = api.function;
    this.mediaBucket = media.bucket;
    this.mediaQueue = mediaJobs.queue;
    this.mediaDeadLetterQueue = mediaJobs.deadLetterQueue;
    this.mediaFunction = mediaJobs.function;
  }
}
