/** The inbound function's Lambda wiring, imported on its first invocation (shared/lazy.ts). */
import { broadcastPacingDeps } from '../../shared/adapters/broadcast-wiring.ts';
import { documentClient, sqsClient } from '../../shared/adapters/aws-clients.ts';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import { DynamoDbTemplates } from '../../shared/adapters/dynamodb-templates.ts';
import { SqsMediaJobQueue } from '../../shared/adapters/sqs-media-queue.ts';
import { loadConfig } from '../../shared/config.ts';
import { BroadcastFeedback } from '../../shared/domain/broadcasts.ts';
import type { makeHandler } from './handler.ts';

export function inboundDeps(): Parameters<typeof makeHandler>[0] {
  const config = loadConfig(['TABLE_NAME', 'MEDIA_QUEUE_URL', 'RETENTION_DAYS']);
  const doc = documentClient();
  return {
    store: new DynamoDbStore(doc, config.TABLE_NAME, { retentionDays: config.RETENTION_DAYS }),
    mediaJobs: new SqsMediaJobQueue(sqsClient(), config.MEDIA_QUEUE_URL),
    templates: new DynamoDbTemplates(doc, config.TABLE_NAME),
    // Statuses of broadcast messages count on their broadcast, back off and send again.
    ...(process.env.BROADCAST_SENDS_QUEUE_URL && { broadcasts: new BroadcastFeedback(broadcastPacingDeps(doc)) }),
  };
}
