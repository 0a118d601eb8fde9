/**
 * Use case: publish the domain events of a batch of item changes (the table's stream).
 *
 * 1. Each change is mapped to intents (pure, see events.ts).
 * 2. Message intents are resolved against the merged Message the read side answers (one read per
 *    distinct message of the batch; none for an inbound message, whole in its own image).
 * 3. The events, deduplicated by id, are published together (the publisher batches them).
 * 4. Events still unpublished after the publisher's retries are parked whole, to be replayed.
 * A change whose read or parking fails is reported, so the stream gives it (and what follows it in
 * its shard) again; every event it yields then has the same id as before.
 */
import { intentsOfChange, messageEvents, type DomainEvent, type ItemImage } from './events.ts';
import type { EventPublisher, MessageReader, UnpublishedEvents } from '../ports/events.ts';
import type { Message } from './resources.ts';

/** One stream record, unmarshalled. `id` is what the batch response names on failure. */
export interface ItemChange {
  readonly id: string;
  readonly oldImage?: ItemImage;
  readonly newImage?: ItemImage;
  /**
   * DynamoDB's TTL deleted the item (retention), not a user or a function: nothing happened that a
   * consumer should be told, so the change yields no event (see `isTtlDeletion`).
   */
  readonly expired?: boolean;
}

export interface PublishDeps {
  readonly messages: MessageReader;
  readonly publisher: EventPublisher;
  readonly unpublished: UnpublishedEvents;
  readonly log?: { warn(message: string, extra?: Record<string, unknown>): void };
}

export interface PublishOutcome {
  /** Ids of the changes to give again. */
  readonly failedChangeIds: string[];
  readonly published: number;
  readonly parked: number;
}

export async function publishChanges(changes: readonly ItemChange[], deps: PublishDeps): Promise<PublishOutcome> {
  const reads = new Map<string, Promise<Message | undefined>>();
  const read = (lookup: string) => {
    let p = reads.get(lookup);
    if (!p) reads.set(lookup, (p = deps.messages.getMessage(lookup)));
    return p;
  };
  const failed = new Set<string>();
  const eventsOf = new Map<string, DomainEvent[]>();
  await Promise.all(
    changes.map(async (change) => {
      try {
        const events: DomainEvent[] = [];
        for (const intent of change.expired ? [] : intentsOfChange(change.oldImage, change.newImage)) {
          if (intent.kind === 'ready') events.push(intent.event);
          else events.push(...messageEvents(intent, intent.view ?? (await read(intent.lookup))));
        }
        eventsOf.set(change.id, events);
      } catch (err) {
        deps.log?.warn('could not resolve the events of a change', { changeId: change.id, error: (err as Error).name });
        failed.add(change.id);
      }
    }),
  );

  const unique = new Map<string, DomainEvent>();
  for (const change of changes) for (const e of eventsOf.get(change.id) ?? []) unique.set(e.id, e);
  if (!unique.size) return { failedChangeIds: [...failed], published: 0, parked: 0 };

  const { failed: unpublishable } = await deps.publisher.publish([...unique.values()]);
  if (unpublishable.length) {
    try {
      await deps.unpublished.park(unpublishable, 'publish failed after retries');
    } catch (err) {
      deps.log?.warn('could not park unpublished events; the changes will be given again', { error: (err as Error).name });
      const lost = new Set(unpublishable.map((e) => e.id));
      for (const [changeId, events] of eventsOf) if (events.some((e) => lost.has(e.id))) failed.add(changeId);
    }
  }
  return { failedChangeIds: [...failed], published: unique.size - unpublishable.length, parked: unpublishable.length };
}

/** Publishes parked events again; those published are forgotten. Returns how many went out. */
export async function replayUnpublished(deps: Pick<PublishDeps, 'publisher' | 'unpublished'>, limit = 100): Promise<number> {
  const events = await deps.unpublished.list(limit);
  if (!events.length) return 0;
  const { failed } = await deps.publisher.publish(events);
  const left = new Set(failed.map((e) => e.id));
  const done = events.filter((e) => !left.has(e.id)).map((e) => e.id);
  await deps.unpublished.remove(done);
  return done.length;
}
