/** Broadcast routes (api-contract.md §4): create, show, list recipients, stop. */
import * as z from 'zod';
import { NotFoundError } from '../../../shared/domain/errors.ts';
import { CreateBroadcastSchema, RECIPIENT_STATES, type Broadcasts } from '../../../shared/domain/broadcasts.ts';
import { LIST_PAGE_BYTES, MAX_UPLOADED_RECIPIENTS, REJECT_REASONS, StartListUploadSchema } from '../../../shared/domain/broadcast-uploads.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

const Counts = z.object({ queued: z.int(), sending: z.int(), sent: z.int(), failed: z.int(), inDoubt: z.int(), cancelled: z.int(), skipped: z.int().describe('MARKETING sends to users on the suppression list') });
const BroadcastSchema = z
  .object({
    id: z.string(),
    state: z.enum(['queued', 'running', 'stopping', 'stopped', 'completed']),
    phoneNumberId: z.string(),
    template: z.object({ name: z.string(), language: z.string() }),
    total: z.int(),
    createdAt: z.string(),
    counts: Counts.describe('Recipients per send state; inDoubt: the send may have gone out and is never repeated'),
    statuses: z.record(z.string(), z.int()).optional().describe('Messages per WhatsApp status they reached (sent, delivered, read, failed), each counted once'),
    failures: z.record(z.string(), z.int()).optional().describe('Refused sends by error code, failed statuses by Meta code'),
    messagingLimit: z
      .object({
        users: z.union([z.int(), z.literal('unlimited')]).describe('Unique users its sends may reach in 24 hours'),
        source: z.enum(['meta', 'config']).describe('meta: the limit Meta last reported for the WABA (phone_number_quality_update); config: messagingTier'),
      })
      .optional()
      .describe("The business's messaging limit its number's sends keep to now"),
    recipientsUpload: z
      .object({
        uploadId: z.string(),
        loading: z.boolean().describe('Pages of the list are still being read: total grows until it is false'),
        rows: z.int().describe('Rows read so far, refused ones included'),
        rejected: z.int(),
        rejectedBy: z.partialRecord(z.enum(REJECT_REASONS), z.int()).describe('Refused rows by reason'),
        rejectedSamples: z.array(z.object({ line: z.int(), reason: z.enum(REJECT_REASONS) })).describe('Some refused rows, by line number (from 1)'),
      })
      .optional()
      .describe('For a broadcast to an uploaded list'),
  })
  .meta({ id: 'Broadcast' });
const RecipientSchema = z
  .object({ to: z.string(), state: z.string(), messageId: z.string().nullable(), error: z.object({ code: z.string(), message: z.string() }).optional() })
  .meta({ id: 'BroadcastRecipient' });

/** Ids are `bc_` + 32 hex: anything else names no broadcast, and never reaches the table as a key. */
const IdParam = z.object({ id: z.string() });
const known = (id: string) => {
  if (!/^bc_[0-9a-f]{32}$/.test(id)) throw new NotFoundError(`No broadcast has the id ${id.length > 80 ? `${id.slice(0, 80)}…` : id}.`, 'broadcast_not_found');
  return id;
};
const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,255}$/, { error: 'Idempotency-Key must be 1 to 255 visible ASCII characters' }).optional();

const UploadTicketSchema = z
  .object({ uploadId: z.string(), uploadUrl: z.string(), method: z.literal('PUT'), headers: z.record(z.string(), z.string()), expiresAt: z.string() })
  .meta({ id: 'RecipientsUploadTicket' });

export function broadcastRoutes(broadcasts: () => Broadcasts): AnyRoute[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/broadcasts/uploads',
      operationId: 'startRecipientsUpload',
      summary: `Starts the upload of a recipient list for a broadcast larger than 10,000 (up to ${MAX_UPLOADED_RECIPIENTS.toLocaleString('en-US')} rows): PUT the file to uploadUrl with the headers given, then POST /v1/broadcasts with recipientsUpload: uploadId. The file has one recipient per line (UTF-8): a phone number, or a JSON object {"to", "parameters"?} with the template's components for that recipient; a first line "to" and empty lines are skipped; a line is at most ${LIST_PAGE_BYTES / 1024} KiB. Bad rows are counted and reported on the broadcast, not fatal.`,
      body: StartListUploadSchema,
      responses: { 201: { description: 'Where to PUT the file', schema: UploadTicketSchema } },
      errors: [400, 500],
      async handle({ body }) {
        return { status: 201, body: await broadcasts().startUpload(body.size) };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/broadcasts',
      operationId: 'createBroadcast',
      summary:
        "Sends a template to up to 10,000 recipients (or to an uploaded list: recipientsUpload, see POST /v1/broadcasts/uploads; its rows are read in pages after the answer, recipientsUpload.loading says when all are), paced under the number's throughput; each recipient gets one message through the same path as POST /v1/messages (its parameters fill the template's components). Every recipient's template is checked first: 422 broadcast_recipients_invalid lists those that would be refused. With an Idempotency-Key, a retry creates nothing new.",
      headers: z.object({ 'idempotency-key': IdempotencyKey }),
      body: CreateBroadcastSchema,
      responses: { 202: { description: 'Accepted: the sends are queued', schema: BroadcastSchema } },
      errors: [400, 404, 409, 422, 429, 500, 503],
      async handle({ body, headers }) {
        const key = headers['idempotency-key'];
        return { status: 202, body: await broadcasts().create(body, key !== undefined ? { idempotencyKey: key } : {}) };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/broadcasts/{id}',
      operationId: 'getBroadcast',
      summary: 'The broadcast: its state, recipients per send state, messages per WhatsApp status and failures by code (counters kept as statuses arrive: the same cost at any size).',
      params: IdParam,
      responses: { 200: { description: 'The broadcast', schema: BroadcastSchema } },
      errors: [404],
      async handle({ params }) {
        return { status: 200, body: await broadcasts().get(known(params.id)) };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/broadcasts/{id}/recipients',
      operationId: 'listBroadcastRecipients',
      summary: 'The recipients of a broadcast and the state of each send (status= one of queued, sending, sent, failed, in_doubt, cancelled, skipped).',
      params: IdParam,
      query: z.object({ status: z.enum(RECIPIENT_STATES).optional(), limit: z.coerce.number().int().min(1).max(100).default(50), cursor: z.string().optional() }),
      responses: { 200: { description: 'A page of recipients', schema: z.object({ items: z.array(RecipientSchema), nextCursor: z.string().nullable() }) } },
      errors: [400, 404],
      async handle({ params, query }) {
        const page = await broadcasts().recipients(known(params.id), { limit: query.limit, ...(query.status && { state: query.status }), ...(query.cursor && { cursor: query.cursor }) });
        return { status: 200, body: page };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/v1/broadcasts/{id}',
      operationId: 'stopBroadcast',
      summary: 'Stops a broadcast: what has not been sent is not sent (state stopping, then stopped).',
      params: IdParam,
      responses: { 200: { description: 'The broadcast, stopping', schema: BroadcastSchema } },
      errors: [404, 409],
      async handle({ params }) {
        return { status: 200, body: await broadcasts().stop(known(params.id)) };
      },
    }),
  ];
}
