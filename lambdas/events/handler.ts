/**
 * Domain events: the table's stream (new and old images) → CloudEvents on the events topic.
 * Each record's images are unmarshalled and handed to the domain; a record whose events could not
 * be resolved or kept is reported by its sequence number, so the mapping gives it again (with
 * everything after it in the shard) and every event keeps its id.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { isTtlDeletion } from '../../shared/domain/events.ts';
import { publishChanges, type ItemChange, type PublishDeps } from '../../shared/domain/publish-events.ts';
import { loggedIds, logger } from '../../shared/observability.ts';
import { instrumented } from '../../shared/tracing.ts';
import { onFirstUse } from '../../shared/lazy.ts';

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

const wired = onFirstUse(async () => makeHandler((await import('./wiring.ts')).eventsDeps()));
export const handler = instrumented('events', async (event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> => (await wired())(event, context));
