/** Media routes (api-contract.md §3): outbound uploads and the stored files of inbound messages. */
import * as z from 'zod';
import { mediaDownload } from '../../../shared/domain/media-jobs.ts';
import { completeUpload, startUpload, type UploadDeps } from '../../../shared/domain/media-uploads.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

/** What the media routes need; built on first use (see `lambdas/api/handler.ts`). */
export type MediaApiDeps = UploadDeps;

const MediaDownloadSchema = z
  .object({
    url: z.string().describe('Presigned GET URL of the stored file; works until expiresAt (about 5 minutes).'),
    expiresAt: z.string(),
    mimeType: z.string().optional(),
    size: z.number().int().optional(),
  })
  .meta({ id: 'MediaDownload' });

const StartUploadSchema = z
  .strictObject({
    from: z.string().min(1).describe('The business number that will send the media: its AWS phone number id, its ARN or its display number.'),
    contentType: z.string().min(1).max(255).describe('MIME type of the file, e.g. image/jpeg or application/pdf.'),
    filename: z.string().min(1).max(255).optional(),
    size: z.number().int().nonnegative().describe('Exact size of the file in bytes.'),
  })
  .meta({ id: 'StartUpload' });

const UploadTicketSchema = z
  .object({
    uploadId: z.string(),
    uploadUrl: z.string(),
    method: z.literal('PUT'),
    headers: z.record(z.string(), z.string()).describe('Send exactly these headers with the PUT.'),
    expiresAt: z.string(),
  })
  .meta({ id: 'UploadTicket' });

const CompletedMediaSchema = z
  .object({
    mediaId: z.string().describe('WhatsApp media id, for {"image": {"id": …}} and the like, from the same business number.'),
    contentType: z.string(),
    size: z.number().int(),
    expiresAt: z.string().describe('WhatsApp forgets the media id after 30 days.'),
  })
  .meta({ id: 'CompletedMedia' });

export function mediaRoutes(deps: { media: () => MediaApiDeps }): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/messages/{id}/media',
      operationId: 'getMessageMedia',
      summary:
        'A short-lived URL of the stored file of an inbound media message. 409 media_pending while it is being copied; media_failed (410, or 409 when a retry can still succeed) with the reason.',
      params: z.object({ id: z.string().min(1) }),
      responses: { 200: { description: 'Where to download the file', schema: MediaDownloadSchema } },
      errors: [404, 409, 410],
      async handle({ params }) {
        return { status: 200, body: await mediaDownload(params.id, deps.media()) };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/media',
      operationId: 'startMediaUpload',
      summary:
        'Start an outbound upload: PUT the file to uploadUrl with the headers given, then complete it. Types and sizes WhatsApp would refuse are refused here (422 unsupported_type, too_large, empty_file).',
      body: StartUploadSchema,
      responses: { 201: { description: 'Where and how to PUT the file', schema: UploadTicketSchema } },
      errors: [400, 404, 422],
      async handle({ body }) {
        return { status: 201, body: await startUpload(body, deps.media()) };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/media/{uploadId}/complete',
      operationId: 'completeMediaUpload',
      summary:
        'Check the uploaded file (real type from its content, size) and register it with WhatsApp. Completing again answers the same mediaId. 409 upload_missing before the PUT; 422 type_mismatch, unsupported_type, too_large or empty_file.',
      params: z.object({ uploadId: z.string().regex(/^upl_[0-9a-f]{32}$/, 'not an uploadId this API returned') }),
      responses: { 200: { description: 'The WhatsApp media id', schema: CompletedMediaSchema } },
      errors: [400, 404, 409, 422, 429, 502, 503],
      async handle({ params }) {
        return { status: 200, body: await completeUpload(params.uploadId, deps.media()) };
      },
    }),
  ];
}
