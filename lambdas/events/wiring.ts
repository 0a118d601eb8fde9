/** The events function's Lambda wiring, imported on its first invocation (shared/lazy.ts). */
import { SNSClient } from '@aws-sdk/client-sns';
import { documentClient } from '../../shared/adapters/aws-clients.ts';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { DynamoDbUnpublishedEvents } from '../../shared/adapters/dynamodb-unpublished.ts';
import { SnsEventPublisher } from '../../shared/adapters/sns-events.ts';
import { loadConfig } from '../../shared/config.ts';
import type { PublishDeps } from '../../shared/domain/publish-events.ts';
import { traced } from '../../shared/tracing.ts';

export function eventsDeps(): PublishDeps {
  const config = loadConfig(['TABLE_NAME', 'EVENTS_TOPIC_ARN']);
  const doc = documentClient();
  return {
    messages: new DynamoDbQueries(doc, config.TABLE_NAME),
    publisher: new SnsEventPublisher(traced(new SNSClient({})), config.EVENTS_TOPIC_ARN),
    unpublished: new DynamoDbUnpublishedEvents(doc, config.TABLE_NAME),
  };
}
