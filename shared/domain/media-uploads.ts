/**
 * Outbound media use cases: start an upload (presigned PUT), then check the uploaded object and
 * register it with WhatsApp (PostWhatsAppMessageMedia). No SDK imports: the ports in
 * shared/ports/media.ts do the I/O.
 */
import { randomUUID } from 'node:crypto';
import type { CompletedUpload, MediaRecords, MediaStorage, UploadRecord, WhatsAppMedia } from '../ports/media.ts';
import { ApiError, ConflictError, NotFoundError } from './errors.ts';
import {
  canonicalMime,
  checkOutboundMedia,
  kindOfMime,
  maxBytes,
  MB,
  outboundUploadKey,
  UPLOADED_MEDIA_ID_TTL_MS,
  type MediaRejection,
} from './media.ts';
import { SNIFF_BYTES, sniffMedia } from './sniff.ts';

/** How long a completion is held: longer than an API request may run. */
export const UPLOAD_LEASE_MS = 60_000;
/** Lifetime of an upload URL. */
export const UPLOAD_URL_TTL_SECONDS = 15 * 60;
/** An upload that is never completed is forgotten after this long (DynamoDB TTL). */
export const PENDING_UPLOAD_RETENTION_MS = 24 * 60 * 60 * 1000;

/** `unprocessable`: the file (or the file announced) is not one WhatsApp accepts; `code` says why. */
export class MediaRejectedError extends ApiError {
  constructor(reason: MediaRejection, message: string, details?: Record<string, unknown>) {
    super('unprocessable', reason, message, details);
  }
}

export interface StartUploadInput {
  /** The business number: its AWS phone number id, its ARN or its display number. */
  from: string;
  contentType: string;
  filename?: string;
  size: number;
}

export interface UploadTicket {
  uploadId: string;
  uploadUrl: string;
  method: 'PUT';
  headers: Record<string, string>;
  expiresAt: string;
}

export interface UploadDeps {
  records: MediaRecords;
  storage: MediaStorage;
  whatsapp: WhatsAppMedia;
  now: () => number;
  /**
   * The AWS phone number id of `from` (id, ARN or display number), as for sending
   * (`PhoneNumberResolver`); `undefined` or a not-found error when it is not one of the backend's numbers.
   */
  resolvePhoneNumber: (from: string) => Promise<string | undefined>;
}

export const newUploadId = () => `upl_${randomUUID().replaceAll('-', '')}`;

const essence = (mime: string) => (mime.split(';')[0] ?? '').trim().toLowerCase();

function formatSize(n: number): string {
  return n >= MB && n % MB === 0 ? `${n / MB} MB` : `${n} bytes`;
}

/**
 * Starts an outbound upload.
 * 1. Resolve the business number.
 * 2. Refuse what cannot succeed before a byte is sent: an empty file, a type WhatsApp does not
 *    accept, more bytes than the kind allows (stickers: the animated limit; the real one is
 *    checked on completion, when the content tells whether the sticker is animated).
 * 3. Record the upload, then hand out a presigned PUT bound to the Content-Type and
 *    Content-Length (S3 refuses any other size).
 */
export async function startUpload(input: StartUploadInput, deps: UploadDeps): Promise<UploadTicket> {
  const phoneNumberId = await deps.resolvePhoneNumber(input.from);
  if (!phoneNumberId) {
    throw new NotFoundError('"from" is not a business phone number of this backend: give its phone number id, its ARN or its display number.', 'unknown_phone_number');
  }
  if (input.size === 0) throw new MediaRejectedError('empty_file', 'The file is empty.');
  const kind = kindOfMime(input.contentType);
  const canonical = canonicalMime(input.contentType);
  if (!kind || !canonical) {
    const check = checkOutboundMedia({ declaredContentType: input.contentType, sniffed: undefined, size: input.size });
    throw new MediaRejectedError('unsupported_type', check.ok ? 'This type is not accepted.' : check.message);
  }
  const limit = maxBytes(kind, { animated: true });
  if (input.size > limit) {
    throw new MediaRejectedError(
      'too_large',
      `A ${kind} may be at most ${formatSize(limit)} (${limit} bytes); this file has ${input.size} bytes.`,
      { maxBytes: limit },
    );
  }

  const nowMs = deps.now();
  const uploadId = newUploadId();
  const s3Key = outboundUploadKey(phoneNumberId, uploadId);
  const contentType = essence(canonical);
  const upload: UploadRecord = {
    uploadId,
    phoneNumberId,
    declaredContentType: input.contentType,
    contentType,
    size: input.size,
    s3Key,
    state: 'pending',
    createdAtMs: nowMs,
    uploadExpiresAtMs: nowMs + UPLOAD_URL_TTL_SECONDS * 1000,
    ...(input.filename !== undefined && { filename: input.filename }),
  };
  await deps.records.createUpload(upload);
  const signed = await deps.storage.presignPut(s3Key, {
    expiresInSeconds: UPLOAD_URL_TTL_SECONDS,
    contentType,
    contentLength: input.size,
  });
  return {
    uploadId,
    uploadUrl: signed.url,
    method: 'PUT',
    headers: signed.headers,
    expiresAt: new Date(upload.uploadExpiresAtMs).toISOString(),
  };
}

/** What `POST /v1/media/{uploadId}/complete` answers. */
export interface CompletedMedia {
  mediaId: string;
  contentType: string;
  size: number;
  expiresAt: string;
}

const answerOf = (r: CompletedUpload): CompletedMedia => ({
  mediaId: r.mediaId,
  contentType: r.contentType,
  size: r.size,
  expiresAt: new Date(r.expiresAtMs).toISOString(),
});

/**
 * Checks an uploaded file and registers it with WhatsApp, once.
 * 1. Claim the completion (conditional write). Completed before → the same answer, no second
 *    registration; being completed right now → `upload_in_progress` (conflict).
 * 2. HeadObject: no object → `upload_missing` (conflict).
 * 3. Read the first 4 KiB and check the real type against the declared one and the size against
 *    the kind's limit (`checkOutboundMedia`) → unprocessable, with the reason; an object stored with another
 *    Content-Type than the upload was started with → `type_mismatch`.
 * 4. PostWhatsAppMessageMedia from the object → record the result (media id, 30 days).
 * A refusal or a failure gives the claim back: the caller may PUT again and complete again.
 */
export async function completeUpload(uploadId: string, deps: UploadDeps): Promise<CompletedMedia> {
  const claim = await deps.records.claimUpload(uploadId, { nowMs: deps.now(), leaseMs: UPLOAD_LEASE_MS });
  if (!claim.claimed) {
    if (claim.state === 'missing') throw new NotFoundError(`No upload has the id ${uploadId}.`, 'upload_not_found');
    if (claim.state === 'completed') return answerOf(claim.upload.result);
    throw new ConflictError('This upload is being completed by another request: retry in a moment.', 'upload_in_progress');
  }
  const { token, upload } = claim;
  try {
    const object = await deps.storage.head(upload.s3Key);
    if (!object) {
      throw new ConflictError(
        'Nothing was uploaded for this upload yet: PUT the file to the uploadUrl with the given headers, then complete.',
        'upload_missing',
      );
    }
    const head = object.size > 0 ? await deps.storage.readHead(upload.s3Key, SNIFF_BYTES) : new Uint8Array();
    const check = checkOutboundMedia({
      declaredContentType: upload.declaredContentType,
      sniffed: sniffMedia(head),
      size: object.size,
    });
    if (!check.ok) throw new MediaRejectedError(check.reason, check.message);
    if (object.contentType !== undefined && essence(object.contentType) !== check.contentType) {
      throw new MediaRejectedError(
        'type_mismatch',
        `The file was uploaded with Content-Type ${essence(object.contentType)}, but the upload was started for ${check.contentType}: PUT it again with the headers given.`,
      );
    }
    const { mediaId } = await deps.whatsapp.uploadFromBucket({
      phoneNumberId: upload.phoneNumberId,
      bucket: deps.storage.bucket,
      key: upload.s3Key,
    });
    const result: CompletedUpload = {
      mediaId,
      contentType: check.contentType,
      size: object.size,
      expiresAtMs: deps.now() + UPLOADED_MEDIA_ID_TTL_MS,
    };
    await deps.records.completeUpload(uploadId, token, result);
    return answerOf(result);
  } catch (err) {
    try {
      await deps.records.releaseUpload(uploadId, token);
    } catch {
      // The lease runs out on its own.
    }
    throw err;
  }
}
