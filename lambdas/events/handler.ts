/**
 * Domain events: the table's stream (new and old images) → CloudEvents on the events topic.
 * Each record's images are unmarshalled and handed to the domain; a record whose events could not
 * be resolved or kept is reported by its sequence number, so the mapping gives it again (with
 * everything after it in the shard) and every event keeps its id.
 */
import { SNSClient } from '@aws-sdk/client-sns';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { documentClient } from '../../shared/adapters/aws-clients.ts';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { DynamoDbUnpublishedEvents } from '../../shared/adapters/dynamodb-unpublished.ts';
import { SnsEventPublisher } from '../../shared/adapters/sns-events.ts';
import { loadConfig } from '../../shared/config.ts';
import { isTtlDeletion } from '../../shared/domain/events.ts';
import { publishChanges, type ItemChange, type PublishDeps } from '../../shared/domain/publish-events.ts';
import { loggedIds, logger } from '../../shared/observability.ts';
import { traced, instrumented } from '../../shared/tracing.ts';

const image = (i: Record<string, unknown> | undefined) =>
  i ? unmarshall(i as Record<string, AttributeValue>, { wrapNumbers: false }) : undefined;

export function makeHandler(deps: PublishDeps) {
  return async (event: DynamoDBStreamEvent, _context?: Context): Promise<DynamoDBBatchResponse> => {
    const changes: ItemChange[] = event.Records.map((r) => ({
      id: r.dynamodb?.SequenceNumber ?? '',
      oldImage: image(r.dynamodb?.OldImage),
      newImage: image(r.dynamodb?.NewImage),
      expired: isTtlDeletion(r),
    }));
    const outcome = await publishChanges(changes, { ...deps, log: deps.log ?? { warn: (m, extra) => logger.warn(m, extra ?? {}) } });
    if (outcome.parked) logger.warn('events parked for replay', { parked: outcome.parked });
    logger.info('events batch', {
      records: changes.length,
      published: outcome.published,
      parked: outcome.parked,
      failed: outcome.failedChangeIds.length,
      sequenceNumbers: loggedIds([changes[0]?.id, changes.at(-1)?.id]),
    });
    return { batchItemFailures: outcome.failedChangeIds.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

let wired: ReturnType<typeof makeHandler> | undefined;
export const handler = instrumented('events', (event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> => {
  wired ??= (() => {
    const config = loadConfig(['TABLE_NAME', 'EVENTS_TOPIC_ARN']);
    const doc = documentClient();
    return makeHandler({
      messages: new DynamoDbQueries(doc, config.TABLE_NAME),
      publisher: new SnsEventPublisher(traced(new SNSClient({})), config.EVENTS_TOPIC_ARN),
      unpublished: new DynamoDbUnpublishedEvents(doc, config.TABLE_NAME),
    });
  })();
  return wired(event, context);
});
