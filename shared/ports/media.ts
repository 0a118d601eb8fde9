/**
 * What the media use cases (shared/domain/media-jobs.ts) need from the outside world: the job
 * queue, the records of media state, the media bucket and WhatsApp's media operations. The
 * adapters live in shared/adapters/ (SQS, DynamoDB, S3, socialmessaging).
 */

/** Copy the file of one inbound media message from WhatsApp into the media bucket. */
export interface InboundMediaJob {
  /** Project id of the message (`msg_<hex>`). */
  messageId: string;
  /** WhatsApp media id from the webhook. */
  mediaId: string;
  /** AWS phone number id of the business number that received the message. */
  phoneNumberId: string;
  /** The user's wa_id or BSUID (never written into object keys or logs). */
  contactId: string;
  /** Meta's message timestamp, epoch ms: the media id expires 7 days after it. */
  timestampMs: number;
  /** MIME type from the webhook. */
  mimeType?: string;
  /** SHA-256 of the file from the webhook (base64 as Meta writes it). */
  sha256?: string;
}

/** Where inbound media jobs are sent (the media queue). */
export interface MediaJobQueue {
  /** Sends one job. Jobs are idempotent, so sending the same job twice is harmless. */
  enqueue(job: InboundMediaJob): Promise<void>;
}

/** States of an inbound media file as stored (the API shows `copying` as `pending`). */
export type StoredMediaState = 'pending' | 'copying' | 'stored' | 'failed';

/** The `media` attribute of an inbound message item, as the media code reads it. */
export interface InboundMediaRecord {
  id: string;
  state: StoredMediaState;
  mimeType?: string;
  sha256?: string;
  filename?: string;
  s3Key?: string;
  size?: number;
  /** Why the copy failed (a stable snake_case code, see `MEDIA_FAILURE_REASONS`). */
  reason?: string;
  /** Whether a failed copy may be tried again (a DLQ redrive heals it). */
  retryable?: boolean;
}

export type InboundClaim =
  | { claimed: true; token: string }
  | {
      claimed: false;
      /** What stopped the claim: the current state, or why there is nothing to claim. */
      state: Exclude<StoredMediaState, 'pending'> | 'missing' | 'other_media';
    };

export type UploadState = 'pending' | 'completing' | 'completed';

/** An outbound upload: started by `POST /v1/media`, finished by `POST /v1/media/{id}/complete`. */
export interface UploadRecord {
  uploadId: string;
  phoneNumberId: string;
  /** The Content-Type the caller declared when starting. */
  declaredContentType: string;
  /** The Content-Type the PUT must carry (the type as WhatsApp lists it, without parameters). */
  contentType: string;
  /** The size the caller declared, bytes. */
  size: number;
  filename?: string;
  s3Key: string;
  state: UploadState;
  createdAtMs: number;
  /** When the upload URL stops working. */
  uploadExpiresAtMs: number;
  /** Set once completed. */
  result?: CompletedUpload;
}

/** What a completed upload answers, every time it is completed. */
export interface CompletedUpload {
  mediaId: string;
  contentType: string;
  size: number;
  /** Epoch ms when WhatsApp forgets the media id (30 days after the upload). */
  expiresAtMs: number;
}

export type UploadClaim =
  | { claimed: true; token: string; upload: UploadRecord }
  | { claimed: false; state: 'missing' }
  | { claimed: false; state: 'completing'; upload: UploadRecord }
  | { claimed: false; state: 'completed'; upload: UploadRecord & { result: CompletedUpload } };

/**
 * Media state in the message table. Every transition is a conditional write, so concurrent or
 * repeated jobs and requests never do the same work twice.
 */
export interface MediaRecords {
  /**
   * Takes an inbound media file for copying: `pending` (or `copying` with an expired lease, or
   * `failed` but retryable) → `copying` with a lease until `nowMs + leaseMs`.
   */
  claimInbound(messageId: string, mediaId: string, opts: { nowMs: number; leaseMs: number }): Promise<InboundClaim>;
  /** Gives a claim back (`copying` → `pending`) so that a retry can take it at once. */
  releaseInbound(messageId: string, token: string): Promise<void>;
  /** `copying` → `stored`, only while `token` holds the claim; false when it no longer does. */
  markStored(
    messageId: string,
    token: string,
    stored: { s3Key: string; size: number; mimeType?: string; nowMs: number },
  ): Promise<boolean>;
  /** `copying` → `failed`, only while `token` holds the claim. */
  markFailed(
    messageId: string,
    token: string,
    failure: { reason: string; retryable: boolean; nowMs: number; s3Key?: string },
  ): Promise<boolean>;
  /** The media of a message; `undefined` when the message does not exist, `null` when it has no media. */
  getInboundMedia(messageId: string): Promise<InboundMediaRecord | null | undefined>;

  createUpload(upload: UploadRecord): Promise<void>;
  /**
   * Takes an upload for completion: `pending` (or `completing` with an expired lease) →
   * `completing`. Tells what it found otherwise, with the stored result when completed.
   */
  claimUpload(uploadId: string, opts: { nowMs: number; leaseMs: number }): Promise<UploadClaim>;
  /** `completing` → `pending` (the file was refused, or WhatsApp failed): it may be completed again. */
  releaseUpload(uploadId: string, token: string): Promise<void>;
  /** `completing` → `completed` with its result, only while `token` holds the claim. */
  completeUpload(uploadId: string, token: string, result: CompletedUpload): Promise<void>;
}

export interface StoredObject {
  key: string;
  size: number;
  contentType?: string;
}

/** The media bucket. */
export interface MediaStorage {
  readonly bucket: string;
  /** The object under a per-message prefix (GetWhatsAppMessageMedia chooses the file name). */
  findUnderPrefix(prefix: string, preferredKey?: string): Promise<StoredObject | undefined>;
  /** SHA-256 and size of an object, read as a stream: memory does not grow with the file. */
  digest(key: string): Promise<{ sha256: Buffer; size: number }>;
  /** Size and type of an object; `undefined` when there is none. */
  head(key: string): Promise<StoredObject | undefined>;
  /** The first `bytes` bytes of an object (fewer for a smaller object). */
  readHead(key: string, bytes: number): Promise<Uint8Array>;
  /** A URL that downloads the object until it expires. */
  presignGet(key: string, opts: { expiresInSeconds: number; contentType?: string; filename?: string }): Promise<string>;
  /** A URL that uploads the object with exactly this Content-Type and Content-Length. */
  presignPut(
    key: string,
    opts: { expiresInSeconds: number; contentType: string; contentLength: number },
  ): Promise<{ url: string; headers: Record<string, string> }>;
}

/** WhatsApp's media operations (AWS End User Messaging Social). */
export interface WhatsAppMedia {
  /** GetWhatsAppMessageMedia into the bucket; AWS appends `<mediaId>.<ext>` to `keyPrefix`. */
  downloadToBucket(input: {
    mediaId: string;
    phoneNumberId: string;
    bucket: string;
    keyPrefix: string;
  }): Promise<{ mimeType?: string; fileSize?: number }>;
  /** PostWhatsAppMessageMedia from an object of the bucket. */
  uploadFromBucket(input: { phoneNumberId: string; bucket: string; key: string }): Promise<{ mediaId: string }>;
}
