/**
 * Inbound media use cases: copy the file of an inbound media message from WhatsApp into the media
 * bucket, check its SHA-256 against the webhook's, and serve it through a short-lived URL. (The
 * outbound uploads are in media-uploads.ts.)
 * No SDK imports: the ports in shared/ports/media.ts do the I/O.
 */
import * as z from 'zod/mini';
import '../zod-locale.ts';
import type { InboundMediaJob, MediaRecords, MediaStorage, WhatsAppMedia } from '../ports/media.ts';
import { ApiError, ConflictError, NotFoundError, WhatsAppFailure, type WhatsAppRefusal } from './errors.ts';
import { isMessageId, messageIdFromWamid } from './ids.ts';
import { inboundMediaKey, INBOUND_MEDIA_ID_TTL_MS, storedObjectKey } from './media.ts';
import type { InboundMessage } from './types.ts';

/**
 * How long a claimed inbound copy is held before another job may take it over: the media
 * Lambda's timeout (120 s) plus a margin, and well under the queue's visibility timeout, so a
 * crashed copy is free again by the time SQS delivers its job once more.
 */
export const INBOUND_LEASE_MS = 150_000;
/** Lifetime of a download URL of a stored inbound file. */
export const DOWNLOAD_URL_TTL_SECONDS = 5 * 60;

// ---------------------------------------------------------------------------------------------
// Inbound: jobs

export const InboundMediaJobSchema = z.object({
  messageId: z.string().check(z.minLength(1)),
  mediaId: z.string().check(z.minLength(1)),
  phoneNumberId: z.string().check(z.minLength(1)),
  contactId: z.string().check(z.minLength(1)),
  timestampMs: z.int().check(z.nonnegative()),
  mimeType: z.optional(z.string()),
  sha256: z.optional(z.string()),
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
 * Download refusals no retry can fix (the adapter says which, see `WhatsAppRefusal`). Every other
 * failure (throttling, WhatsApp or AWS unavailable, the backend's own IAM, network) is retried.
 */
export const DOWNLOAD_FAILURES: Readonly<Record<WhatsAppRefusal, MediaFailureReason>> = {
  not_found: 'media_not_found',
  refused_by_meta: 'media_refused',
  invalid_request: 'invalid_media_request',
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
      if (err instanceof WhatsAppFailure && err.refusal !== undefined) return await fail(DOWNLOAD_FAILURES[err.refusal]);
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

/** What the media job queue needs of a job's run: how often it came, and how to delay the next. */
export interface InboundJobDeps extends InboundCopyDeps {
  /** Delays the next delivery of a failed job; without it the queue's visibility timeout applies. */
  retry?: { retryAfter(receiptHandle: string, seconds: number): Promise<void> };
  /** @default retryDelaySeconds (30 s doubling, at most 10 min) */
  retryDelaySeconds?: (receiveCount: number) => number;
  /** Receives before the queue moves a job to its DLQ. */
  maxReceiveCount: number;
  /** Counts each run by its outcome (`retry` for a transient failure), for the metrics. */
  count?: (outcome: CopyOutcome['outcome'] | 'retry') => void;
  /** Where to report what happened to a job (ids and counts only). */
  log?: {
    info(message: string, attributes: Record<string, unknown>): void;
    warn(message: string, attributes: Record<string, unknown>): void;
    error(message: string, attributes: Record<string, unknown>): void;
  };
}

/**
 * Runs one queued inbound media job, from its raw body:
 * - a body that is not a job is a bug (jobs are made by the inbound handler), not user input: it is
 *   failed, so that the queue moves it to its DLQ after its receives, where it can be redriven;
 * - the copy (`copyInboundMedia`), its last attempt being the queue's last receive;
 * - a transient failure is rethrown after asking for a later delivery, a delay that grows with
 *   each receive (`retryDelaySeconds`).
 */
export async function runInboundMediaJob(
  message: { body: string; messageId: string; receiptHandle: string; receiveCount: number },
  deps: InboundJobDeps,
): Promise<CopyOutcome> {
  let body: unknown;
  try {
    body = JSON.parse(message.body);
  } catch {
    body = undefined;
  }
  const parsed = InboundMediaJobSchema.safeParse(body);
  if (!parsed.success) {
    deps.log?.error('media job is not valid; left for the DLQ', { sqsMessageId: message.messageId });
    throw new Error('invalid media job');
  }
  const job = parsed.data;
  const { receiveCount } = message;
  const keys = { messageId: job.messageId, phoneNumberId: job.phoneNumberId, receiveCount };
  try {
    const result = await copyInboundMedia(job, deps, { finalAttempt: receiveCount >= deps.maxReceiveCount });
    deps.log?.info('media job done', { ...keys, ...result });
    deps.count?.(result.outcome);
    return result;
  } catch (err) {
    deps.log?.warn('media copy failed; the job will be retried', { ...keys, error: (err as Error).name });
    deps.count?.('retry');
    if (deps.retry) {
      await deps.retry.retryAfter(message.receiptHandle, (deps.retryDelaySeconds ?? retryDelaySeconds)(receiveCount)).catch((e: unknown) => {
        deps.log?.warn('could not delay the retry', { ...keys, error: (e as Error).name });
      });
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

/** `media_failed`: the copy failed (`conflict` while a retry may still store it, else `gone`); `details.reason` says why. */
export class MediaFailedError extends ApiError {
  constructor(reason: string, retryable: boolean) {
    const known = (MEDIA_FAILURE_REASONS as Record<string, { message: string } | undefined>)[reason];
    super(
      retryable ? 'conflict' : 'gone',
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
