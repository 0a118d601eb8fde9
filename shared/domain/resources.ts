/**
 * The API's resources (api-contract.md §3), as zod schemas: they type the handlers and generate the
 * OpenAPI document, so the two cannot disagree.
 */
import * as z from 'zod';

export const ContactSchema = z
  .object({ waId: z.string().optional(), userId: z.string().optional(), name: z.string().optional() })
  .meta({ id: 'Contact' });

export const StatusEntrySchema = z
  .object({
    status: z.string(),
    timestamp: z.string(),
    errors: z.array(z.record(z.string(), z.unknown())).optional(),
    pricing: z.record(z.string(), z.unknown()).optional(),
    conversation: z.record(z.string(), z.unknown()).optional(),
    participantId: z
      .string()
      .optional()
      .describe('Group messages: the member this status is about (each member has their own delivered and read).'),
    identityKeyHash: z.string().optional().describe("`recipient_identity_key_hash`, when the business checks the user's identity."),
  })
  .meta({ id: 'StatusEntry' });

export const MessageErrorSchema = z
  .object({
    code: z.number().int(),
    title: z.string().optional(),
    details: z.string().optional(),
    retryable: z.boolean(),
    action: z.enum(['send_template', 'fix_request', 'wait', 'none']),
    hint: z.string().optional(),
  })
  .meta({ id: 'MessageError' });

export const MediaSchema = z
  .object({
    id: z.string(),
    mimeType: z.string().optional(),
    sha256: z.string().optional(),
    filename: z.string().optional(),
    state: z.enum(['pending', 'stored', 'failed']),
    size: z.number().int().optional(),
    reason: z.string().optional(),
  })
  .meta({ id: 'Media' });

export const MessageSchema = z
  .object({
    id: z.string(),
    wamid: z.string().nullable(),
    direction: z.enum(['inbound', 'outbound']),
    phoneNumberId: z.string().optional(),
    contact: ContactSchema.optional(),
    type: z.string().optional(),
    content: z.unknown().optional(),
    context: z
      .object({
        replyTo: z.string().optional(),
        from: z.string().optional(),
        forwarded: z.boolean(),
        frequentlyForwarded: z.boolean(),
        referredProduct: z.object({ catalogId: z.string().optional(), productRetailerId: z.string().optional() }).optional(),
      })
      .optional(),
    referral: z.record(z.string(), z.unknown()).optional(),
    timestamp: z.string().optional(),
    status: z.enum(['received', 'accepted', 'sent', 'delivered', 'read', 'played', 'failed']),
    statuses: z.array(StatusEntrySchema),
    errors: z.array(MessageErrorSchema),
    media: MediaSchema.optional(),
    awsMessageId: z.string().optional(),
    bizOpaqueCallbackData: z.string().optional(),
    /** Why AWS refused the send (the error `POST /v1/messages` answered); only on a send that never went out. */
    sendError: z.object({ code: z.string(), message: z.string() }).optional(),
    /**
     * Where the send of an outbound message stands on our side, apart from WhatsApp's `status`:
     * `sending` (the call to AWS is under way, or its outcome was lost), `sent` (AWS accepted it),
     * `rejected` (AWS refused it: never sent; see `sendError`), `in_doubt` (AWS did not answer
     * clearly: it may have gone out, and is never sent again). `status` stays `accepted` until
     * WhatsApp reports one, whether or not AWS confirmed the send. Absent on inbound messages and
     * on outbound ones this backend did not send.
     */
    sendState: z
      .enum(['sending', 'sent', 'rejected', 'in_doubt'])
      .optional()
      .describe(
        'Outbound only: where the send stands on our side. sending = under way or its outcome lost; sent = AWS accepted it; ' +
          'rejected = AWS refused it (never sent, see sendError); in_doubt = AWS did not answer clearly (it may have gone out; never sent again). ' +
          'status stays accepted until WhatsApp reports one. Absent when the message has no send record.',
      ),
  })
  .meta({ id: 'Message' });

export const ConversationSchema = z
  .object({
    phoneNumberId: z.string(),
    contactId: z.string(),
    contact: ContactSchema,
    lastMessageAt: z.string().optional(),
    lastInboundAt: z.string().optional(),
    windowExpiresAt: z.string().optional(),
    windowOpen: z.boolean(),
    messageCount: z.number().int(),
  })
  .meta({ id: 'Conversation' });

export const QuarantineItemSchema = z
  .object({
    id: z.string(),
    receivedAt: z.string(),
    reason: z.string(),
    raw: z.string(),
    rawTruncated: z.boolean().optional(),
    source: z.string().optional(),
    replayedAt: z.string().optional().describe('When POST /v1/quarantine/{id}/replay stored the event.'),
  })
  .meta({ id: 'QuarantineItem' });

export const pageOf = <T extends z.ZodType>(item: T, id: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() }).meta({ id });

export const ErrorBodySchema = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
  })
  .meta({ id: 'Error' });

export type Message = z.infer<typeof MessageSchema>;
export type Conversation = z.infer<typeof ConversationSchema>;
export type QuarantineItem = z.infer<typeof QuarantineItemSchema>;
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
