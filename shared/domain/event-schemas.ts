/**
 * The schemas of the domain events (shared/domain/events.ts): what the AsyncAPI document describes
 * and what the webhooks function checks an event against before delivering it. Apart from the
 * mapping in events.ts, so the events function, which builds events and never checks them, does
 * not build these schemas (nor load zod) when it starts.
 */
import * as z from 'zod';
import { MediaSchema, MessageSchema } from './resources.ts';
import type { EventType } from './events.ts';

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
    'A status of the message is in its merged view; data is the Message at that step. One event per status the merged view lists, whatever order they arrived in; a duplicate status emits nothing.',
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
