/** Send routes: `POST /v1/messages` and `POST /v1/messages/{id}/read` (api-contract.md §3). */
import * as z from 'zod';
import { ValidationError } from '../../../shared/domain/errors.ts';
import type { MessageSender } from '../../../shared/domain/send-message.ts';
import { parseSendMessageRequest, SendMessageRequest } from '../../../shared/whatsapp/outbound.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

/**
 * The body is validated here, at the edge, against `SendMessageRequest` by its own parser
 * (`parseSendMessageRequest`, which words each error and names the field); the use case gets a
 * valid request. The document shows the schema with a description of its own (built when the
 * document is asked for, not when the function loads).
 */
function parseSendBody(raw: unknown): SendMessageRequest {
  const parsed = parseSendMessageRequest(raw);
  if (!parsed.ok) throw new ValidationError(parsed.error.message, { path: parsed.error.path });
  return parsed.value;
}

const SendAcceptedSchema = z
  .object({
    id: z.string(),
    status: z.literal('accepted'),
    awsMessageId: z.string().nullable(),
    templateChecked: z
      .boolean()
      .optional()
      .describe('Template sends: true when the template was checked against the catalog (exists in that language, APPROVED, parameters fit); false when the catalog has not seen it, so it was sent unchecked.'),
  })
  .meta({ id: 'SendAccepted' });

const MarkReadSchema = z.object({ id: z.string(), wamid: z.string(), read: z.literal(true) }).meta({ id: 'MarkReadResult' });

/** Visible ASCII, as the IETF Idempotency-Key draft's examples; long enough for a UUID or a hash. */
const IdempotencyKey = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, { error: 'Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice)' })
  .optional();

/** `sender` is called when a request comes, so that building the route table needs no dependency. */
export function sendRoutes(deps: { sender: () => MessageSender }): AnyRoute[] {
  const { sender } = deps;
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/messages',
      operationId: 'sendMessage',
      summary:
        'Send a WhatsApp message. With an Idempotency-Key header, a retry never sends twice: it gets the first answer (header idempotent-replayed: true). 429 (throttled, nothing sent): retry after Retry-After with the same key. 502 send_in_doubt: AWS did not confirm the send, which may have gone out; it is never sent again with that key. A template is first checked against the catalog of the number\'s WABA: 404 template_not_found (not in that language), 409 template_not_approved (PENDING, PAUSED, DISABLED…), 422 template_parameter_mismatch (every component whose parameter count or names differ, with the counts); nothing is stored or sent then. A template the catalog has not seen is sent with templateChecked: false.',
      headers: z.object({ 'idempotency-key': IdempotencyKey }),
      body: SendMessageRequest,
      parseBody: parseSendBody,
      bodyDescription:
        "Meta's Cloud API send-message JSON (`to` or `recipient`, `type`, the type's object, optional `context` and `biz_opaque_callback_data`) plus `from`: the business number as its phone number id, its ARN or its display number.",
      responses: { 202: { description: 'Accepted by WhatsApp (through AWS) for delivery', schema: SendAcceptedSchema } },
      errors: [400, 404, 409, 422, 429, 500, 502, 503],
      async handle({ headers, body }) {
        const key = headers['idempotency-key'];
        const out = await sender().send(body, key !== undefined ? { idempotencyKey: key } : {});
        return { status: 202, body: out.body, ...(out.replayed && { headers: { 'idempotent-replayed': 'true' } }) };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/messages/{id}/read',
      operationId: 'markMessageRead',
      summary: 'Mark an inbound message read (by id or wamid); with typingIndicator, the user also sees "typing…" for up to 25 s.',
      params: z.object({ id: z.string().min(1) }),
      body: z.strictObject({ typingIndicator: z.boolean().optional() }).default({}),
      responses: { 200: { description: 'Marked read', schema: MarkReadSchema } },
      errors: [400, 404, 409, 429, 500, 502, 503],
      async handle({ params, body }) {
        const { typingIndicator } = body;
        const result = await sender().markRead(params.id, typingIndicator !== undefined ? { typingIndicator } : {});
        return { status: 200, body: result };
      },
    }),
  ];
}
