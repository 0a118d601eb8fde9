/**
 * What a function that sends needs, built from its environment: the message sender (the same send
 * path as `POST /v1/messages`, with the template catalog) and the broadcast adapters.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { loadConfig } from '../config.ts';
import type { BroadcastDeps } from '../domain/broadcasts.ts';
import { MessageSender } from '../domain/send-message.ts';
import { logger } from '../observability.ts';
import { documentClient, mediaS3Client, socialMessagingClient, socialMessagingSendClient, sqsClient } from './aws-clients.ts';
import { DynamoDbBroadcasts } from './dynamodb-broadcasts.ts';
import { DynamoDbOutbound } from './dynamodb-outbound.ts';
import { DynamoDbQueries } from './dynamodb-queries.ts';
import { DynamoDbTemplates } from './dynamodb-templates.ts';
import { SocialMessagingGateway } from './socialmessaging-gateway.ts';
import { SqsBroadcastQueue } from './sqs-broadcast-queue.ts';
import { S3MediaStorage } from './s3-media.ts';
import type { RecipientListStorage } from '../ports/broadcasts.ts';

/** The send use case over the table and AWS End User Messaging Social; one per container (it caches display numbers). */
export function messageSender(doc: DynamoDBDocumentClient): MessageSender {
  const config = loadConfig(['TABLE_NAME', 'PHONE_NUMBER_IDS', 'META_API_VERSION', 'RETENTION_DAYS']);
  return new MessageSender({
    // Sends never retried by the SDK (a lost answer may hide a sent message); reads are.
    gateway: new SocialMessagingGateway(socialMessagingClient(), { sendClient: socialMessagingSendClient() }),
    store: new DynamoDbOutbound(doc, config.TABLE_NAME, { retentionDays: config.RETENTION_DAYS }),
    messages: new DynamoDbQueries(doc, config.TABLE_NAME),
    phoneNumberIds: config.PHONE_NUMBER_IDS.split(',').map((id) => id.trim()),
    metaApiVersion: config.META_API_VERSION,
    now: Date.now,
    log: logger,
    templates: new DynamoDbTemplates(doc, config.TABLE_NAME),
  });
}

/** The media bucket's uploaded recipient lists, built on first use: a missing MEDIA_BUCKET fails only broadcasts from a list. */
function recipientLists(): () => RecipientListStorage {
  let built: RecipientListStorage | undefined;
  return () => (built ??= new S3MediaStorage(mediaS3Client(), loadConfig(['MEDIA_BUCKET']).MEDIA_BUCKET));
}

/** Broadcast dependencies but `sleep`; `sender` defaults to a new one. */
export function broadcastDeps(doc: DynamoDBDocumentClient = documentClient(), sender: MessageSender = messageSender(doc)): Omit<BroadcastDeps, 'sleep'> {
  const config = loadConfig(['TABLE_NAME', 'BROADCAST_SENDS_QUEUE_URL', 'BROADCAST_MPS']);
  const store = new DynamoDbBroadcasts(doc, config.TABLE_NAME);
  return {
    store,
    pacer: store,
    queue: new SqsBroadcastQueue(sqsClient(), config.BROADCAST_SENDS_QUEUE_URL),
    sender,
    queries: new DynamoDbQueries(doc, config.TABLE_NAME),
    messagesPerSecond: () => config.BROADCAST_MPS,
    now: Date.now,
    lists: recipientLists(),
  };
}
