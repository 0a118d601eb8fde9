/** The API function's Lambda wiring, imported on its first request (shared/lazy.ts). */
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { documentClient, mediaS3Client, socialMessagingClient, sqsClient } from '../../shared/adapters/aws-clients.ts';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import { SqsMediaJobQueue } from '../../shared/adapters/sqs-media-queue.ts';
import { isTransientFailure } from '../../shared/adapters/transient-errors.ts';
import type { ReplayDeps } from '../../shared/domain/replay-quarantined.ts';
import { loadConfig, phoneNumberIdsOf } from '../../shared/config.ts';
import { DynamoDbMediaRecords } from '../../shared/adapters/dynamodb-media.ts';
import { S3MediaStorage } from '../../shared/adapters/s3-media.ts';
import { SocialMessagingMedia } from '../../shared/adapters/socialmessaging-media.ts';
import type { MediaApiDeps } from './routes/media.ts';
import type { WebhookApiDeps } from './routes/webhooks.ts';
import type { TemplateApiDeps } from './routes/templates.ts';
import { DynamoDbTemplates } from '../../shared/adapters/dynamodb-templates.ts';
import { SocialMessagingTemplates } from '../../shared/adapters/socialmessaging-templates.ts';
import { TemplateCatalog } from '../../shared/domain/templates.ts';
import { webhookAdapters } from '../../shared/adapters/webhook-wiring.ts';
import type { MessageSender } from '../../shared/domain/send-message.ts';
import { broadcastDeps, messageSender, suppressionsOf } from '../../shared/adapters/broadcast-wiring.ts';
import type { Suppressions } from '../../shared/domain/suppressions.ts';
import { businessOfRequest } from './routes/suppressions.ts';
import { Broadcasts } from '../../shared/domain/broadcasts.ts';
import type { ApiDeps } from './routes/index.ts';

/** The Lambda's own wiring, built on first use (tests and the bench call makeHandler with theirs). */
export function apiDeps(): ApiDeps {
  const config = loadConfig(['TABLE_NAME', 'PHONE_NUMBER_IDS']);
  const doc = documentClient();
  const sender = senderDeps(doc);
  let webhooks: WebhookApiDeps | undefined;
  let replay: ReplayDeps | undefined;
  let templates: TemplateApiDeps | undefined;
  let broadcasts: Broadcasts | undefined;
  let suppressionList: Suppressions | undefined;
  return {
    queries: new DynamoDbQueries(doc, config.TABLE_NAME, { phoneNumberIds: phoneNumberIdsOf(config.PHONE_NUMBER_IDS) }),
    now: Date.now,
    media: mediaDeps(doc, sender),
    sender,
    webhooks: () => (webhooks ??= { ...webhookAdapters(doc), now: Date.now }),
    templates: () =>
      (templates ??= (() => {
        const store = new DynamoDbTemplates(doc, config.TABLE_NAME);
        return {
          store,
          catalog: new TemplateCatalog({ source: new SocialMessagingTemplates(socialMessagingClient()), store, now: Date.now }),
          wabas: () => sender().wabas(),
        };
      })()),
    // The API creates and stops broadcasts and reads them; it never waits for a send slot.
    broadcasts: () => (broadcasts ??= new Broadcasts({ ...broadcastDeps(doc, sender()), sleep: async () => {} })),
    replay: () => (replay ??= replayDeps(doc)),
    suppressions: () => ({ suppressions: (suppressionList ??= suppressionsOf(doc, (id) => sender().wabaOf(id))), business: businessOfRequest(sender()) }),
  };
}

/** Quarantine replay wiring: the inbound function's store and media queue. */
function replayDeps(doc: ReturnType<typeof documentClient>): ReplayDeps {
  const config = loadConfig(['TABLE_NAME', 'MEDIA_QUEUE_URL', 'RETENTION_DAYS']);
  return {
    store: new DynamoDbStore(doc, config.TABLE_NAME, { retentionDays: config.RETENTION_DAYS }),
    mediaJobs: new SqsMediaJobQueue(sqsClient(), config.MEDIA_QUEUE_URL),
    isTransient: isTransientFailure,
    now: Date.now,
  };
}

/**
 * Media wiring, on first use of a media route: a missing MEDIA_BUCKET fails those routes, loudly.
 * `from` is resolved as for sending (phone number id, ARN or display number).
 */
function mediaDeps(doc: ReturnType<typeof documentClient>, sender: () => MessageSender): () => MediaApiDeps {
  let built: MediaApiDeps | undefined;
  return () =>
    (built ??= (() => {
      const config = loadConfig(['TABLE_NAME', 'MEDIA_BUCKET']);
      return {
        records: new DynamoDbMediaRecords(doc, config.TABLE_NAME),
        storage: new S3MediaStorage(mediaS3Client(), config.MEDIA_BUCKET),
        whatsapp: new SocialMessagingMedia(socialMessagingClient()),
        resolvePhoneNumber: (from) => sender().resolvePhoneNumber(from),
        now: Date.now,
      };
    })());
}

/** Send wiring, on first use of a send route; one instance per container (it caches display numbers). */
function senderDeps(doc: ReturnType<typeof documentClient>): () => MessageSender {
  let built: MessageSender | undefined;
  return () => (built ??= messageSender(doc));
}

