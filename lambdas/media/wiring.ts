/** The media function's Lambda wiring, imported on its first invocation (shared/lazy.ts). */
import { documentClient, mediaS3Client, socialMessagingClient, sqsClient } from '../../shared/adapters/aws-clients.ts';
import { DynamoDbMediaRecords } from '../../shared/adapters/dynamodb-media.ts';
import { S3MediaStorage } from '../../shared/adapters/s3-media.ts';
import { SocialMessagingMedia } from '../../shared/adapters/socialmessaging-media.ts';
import { SqsMediaJobQueue } from '../../shared/adapters/sqs-media-queue.ts';
import { loadConfig } from '../../shared/config.ts';
import type { MediaHandlerDeps } from './handler.ts';

export function mediaDeps(): MediaHandlerDeps {
  const config = loadConfig(['TABLE_NAME', 'MEDIA_BUCKET', 'MEDIA_QUEUE_URL']);
  return {
    records: new DynamoDbMediaRecords(documentClient(), config.TABLE_NAME),
    storage: new S3MediaStorage(mediaS3Client(), config.MEDIA_BUCKET),
    whatsapp: new SocialMessagingMedia(socialMessagingClient()),
    retry: new SqsMediaJobQueue(sqsClient(), config.MEDIA_QUEUE_URL),
    now: Date.now,
  };
}
