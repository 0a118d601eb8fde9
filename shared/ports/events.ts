import type { DomainEvent } from '../domain/events.ts';
import type { Message } from '../domain/resources.ts';

/**
 * The read side as the events pipeline needs it: a message merged from every item holding its
 * statuses, by the project's id or by wamid (as `GET /v1/messages/{id}` answers it).
 */
export interface MessageReader {
  getMessage(idOrWamid: string): Promise<Message | undefined>;
}

/** Where domain events go out (the events topic). */
export interface EventPublisher {
  /**
   * Publishes the events, retrying what can be retried. Resolves with the events that could not
   * be published after those retries; rejects only when nothing could be tried at all.
   */
  publish(events: readonly DomainEvent[]): Promise<{ failed: DomainEvent[] }>;
}

/**
 * A durable place for events that could not be published, kept whole so they can be published
 * again later. Idempotent: parking the same event twice keeps one.
 */
export interface UnpublishedEvents {
  park(events: readonly DomainEvent[], reason: string): Promise<void>;
  /** Up to `limit` parked events, oldest first. */
  list(limit: number): Promise<DomainEvent[]>;
  /** Forgets parked events once they are published. */
  remove(ids: readonly string[]): Promise<void>;
}
