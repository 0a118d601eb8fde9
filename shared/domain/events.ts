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
import { z } from 'zod';
import { publicMedia } from './message-view.ts';
import { MediaSchema, MessageSchema, type Message } from './resources.ts';
import { currentStatus, STATUS_RANK, TERMINAL_STATUSES, type PublicStatus } from './status.ts';
import { accountEventKind } from './account-events.ts';

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

export const MediaEventDataSchema = z
  .object({
    messageId: z.string(),
    wamid: z.string().nullable(),
    phoneNumberId: z.string().optional(),
    media: MediaSchema,
  })
  .meta({ id: 'MediaEventData' });

export const AccountEventDataSchema = z
  .object({
    wabaId: z.string().describe("Meta's WABA id."),
    field: z.string().describe('The webhook field, e.g. message_template_status_update.'),
    kind: z.enum(['template', 'phone_number', 'flow', 'account', 'user', 'message_errors', 'other']),
    value: z.unknown().describe("The webhook change's value, verbatim."),
    receivedAt: z.string(),
  })
  .meta({ id: 'AccountEventData' });

export const QuarantinedEventDataSchema = z
  .object({
    id: z.string().describe('The quarantine id; GET /v1/quarantine shows the raw body.'),
    receivedAt: z.string(),
    reason: z.string(),
    source: z.string().optional(),
    rawLength: z.number().int().optional(),
  })
  .meta({ id: 'QuarantinedEventData' });

const envelope = <T extends EventType, D extends z.ZodType>(type: T, data: D, description: string) =>
  z
    .object({
      specversion: z.literal('1.0'),
      id: z.string().describe('Deterministic: the same change always has the same id. Deduplicate by it.'),
      source: z.string(),
      type: z.literal(type),
      time: z.string().describe('When the change happened (RFC 3339).'),
      subject: z.string().describe('The message id, the account event field or the quarantine id.'),
      datacontenttype: z.literal('application/json'),
      sequence: z
        .string()
        .describe("Orders one subject's events: compare as strings (zero-padded) among events with the same subject."),
      data,
    })
    .meta({ id: `${type.replace(/(^|\.)(\w)/g, (_, __, c: string) => c.toUpperCase())}Event`, description });

export const EVENT_SCHEMAS = {
  'message.received': envelope('message.received', MessageSchema, 'An inbound message was stored; data is the Message as GET /v1/messages/{id} answers it.'),
  'message.created': envelope('message.created', MessageSchema, 'An outbound message was accepted through the API, with its content.'),
  'message.status': envelope(
    'message.status',
    MessageSchema,
    'The merged status of a message advanced; data is the Message at that point. A duplicate or late status emits nothing.',
  ),
  'media.stored': envelope('media.stored', MediaEventDataSchema, "An inbound message's media was copied to the media bucket."),
  'media.failed': envelope('media.failed', MediaEventDataSchema, "An inbound message's media could not be copied."),
  'account.event': envelope('account.event', AccountEventDataSchema, 'A template, quality, flow or account change of the WABA.'),
  'event.quarantined': envelope('event.quarantined', QuarantinedEventDataSchema, 'An inbound event could not be understood and was quarantined.'),
} as const satisfies Record<EventType, z.ZodType>;

export const DomainEventSchema = z.discriminatedUnion('type', [
  EVENT_SCHEMAS['message.received'],
  EVENT_SCHEMAS['message.created'],
  EVENT_SCHEMAS['message.status'],
  EVENT_SCHEMAS['media.stored'],
  EVENT_SCHEMAS['media.failed'],
  EVENT_SCHEMAS['account.event'],
  EVENT_SCHEMAS['event.quarantined'],
]);
export type DomainEvent = z.infer<typeof DomainEventSchema>;

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
  /** For `message.status`: the status this change brought its item to. */
  readonly status?: PublicStatus;
  /**
   * For `message.status`: whether the changed item is the message's own record (its statuses carry
   * our id) rather than an item of statuses only (AWS's own statuses, statuses without an id).
   */
  readonly onRecord?: boolean;
}

/** An event complete from the item alone. */
export interface ReadyEventIntent {
  readonly kind: 'ready';
  readonly event: DomainEvent;
}

export type EventIntent = MessageEventIntent | ReadyEventIntent;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** A message's own record (inbound message or send), as opposed to an item of statuses only. */
const isRecord = (item: ItemImage) => item.type !== undefined || item.sendState !== undefined;

/** Send states after which AWS may have taken the message. */
const ACCEPTED_SEND_STATES = new Set(['sent', 'in_doubt']);

/**
 * The status an item's own statuses derive (as the read side derives it: a group member's failure
 * stays that member's). `undefined` when it holds none.
 */
export function itemStatus(item: ItemImage | undefined): PublicStatus | undefined {
  if (!item) return undefined;
  const seen: string[] = [];
  for (const [key, value] of Object.entries(item)) {
    if (!key.startsWith('st:') || typeof value !== 'object' || value === null) continue;
    const entry = value as { status?: unknown; participantId?: unknown };
    if (typeof entry.status !== 'string') continue;
    if (entry.participantId !== undefined && TERMINAL_STATUSES.has(entry.status)) continue;
    seen.push(entry.status);
  }
  return currentStatus(seen);
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
    out.push({ kind: 'message', type: 'message.received', lookup: id });
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
    const before = itemStatus(oldItem);
    const after = itemStatus(newItem);
    if (after !== undefined && after !== before) {
      // An item of statuses only is one of several: the wamid finds them all with the record first.
      const lookup = record ? id : (str(newItem.wamid) ?? id);
      out.push({ kind: 'message', type: 'message.status', lookup, status: after, onRecord: record });
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

const sameStatus = (entry: string, status: PublicStatus) => entry === status || (status === 'failed' && TERMINAL_STATUSES.has(entry));

/**
 * The Message as it stood when its status became `status`: the statuses reported up to that one
 * (the list is in time order), and the errors only of a failure.
 */
function messageAt(m: Message, status: PublicStatus): Message | undefined {
  const last = m.statuses.findLastIndex((s) => s.participantId === undefined && sameStatus(s.status, status));
  if (last < 0) return undefined;
  if (m.status === status) return m;
  return { ...m, status, statuses: m.statuses.slice(0, last + 1), errors: status === 'failed' ? m.errors : [] };
}

/**
 * The event of a message intent, given the merged Message the read side answers now. `undefined`
 * when there is nothing to tell: the message is gone, or a status brought by an item of statuses
 * only is behind what the record holds already (AWS's `accepted` arriving after `delivered`).
 *
 * A status brought by the record itself advanced the message (a late one on the same item changes
 * nothing and has no intent), so it is told even when later statuses are in by now: its data is
 * the Message at that point, and its id is the same whenever it is told.
 */
export function messageEvent(intent: MessageEventIntent, message: Message | undefined): DomainEvent | undefined {
  if (!message) return undefined;
  let data = message;
  let time = message.timestamp ?? message.statuses[0]?.timestamp ?? new Date(0).toISOString();
  if (intent.type === 'message.status') {
    const status = intent.status!;
    if (!intent.onRecord && message.status !== status) return undefined;
    const at = messageAt(message, status);
    if (!at) return undefined;
    data = at;
    time = at.statuses.at(-1)!.timestamp;
  }
  return {
    specversion: '1.0',
    id: eventId(message.id, intent.type, intent.type === 'message.status' ? intent.status! : ''),
    source: message.phoneNumberId ? `${EVENT_SOURCE}/phone-numbers/${message.phoneNumberId}` : EVENT_SOURCE,
    type: intent.type,
    time,
    subject: message.id,
    datacontenttype: 'application/json',
    sequence: seq(intent.type === 'message.status' ? `status:${intent.status}` : intent.type),
    data,
  } as DomainEvent;
}
