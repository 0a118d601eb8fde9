/**
 * Domain events: what the business's own app is told about changes in the store, as CloudEvents 1.0
 * (structured mode, JSON). The table's stream is their one source: each item change is mapped here,
 * by pure functions free of AWS types, to event *intents*; a message's intent becomes an event once
 * the merged Message (the read side's view over every item holding its statuses) is known.
 *
 * Ids are deterministic: the same change always yields the same id, so a consumer deduplicates
 * redeliveries, stream retries and replays by `id` alone.
 */
import { createHash } from 'node:crypto';
import { hasStatusesElsewhere, isRecord as isMessageRecord, publicMedia, toMessage, type StoredMessage } from './message-view.ts';
import type { Message } from './resources.ts';
import { STATUS_RANK, TERMINAL_STATUSES, type PublicStatus } from './status.ts';
import { accountEventKind } from './account-events.ts';
import type { DomainEvent } from './event-schemas.ts';

/** Every event type, in the order the AsyncAPI document lists them. */
export const EVENT_TYPES = [
  'message.received',
  'message.created',
  'message.status',
  'media.stored',
  'media.failed',
  'account.event',
  'event.quarantined',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export type MessageEventType = Extract<EventType, `message.${string}`>;

/** The `source` of every event: a URI reference naming this backend. */
export const EVENT_SOURCE = '/whatsapp-backend';

/** An event as published: its schema is in event-schemas.ts. */
export type { DomainEvent } from './event-schemas.ts';

/** SNS message attributes of an event, for subscription filter policies. */
export function eventAttributes(event: DomainEvent): { type: string; phoneNumberId?: string } {
  const data = event.data as { phoneNumberId?: unknown };
  return { type: event.type, ...(typeof data.phoneNumberId === 'string' && { phoneNumberId: data.phoneNumberId }) };
}

/** `evt_` + 32 hex of sha256 over the parts that identify the change. */
export function eventId(...parts: string[]): string {
  return `evt_${createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32)}`;
}

/**
 * Sequence of a subject's events as a zero-padded string: creation first, then each status by
 * its rank (failed last), then media.
 */
const SEQUENCE: Readonly<Record<string, number>> = {
  'message.received': 0,
  'message.created': 0,
  ...Object.fromEntries(Object.entries(STATUS_RANK).map(([s, r]) => [`status:${s}`, r])),
  'status:failed': 9,
  'media.failed': 10,
  'media.stored': 11,
};
const seq = (key: string) => String(SEQUENCE[key] ?? 0).padStart(4, '0');

// ---------------------------------------------------------------------------------------------
// Item changes → intents

/** An item as the stream carries it, unmarshalled to plain values. */
export type ItemImage = Record<string, unknown>;

/** A message event waiting for the merged Message. */
export interface MessageEventIntent {
  readonly kind: 'message';
  readonly type: MessageEventType;
  /** What the read side is asked for: the record's id, or the wamid for an item of statuses only. */
  readonly lookup: string;
  /**
   * For `message.status`: the statuses this change added to its item (a status is kept once per
   * item, under its own attribute), as the public words (`failed` for AWS's retries exhausted).
   */
  readonly statuses?: readonly PublicStatus[];
  /**
   * The merged Message when the image alone is all of it (an inbound message: nothing of it lives
   * on another item), so no read is needed; the read side's view of that image.
   */
  readonly view?: Message;
  /**
   * An item of AWS's own statuses: its statuses are told only under the send record's id. When the
   * read answers under this item's own id, no record is linked to it yet; the record tells them
   * when it gets AWS's send id.
   */
  readonly unlessUnder?: string;
  /**
   * Told only for a send in doubt (`sendState: in_doubt`): AWS's own statuses that came before it
   * was linked, once the item of its statuses brings AWS's send id. Any other send's record got
   * that id from the send itself, and they were told then.
   */
  readonly onlyInDoubt?: boolean;
}

/** An event complete from the item alone. */
export interface ReadyEventIntent {
  readonly kind: 'ready';
  readonly event: DomainEvent;
}

export type EventIntent = MessageEventIntent | ReadyEventIntent;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** A message's own record (inbound message or send), as opposed to an item of statuses only: the read model's rule. */
const isRecord = (item: ItemImage) => isMessageRecord(item as unknown as StoredMessage);

/** What AWS's own statuses (accepted, retries exhausted) are in the merged view. */
const AWS_OWN_STATUSES: readonly PublicStatus[] = ['accepted', 'failed'];

/** Send states after which AWS may have taken the message. */
const ACCEPTED_SEND_STATES = new Set(['sent', 'in_doubt']);

/**
 * The public status a stored status entry stands for in the merged view: a progress status as is,
 * a terminal one as `failed`; `undefined` for a word that does not rank, and for a group member's
 * failure (that member's alone: it does not fail the message).
 */
export function rankedStatus(entry: { status: string; participantId?: string }): PublicStatus | undefined {
  if (TERMINAL_STATUSES.has(entry.status)) return entry.participantId === undefined ? 'failed' : undefined;
  return Object.hasOwn(STATUS_RANK, entry.status) ? (entry.status as PublicStatus) : undefined;
}

/** The statuses a change added to an item: the `st:` attributes the new image has and the old lacks. */
export function addedStatuses(oldItem: ItemImage | undefined, newItem: ItemImage): PublicStatus[] {
  const added = new Set<PublicStatus>();
  for (const [key, value] of Object.entries(newItem)) {
    if (!key.startsWith('st:') || oldItem?.[key] !== undefined || typeof value !== 'object' || value === null) continue;
    const entry = value as { status?: unknown; participantId?: unknown };
    if (typeof entry.status !== 'string') continue;
    const status = rankedStatus({ status: entry.status, ...(typeof entry.participantId === 'string' && { participantId: entry.participantId }) });
    if (status) added.add(status);
  }
  return [...added];
}

function mediaIntent(oldItem: ItemImage | undefined, newItem: ItemImage): EventIntent[] {
  const media = newItem.media as Record<string, unknown> | undefined;
  const oldState = (oldItem?.media as Record<string, unknown> | undefined)?.state;
  if (!media || media.state === oldState || (media.state !== 'stored' && media.state !== 'failed')) return [];
  const type = media.state === 'stored' ? 'media.stored' : 'media.failed';
  const id = String(newItem.id);
  const time = str(media.storedAt) ?? str(media.failedAt) ?? str(newItem.timestamp) ?? new Date(0).toISOString();
  const data = {
    messageId: id,
    wamid: str(newItem.wamid) ?? null,
    ...(str(newItem.phoneNumberId) && { phoneNumberId: str(newItem.phoneNumberId) }),
    media: publicMedia(media),
  };
  const event = {
    specversion: '1.0' as const,
    id: eventId(id, type, str(media.s3Key) ?? str(media.reason) ?? ''),
    source: EVENT_SOURCE,
    type,
    time,
    subject: id,
    datacontenttype: 'application/json' as const,
    sequence: seq(type),
    data,
  };
  return [{ kind: 'ready', event: event as DomainEvent }];
}

function messageIntents(oldItem: ItemImage | undefined, newItem: ItemImage): EventIntent[] {
  const out: EventIntent[] = [];
  const id = str(newItem.id);
  if (!id) return out;
  const record = isRecord(newItem);
  if (record && newItem.direction === 'inbound' && !(oldItem && isRecord(oldItem))) {
    const stored = newItem as unknown as StoredMessage;
    out.push({ kind: 'message', type: 'message.received', lookup: id, ...(!hasStatusesElsewhere(stored) && { view: toMessage(stored) }) });
  }
  if (
    record &&
    newItem.direction !== 'inbound' &&
    ACCEPTED_SEND_STATES.has(String(newItem.sendState)) &&
    !ACCEPTED_SEND_STATES.has(String(oldItem?.sendState))
  ) {
    out.push({ kind: 'message', type: 'message.created', lookup: id });
  }
  if (newItem.direction !== 'inbound') {
    // The item of the statuses that named our id tells the record's id.
    const recordId = record ? undefined : str(newItem.recordId);
    const statuses = addedStatuses(oldItem, newItem);
    if (statuses.length) {
      // Any other item of statuses only is one of several: the wamid finds them all with the record first.
      const lookup = record ? id : (recordId ?? str(newItem.wamid) ?? id);
      const ofAws = !record && recordId === undefined && str(newItem.awsMessageId) !== undefined;
      out.push({ kind: 'message', type: 'message.status', lookup, statuses, ...(ofAws && { unlessUnder: id }) });
    }
    // A record that gets AWS's send id is linked to the item of AWS's own statuses: those that came
    // first are told now, under the record's id. A send in doubt never gets it on its record: the
    // item beside it does, with the first status that carried it.
    if (str(newItem.awsMessageId) !== undefined && str(oldItem?.awsMessageId) === undefined) {
      if (record) out.push({ kind: 'message', type: 'message.status', lookup: id, statuses: AWS_OWN_STATUSES });
      else if (recordId !== undefined) out.push({ kind: 'message', type: 'message.status', lookup: recordId, statuses: AWS_OWN_STATUSES, onlyInDoubt: true });
    }
  }
  out.push(...mediaIntent(oldItem, newItem));
  return out;
}

function accountIntent(item: ItemImage): EventIntent {
  const wabaId = String(item.wabaId);
  const field = String(item.field);
  const receivedAt = String(item.receivedAt);
  return {
    kind: 'ready',
    event: {
      specversion: '1.0',
      id: eventId(String(item.PK), String(item.SK), 'account.event'),
      source: `${EVENT_SOURCE}/wabas/${wabaId}`,
      type: 'account.event',
      time: receivedAt,
      subject: field,
      datacontenttype: 'application/json',
      sequence: seq('account.event'),
      data: { wabaId, field, kind: accountEventKind(field), value: item.value, receivedAt },
    },
  };
}

function quarantineIntent(item: ItemImage): EventIntent {
  const id = String(item.id);
  const receivedAt = String(item.receivedAt);
  return {
    kind: 'ready',
    event: {
      specversion: '1.0',
      id: eventId(id, 'event.quarantined'),
      source: `${EVENT_SOURCE}/quarantine`,
      type: 'event.quarantined',
      time: receivedAt,
      subject: id,
      datacontenttype: 'application/json',
      sequence: seq('event.quarantined'),
      data: {
        id,
        receivedAt,
        reason: String(item.reason),
        ...(str(item.source) && { source: str(item.source) }),
        ...(typeof item.rawLength === 'number' && { rawLength: item.rawLength }),
      },
    },
  };
}

/**
 * Whether a stream record tells a deletion by DynamoDB's TTL (retention): AWS marks those with the
 * `userIdentity` `{ type: 'Service', principalId: 'dynamodb.amazonaws.com' }`. An expired message
 * or conversation is no change a consumer should hear of (no `message.deleted`, no status).
 */
export function isTtlDeletion(record: { eventName?: string; userIdentity?: { type?: string; principalId?: string } }): boolean {
  return record.eventName === 'REMOVE' && record.userIdentity?.type === 'Service' && record.userIdentity.principalId === 'dynamodb.amazonaws.com';
}

/**
 * The events one item change calls for (old and new image, either absent). Pure: the same change
 * always gives the same intents, and a change that alters nothing an event reports (a duplicate
 * status, a late status that leaves the item's status where it was, a conversation count) gives none.
 */
export function intentsOfChange(oldItem: ItemImage | undefined, newItem: ItemImage | undefined): EventIntent[] {
  if (!newItem) return [];
  switch (newItem.entity) {
    case 'message':
      return messageIntents(oldItem, newItem);
    case 'accountEvent':
      return oldItem ? [] : [accountIntent(newItem)];
    case 'quarantine':
      return oldItem ? [] : [quarantineIntent(newItem)];
    default:
      return [];
  }
}

/**
 * The Message as it stood when its merged status reached `status`: the statuses up to that step of
 * the progress (those of a lower or equal rank, in time order; every one for `failed`), the errors
 * only of a failure. `undefined` when the merged view holds no such status.
 *
 * It depends on the set of statuses only, never on the order they arrived in: a `delivered` that
 * arrives after `read` is still the step between `sent` and `read`.
 */
export function messageAt(m: Message, status: PublicStatus): { data: Message; time: string } | undefined {
  const own = m.statuses.filter((s) => rankedStatus(s) === status);
  const at = own.find((s) => s.participantId === undefined) ?? own[0];
  if (!at) return undefined;
  const rank = status === 'failed' ? Infinity : STATUS_RANK[status]!;
  const statuses = m.statuses.filter((s) => {
    const ranked = rankedStatus(s);
    if (ranked) return ranked === 'failed' ? status === 'failed' : STATUS_RANK[ranked]! <= rank;
    // A word that does not rank (a member's failure, a status Meta adds) belongs where it happened.
    return s.timestamp <= at.timestamp;
  });
  const data = { ...m, status, statuses, errors: status === 'failed' ? m.errors : [] };
  return { data, time: at.timestamp };
}

/**
 * The events of a message intent, given the merged Message the read side answers now. None when
 * the message is gone, or when an item of AWS's statuses has no record linked yet (`unlessUnder`).
 *
 * `message.status`: one event per status the change added that the merged view holds, each with
 * the Message at that step (`messageAt`) and an id of the message and the status. Each status of
 * the merged view is thus told once (after dedupe by id) whatever order the statuses arrived in
 * and whichever item holds them; a duplicate adds nothing and is no event.
 */
export function messageEvents(intent: MessageEventIntent, message: Message | undefined): DomainEvent[] {
  if (!message || message.id === intent.unlessUnder || (intent.onlyInDoubt && message.sendState !== 'in_doubt')) return [];
  const source = message.phoneNumberId ? `${EVENT_SOURCE}/phone-numbers/${message.phoneNumberId}` : EVENT_SOURCE;
  const event = (data: Message, time: string, status?: PublicStatus) =>
    ({
      specversion: '1.0',
      id: eventId(message.id, intent.type, status ?? ''),
      source,
      type: intent.type,
      time,
      subject: message.id,
      datacontenttype: 'application/json',
      sequence: seq(status ? `status:${status}` : intent.type),
      data,
    }) as DomainEvent;
  if (intent.type !== 'message.status') {
    return [event(message, message.timestamp ?? message.statuses[0]?.timestamp ?? new Date(0).toISOString())];
  }
  return (intent.statuses ?? []).flatMap((status) => {
    const at = messageAt(message, status);
    return at ? [event(at.data, at.time, status)] : [];
  });
}
