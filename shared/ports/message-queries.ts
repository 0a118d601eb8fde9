/**
 * The read side, as routes and use cases see it: messages (merged with their statuses, see
 * `domain/message-view.ts`), conversations and quarantined events. Pages are keyset-paginated; a
 * cursor is opaque, and one this API did not return is a 400 naming `cursor`.
 */
import type { Conversation, Message, Page, QuarantineItem } from '../domain/resources.ts';

export interface MessageQueries {
  /** A message by the project's id or by wamid. */
  getMessage(idOrWamid: string): Promise<Message | undefined>;
  getConversation(phoneNumberId: string, contactId: string, nowMs: number): Promise<Conversation | undefined>;
  listConversations(opts: { phoneNumberId?: string; limit: number; cursor?: string; nowMs: number }): Promise<Page<Conversation>>;
  listMessages(opts: { phoneNumberId: string; contactId: string; limit: number; cursor?: string }): Promise<Page<Message>>;
  listQuarantine(opts: { limit: number; cursor?: string }): Promise<Page<QuarantineItem>>;
}
