/**
 * Media use cases, both ways:
 * - inbound: copy the file of an inbound media message from WhatsApp into the media bucket, check
 *   its SHA-256 against the webhook's, and serve it through a short-lived URL;
 * - outbound: start an upload (presigned PUT), then check the uploaded object and register it with
 *   WhatsApp (PostWhatsAppMessageMedia).
 * No SDK imports: the ports in shared/ports/media.ts do the I/O.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type {
  CompletedUpload,
  InboundMediaJob,
  MediaRecords,
  MediaStorage,
  UploadRecord,
  WhatsAppMedia,
} from '../ports/media.ts';
import { ApiError, ConflictError, NotFoundError } from './errors.ts';
import { isMessageId, messageIdFromWamid } from './ids.ts';
import {
  canonicalMime,
  checkOutboundMedia,
  inboundMediaKey,
  INBOUND_MEDIA_ID_TTL_MS,
  kindOfMime,
  maxBytes,
  MB,
  outboundUploadKey,
  storedObjectKey,
  UPLOADED_MEDIA_ID_TTL_MS,
  type MediaRejection,
} from './media.ts';
import { SNIFF_BYTES, sniffMedia } from './sniff.ts';
import type { InboundMessage } from './types.ts';

/**
 * How long a claimed inbound copy is held before another job may take it over: the media
 * Lambda's timeout (120 s) plus a margin, and well under the queue's visibility timeout, so a
 * crashed copy is free again by the time SQS delivers its job once more.
 */
export const INBOUND_LEASE_MS = 150_000;
/** How long a completion is held: longer than an API request may run. */
export const UPLOAD_LEASE_MS = 60_000;
/** Lifetime of an upload URL. */
export const UPLOAD_URL_TTL_SECONDS = 15 * 60;
/** Lifetime of a download URL of a stored inbound file. */
export const DOWNLOAD_URL_TTL_SECONDS = 5 * 60;
/** An upload that is never completed is forgotten after this long (DynamoDB TTL). */
export const PENDING_UPLOAD_RETENTION_MS = 24 * 60 * 60 * 1000;

// ---------------------------------------------------------------------------------------------
// Inbound: jobs

export const InboundMediaJobSchema = z.object({
  messageId: z.string().min(1),
  mediaId: z.string().min(1),
  phoneNumberId: z.string().min(1),
  contactId: z.string().min(1),
  timestampMs: z.number().int().nonnegative(),
  mimeType: z.string().optional(),
  sha256: z.string().optional(),
});

/** The copy job of an inbound message, or `undefined` when it carries no media. */
export function inboundMediaJob(m: InboundMessage): InboundMediaJob | undefined {
  if (!m.media) return undefined;
  return {
    messageId: m.id,
    mediaId: m.media.id,
    phoneNumberId: m.business.phoneNumberId,
    contactId: m.contactId,
    timestampMs: m.timestampMs,
    ...(m.media.mimeType !== undefined && { mimeType: m.media.mimeType }),
    ...(m.media.sha256 !== undefined && { sha256: m.media.sha256 }),
  };
}

/** Why an inbound copy failed: stable codes, and whether a later retry could succeed. */
export const MEDIA_FAILURE_REASONS = {
  media_expired: {
    retryable: false,
    message: 'The media id is more than 7 days old: WhatsApp no longer keeps the file.',
  },
  media_not_found: {
    retryable: false,
    message: 'WhatsApp no longer knows this media id (it expired or was deleted).',
  },
  media_refused: { retryable: false, message: 'Meta refused access to this media for the business number.' },
  invalid_media_request: { retryable: false, message: 'AWS End User Messaging Social refused the download request as invalid.' },
  sha256_mismatch: {
    retryable: false,
    message: 'The downloaded file does not match the SHA-256 WhatsApp announced in the webhook.',
  },
  retries_exhausted: {
    retryable: true,
    message: 'Copying the file failed repeatedly; redriving the media queue DLQ tries again.',
  },
} as const satisfies Record<string, { retryable: boolean; message: string }>;
export type MediaFailureReason = keyof typeof MEDIA_FAILURE_REASONS;

/**
 * GetWhatsAppMessageMedia errors that no retry can fix, by exception name. Every other error
 * (ThrottledRequest, Dependency, InternalService, AccessDenied, network) is retried: AccessDenied
 * is the backend's own IAM, which a fix to the stack heals.
 */
export const DOWNLOAD_FAILURES: Readonly<Record<string, MediaFailureReason>> = {
  ResourceNotFoundException: 'media_not_found',
  AccessDeniedByMetaException: 'media_refused',
  ValidationException: 'invalid_media_request',
  InvalidParametersException: 'invalid_media_request',
};

/** What SQS should do after a failed attempt: wait longer on each receive, capped. */
export function retryDelaySeconds(receiveCount: number): number {
  const n = Math.max(1, Math.floor(receiveCount));
  return Math.min(600, 30 * 2 ** (n - 1));
}

/**
 * Whether a file's SHA-256 matches the webhook's value. Meta writes it in base64; hex is accepted
 * too, because some Meta media APIs report hex.
 */
export function sha256Matches(expected: string, actual: Buffer): boolean {
  const e = expected.trim();
  if (/^[0-9a-f]{64}$/i.test(e)) return e.toLowerCase() === actual.toString('hex');
  const normal = e.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  return normal === actual.toString('base64').replace(/=+$/, '');
}

export interface InboundCopyDeps {
  records: MediaRecords;
  storage: MediaStorage;
  whatsapp: WhatsAppMedia;
  now: () => number;
}

export type CopyOutcome =
  | { outcome: 'stored'; s3Key: string; size: number }
  | { outcome: 'failed'; reason: MediaFailureReason }
  | { outcome: 'skipped'; state: string };

function errorName(err: unknown): string | undefined {
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

/**
 * Copies the file of one inbound media message into the bucket.
 * 1. Claim the copy (conditional write). Already stored, being copied under a live lease, or
 *    failed for good → nothing to do (a duplicate job).
 * 2. A media id older than 7 days → `failed` (`media_expired`) without calling AWS.
 * 3. GetWhatsAppMessageMedia into `inboundMediaKey(...)`, a per-message prefix.
 * 4. Find the object under the prefix (AWS names the file) and stream it through SHA-256.
 * 5. Matching → `stored` with key, size and type; not matching → `failed` (`sha256_mismatch`).
 * Errors no retry can fix → `failed` with their reason. Transient errors (throttling, Meta or AWS
 * unavailable) give the claim back and are rethrown so that SQS retries the job; on the last
 * attempt the media is marked `failed` (`retries_exhausted`, retryable) before rethrowing, so the
 * API tells the truth while the job waits in the DLQ.
 */
export async function copyInboundMedia(
  job: InboundMediaJob,
  deps: InboundCopyDeps,
  opts: { finalAttempt: boolean } = { finalAttempt: false },
): Promise<CopyOutcome> {
  const { records, storage, whatsapp } = deps;
  const claim = await records.claimInbound(job.messageId, job.mediaId, { nowMs: deps.now(), leaseMs: INBOUND_LEASE_MS });
  if (!claim.claimed) return { outcome: 'skipped', state: claim.state };
  const { token } = claim;

  const fail = async (reason: MediaFailureReason, s3Key?: string): Promise<CopyOutcome> => {
    const { retryable } = MEDIA_FAILURE_REASONS[reason];
    await records.markFailed(job.messageId, token, { reason, retryable, nowMs: deps.now(), ...(s3Key && { s3Key }) });
    return { outcome: 'failed', reason };
  };

  if (deps.now() - job.timestampMs >= INBOUND_MEDIA_ID_TTL_MS) return fail('media_expired');

  let prefix: string;
  try {
    prefix = inboundMediaKey(job);
    if (!/^[A-Za-z0-9]{1,100}$/.test(job.mediaId)) return fail('invalid_media_request');
  } catch (err) {
    if (err instanceof RangeError) return fail('invalid_media_request');
    throw err;
  }

  try {
    let answer: { mimeType?: string; fileSize?: number };
    try {
      answer = await whatsapp.downloadToBucket({
        mediaId: job.mediaId,
        phoneNumberId: job.phoneNumberId,
        bucket: storage.bucket,
        keyPrefix: prefix,
      });
    } catch (err) {
      const name = errorName(err) ?? '';
      const reason = Object.hasOwn(DOWNLOAD_FAILURES, name) ? DOWNLOAD_FAILURES[name] : undefined;
      if (reason) return await fail(reason);
      throw err;
    }
    const mimeType = answer.mimeType ?? job.mimeType;
    const preferred = mimeType ? storedObjectKey(prefix, job.mediaId, mimeType) : undefined;
    const object = await storage.findUnderPrefix(prefix, preferred);
    if (!object) throw new Error('GetWhatsAppMessageMedia succeeded but no object exists under the prefix');

    const { sha256, size } = await storage.digest(object.key);
    if (job.sha256 !== undefined && !sha256Matches(job.sha256, sha256)) return await fail('sha256_mismatch', object.key);

    const stored = await records.markStored(job.messageId, token, {
      s3Key: object.key,
      size,
      nowMs: deps.now(),
      ...(mimeType && { mimeType }),
    });
    // A lost claim means another worker took over an expired lease: it records the same file.
    return stored ? { outcome: 'stored', s3Key: object.key, size } : { outcome: 'skipped', state: 'copying' };
  } catch (err) {
    try {
      if (opts.finalAttempt) await fail('retries_exhausted');
      else await records.releaseInbound(job.messageId, token);
    } catch {
      // The lease runs out on its own; the original error is the one worth reporting.
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Inbound: download URL

/** What `GET /v1/messages/{id}/media` answers. */
export interface MediaDownload {
  url: string;
  expiresAt: string;
  mimeType?: string;
  size?: number;
}

/** 409/410 `media_failed`: the copy failed; `details.reason` says why. */
export class MediaFailedError extends ApiError {
  constructor(reason: string, retryable: boolean) {
    const known = (MEDIA_FAILURE_REASONS as Record<string, { message: string } | undefined>)[reason];
    super(
      retryable ? 409 : 410,
      'media_failed',
      known?.message ?? 'The file of this message could not be copied.',
      { reason, retryable },
    );
  }
}

/**
 * A short-lived URL of the stored file of an inbound media message. `id` is the project's id or
 * the wamid (an inbound message's id derives from its wamid, so no lookup is needed).
 * @throws NotFoundError `message_not_found` / `no_media`; ConflictError `media_pending`;
 *   MediaFailedError `media_failed`.
 */
export async function mediaDownload(
  idOrWamid: string,
  deps: { records: MediaRecords; storage: MediaStorage; now: () => number },
): Promise<MediaDownload> {
  const messageId = isMessageId(idOrWamid) ? idOrWamid : messageIdFromWamid(idOrWamid);
  const media = await deps.records.getInboundMedia(messageId);
  if (media === undefined) throw new NotFoundError(`No message has the id or wamid ${idOrWamid}.`, 'message_not_found');
  if (media === null) throw new NotFoundError('This message has no media file.', 'no_media');
  if (media.state === 'failed') throw new MediaFailedError(media.reason ?? 'unknown', media.retryable === true);
  if (media.state !== 'stored' || !media.s3Key) {
    throw new ConflictError('The file of this message is still being copied: try again in a few seconds.', 'media_pending');
  }
  const url = await deps.storage.presignGet(media.s3Key, {
    expiresInSeconds: DOWNLOAD_URL_TTL_SECONDS,
    ...(media.mimeType && { contentType: mediaContentType(media.mimeType) }),
    ...(media.filename && { filename: media.filename }),
  });
  return {
    url,
    expiresAt: new Date(deps.now() + DOWNLOAD_URL_TTL_SECONDS * 1000).toISOString(),
    ...(media.mimeType && { mimeType: media.mimeType }),
    ...(media.size !== undefined && { size: media.size }),
  };
}

/** A MIME type fit for a Content-Type header (Meta's values are; this guards odd ones). */
function mediaContentType(mime: string): string | undefined {
  return /^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=[\w.+-]+)*$/.test(mime) ? mime : undefined;
}

/** The `media` of a message as the API shows it: no bookkeeping, `copying` shown as `pending`. */
export function publicMedia(raw: Record<string, unknown>): {
  id: string;
  state: 'pending' | 'stored' | 'failed';
  mimeType?: string;
  sha256?: string;
  filename?: string;
  size?: number;
  reason?: string;
} {
  const state = raw.state === 'stored' || raw.state === 'failed' ? raw.state : 'pending';
  const str = (k: string) => (typeof raw[k] === 'string' ? { [k]: raw[k] as string } : {});
  return {
    id: String(raw.id),
    ...str('mimeType'),
    ...str('sha256'),
    ...str('filename'),
    state,
    ...(state === 'stored' && typeof raw.size === 'number' && { size: raw.size }),
    ...(state === 'failed' && str('reason')),
  };
}

// ---------------------------------------------------------------------------------------------
// Outbound: uploads

/** 422: the file (or the file announced) is not one WhatsApp accepts; `code` says why. */
export class MediaRejectedError extends ApiError {
  constructor(reason: MediaRejection, message: string, details?: Record<string, unknown>) {
    super(422, reason, message, details);
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
   * (`PhoneNumberResolver`); `undefined` or a 404 when it is not one of the backend's numbers.
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
 *    registration; being completed right now → 409 `upload_in_progress`.
 * 2. HeadObject: no object → 409 `upload_missing`.
 * 3. Read the first 4 KiB and check the real type against the declared one and the size against
 *    the kind's limit (`checkOutboundMedia`) → 422 with the reason; an object stored with another
 *    Content-Type than the upload was started with → 422 `type_mismatch`.
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
