/**
 * The media bucket: finding the file GetWhatsAppMessageMedia wrote, hashing it as a stream,
 * reading the head of an upload, and presigned URLs for downloads and uploads.
 */
import { createHash } from 'node:crypto';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { MediaStorage, StoredObject } from '../ports/media.ts';

export { mediaS3Client } from './aws-clients.ts';

function isForbidden(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'Forbidden' || e.name === 'AccessDenied' || e.$metadata?.httpStatusCode === 403;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}

/** `attachment; filename="…"` with a plain-ASCII fallback and the RFC 5987 form for the rest. */
function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

export class S3MediaStorage implements MediaStorage {
  readonly bucket: string;
  private readonly s3: S3Client;
  /** `s3` should come from `mediaS3Client` (see there why). */
  constructor(s3: S3Client, bucket: string) {
    this.s3 = s3;
    this.bucket = bucket;
  }

  async findUnderPrefix(prefix: string, preferredKey?: string): Promise<StoredObject | undefined> {
    const out = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: 100 }));
    const objects = (out.Contents ?? []).filter((o) => o.Key !== undefined && !o.Key.endsWith('/'));
    // The prefix is per message, so there is one object; a second one would be a copy that another
    // file name was given to: the expected name wins, then the newest.
    const pick =
      objects.find((o) => o.Key === preferredKey) ??
      [...objects].sort((a, b) => (b.LastModified?.getTime() ?? 0) - (a.LastModified?.getTime() ?? 0))[0];
    return pick ? { key: pick.Key!, size: Number(pick.Size ?? 0) } : undefined;
  }

  async digest(key: string): Promise<{ sha256: Buffer; size: number }> {
    const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    const hash = createHash('sha256');
    let size = 0;
    // Chunk by chunk: the SDK's Node body is a stream, so memory stays flat whatever the size.
    for await (const chunk of out.Body as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.length;
    }
    return { sha256: hash.digest(), size };
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        key,
        size: Number(out.ContentLength ?? 0),
        ...(out.ContentType !== undefined && { contentType: out.ContentType }),
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      // Without an unconditional s3:ListBucket, S3 answers a missing key with 403. The role may list
      // only its own prefix, so a listing of exactly this key tells a missing object from a refusal.
      if (isForbidden(err) && !(await this.listed(key))) return undefined;
      throw err;
    }
  }

  private async listed(key: string): Promise<boolean> {
    const out = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: key, MaxKeys: 1 }));
    return (out.Contents ?? []).some((o) => o.Key === key);
  }

  async readHead(key: string, bytes: number): Promise<Uint8Array> {
    const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=0-${bytes - 1}` }));
    const head = (await out.Body?.transformToByteArray()) ?? new Uint8Array();
    // A server that ignores Range sends the whole object; only the head is wanted.
    return head.length > bytes ? head.subarray(0, bytes) : head;
  }

  async readRange(key: string, start: number, end: number): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array();
    const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${end - 1}` }));
    const bytes = (await out.Body?.transformToByteArray()) ?? new Uint8Array();
    // A server that ignores Range sends the whole object.
    return out.ContentRange === undefined && bytes.length > end - start ? bytes.subarray(start, end) : bytes;
  }

  async presignGet(key: string, opts: { expiresInSeconds: number; contentType?: string; filename?: string }): Promise<string> {
    return getSignedUrl(
      this.s3,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ...(opts.contentType && { ResponseContentType: opts.contentType }),
        ...(opts.filename && { ResponseContentDisposition: contentDisposition(opts.filename) }),
      }),
      { expiresIn: opts.expiresInSeconds },
    );
  }

  async presignPut(
    key: string,
    opts: { expiresInSeconds: number; contentType: string; contentLength: number },
  ): Promise<{ url: string; headers: Record<string, string> }> {
    const url = await getSignedUrl(
      this.s3,
      new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentType: opts.contentType, ContentLength: opts.contentLength }),
      // Signed, not hoisted into the query: S3 then refuses a PUT with another type or size.
      { expiresIn: opts.expiresInSeconds, signableHeaders: new Set(['content-type', 'content-length']) },
    );
    return { url, headers: { 'Content-Type': opts.contentType, 'Content-Length': String(opts.contentLength) } };
  }
}
