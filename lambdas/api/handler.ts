/**
 * The HTTP API (API Gateway REST proxy → this function). Locally, the same handler sits behind
 * a small HTTP server that makes the same proxy events.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { documentClient, mediaS3Client, socialMessagingClient } from '../../shared/adapters/aws-clients.ts';
import { loadConfig } from '../../shared/config.ts';
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
import { makeApi } from './app.ts';
import { allRoutes, type ApiDeps } from './routes/index.ts';
import type { MessageSender } from '../../shared/domain/send-message.ts';
import { broadcastDeps, messageSender } from '../../shared/adapters/broadcast-wiring.ts';
import { Broadcasts } from '../../shared/domain/broadcasts.ts';
import { MetricTally } from '../../shared/metrics.ts';

/** The API, counting the answers of `POST /v1/messages` by outcome. */
export function makeHandler(deps: ApiDeps) {
  const api = makeApi(allRoutes(deps));
  return async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    const result = await api(event, context);
    if (event.httpMethod === 'POST' && /\/v1\/messages\/?$/.test(event.path)) {
      new MetricTally().add('sends', result.statusCode < 400 ? 'accepted' : result.statusCode < 500 ? 'rejected' : 'error').publish();
    }
    return result;
  };
}

/** The Lambda's own wiring, built on first use (tests and the bench call makeHandler with theirs). */
function defaultDeps(): ApiDeps {
  const config = loadConfig(['TABLE_NAME']);
  const doc = documentClient();
  const sender = senderDeps(doc);
  let webhooks: WebhookApiDeps | undefined;
  let templates: TemplateApiDeps | undefined;
  let broadcasts: Broadcasts | undefined;
  return {
    queries: new DynamoDbQueries(doc, config.TABLE_NAME),
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

let wired: ReturnType<typeof makeHandler> | undefined;
export const handler = (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> =>
  (wired ??= makeHandler(defaultDeps()))(event, context);
