/**
 * The AsyncAPI 3 document of the domain events, generated from their zod schemas (as the OpenAPI
 * document is from the routes'), so the events and their description cannot disagree.
 */
import * as z from 'zod';
import { EVENT_TYPES } from '../../shared/domain/events.ts';
import { EVENT_SCHEMAS } from '../../shared/domain/event-schemas.ts';

/** `message.status` → `MessageStatus`. */
const messageName = (type: string) => type.replace(/(^|\.)(\w)/g, (_, __, c: string) => c.toUpperCase());

export function buildAsyncApi() {
  const schemas: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const type of EVENT_TYPES) {
    const json = z.toJSONSchema(EVENT_SCHEMAS[type], { target: 'draft-07', unrepresentable: 'any', io: 'output' }) as unknown as {
      $ref: string;
      definitions: Record<string, unknown>;
    };
    const moved = JSON.parse(JSON.stringify(json).replaceAll('"#/definitions/', '"#/components/schemas/')) as typeof json;
    Object.assign(schemas, moved.definitions);
    const schema = EVENT_SCHEMAS[type];
    messages[messageName(type)] = {
      name: type,
      title: type,
      summary: (schema.meta() as { description?: string } | undefined)?.description,
      contentType: 'application/cloudevents+json',
      payload: { $ref: moved.$ref },
    };
  }
  const refs = Object.fromEntries(Object.keys(messages).map((name) => [name, { $ref: `#/components/messages/${name}` }]));
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'whatsapp-backend events',
      version: '1.0.0',
      description:
        'Every change in the store as a CloudEvent 1.0 (structured mode, JSON). The id is deterministic: the same change always ' +
        'has the same id, so deduplicate by it; `sequence` orders the events of one subject. Deliveries are at least once and may ' +
        'come out of order. Webhook deliveries are signed as Standard Webhooks says (webhook-id = the event id, webhook-timestamp, ' +
        'webhook-signature).',
    },
    defaultContentType: 'application/cloudevents+json',
    servers: {
      eventsTopic: {
        host: 'sns.{region}.amazonaws.com',
        protocol: 'sns',
        description: 'The EventsTopicArn output. Message attributes `type` and `phoneNumberId` serve subscription filter policies.',
        variables: { region: { description: 'The stack region' } },
      },
      webhooks: {
        host: '{host}',
        protocol: 'https',
        description: 'Your endpoints registered with POST /v1/webhooks: one signed POST per event.',
        variables: { host: { description: 'Your endpoint host' } },
      },
    },
    channels: {
      events: {
        address: 'events',
        title: 'Domain events',
        description: 'The events topic, and the same events POSTed to each registered webhook subscribed to their type.',
        servers: [{ $ref: '#/servers/eventsTopic' }, { $ref: '#/servers/webhooks' }],
        messages: refs,
      },
    },
    operations: {
      publishEvents: {
        action: 'send',
        title: 'The backend sends every domain event',
        channel: { $ref: '#/channels/events' },
        messages: Object.keys(refs).map((name) => ({ $ref: `#/channels/events/messages/${name}` })),
      },
    },
    components: { messages, schemas },
  };
}
