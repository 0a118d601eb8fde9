/** Read routes: messages, conversations, quarantine (api-contract.md §3). */
import * as z from 'zod';
import { NotFoundError } from '../../../shared/domain/errors.ts';
import {
  ConversationSchema,
  MessageSchema,
  pageOf,
  QuarantineItemSchema,
} from '../../../shared/domain/resources.ts';
import { contactIdOf } from '../../../shared/domain/message-view.ts';
import type { MessageQueries } from '../../../shared/ports/message-queries.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

const Paging = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().optional(),
});

export function readRoutes(deps: { queries: MessageQueries; now: () => number }): AnyRoute[] {
  const { queries } = deps;
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/messages/{id}',
      operationId: 'getMessage',
      summary: "A message by the project's id or by its wamid.",
      params: z.object({ id: z.string().min(1) }),
      responses: { 200: { description: 'The message', schema: MessageSchema } },
      errors: [404],
      async handle({ params }) {
        const message = await queries.getMessage(params.id);
        if (!message) throw new NotFoundError(`No message has the id or wamid ${params.id}.`, 'message_not_found');
        return { status: 200, body: message };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/conversations',
      operationId: 'listConversations',
      summary: 'Conversations, most recent activity first.',
      query: Paging.extend({
        phoneNumberId: z
          .string()
          .min(1)
          .optional()
          .describe('One business number; without it, every number this backend serves (its configured phone number ids). A number no longer configured is listed by naming it.'),
      }),
      responses: { 200: { description: 'A page of conversations', schema: pageOf(ConversationSchema, 'ConversationPage') } },
      errors: [400],
      async handle({ query }) {
        return { status: 200, body: await queries.listConversations({ ...query, nowMs: deps.now() }) };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/conversations/{phoneNumberId}/{contactId}/messages',
      operationId: 'listConversationMessages',
      summary: "A conversation's messages, newest first. contactId is the user's wa_id (digits) or BSUID.",
      params: z.object({ phoneNumberId: z.string().min(1), contactId: z.string().min(1) }),
      query: Paging,
      responses: { 200: { description: 'A page of messages', schema: pageOf(MessageSchema, 'MessagePage') } },
      errors: [400],
      async handle({ params, query }) {
        const contactId = contactIdOf(params.contactId);
        return { status: 200, body: await queries.listMessages({ phoneNumberId: params.phoneNumberId, contactId, ...query }) };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/quarantine',
      operationId: 'listQuarantine',
      summary: 'Events that could not be understood, newest first, with their raw body and the reason.',
      query: Paging,
      responses: { 200: { description: 'A page of quarantined events', schema: pageOf(QuarantineItemSchema, 'QuarantinePage') } },
      errors: [400],
      async handle({ query }) {
        return { status: 200, body: await queries.listQuarantine(query) };
      },
    }),
  ];
}
