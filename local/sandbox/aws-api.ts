/**
 * The socialmessaging REST routes the project calls, as the SDK's `SocialMessagingClient` sends
 * them (restJson1). Request signatures are not checked. Errors are `AwsApiError`s, written by the
 * server in AWS's shape so that the SDK raises the matching exception class.
 *
 * Choices where AWS documents nothing (all deliberate, all local to this file):
 * - An inbound media id older than 7 days, an unknown one and a deleted one all answer
 *   ResourceNotFoundException: to Meta the media no longer exists.
 * - Media of a number in another WABA answers AccessDeniedByMetaException (Meta denies access).
 * - An upload WhatsApp refuses (Meta error 131053: unsupported or mismatched type, oversize,
 *   empty) answers InvalidParametersException with "(#131053)" in the message; so does an S3
 *   object or bucket that cannot be read or written.
 * - `fileSize` is in bytes (Meta's `file_size`); AWS's doc says KB, which is unverified.
 * - Presigned URLs must match AWS's pattern (`https://…s3….amazonaws.com/…`) or point at
 *   loopback, so that local S3 emulators work.
 * - The file written by GetWhatsAppMessageMedia is `<key><mediaId>.<ext>` (AWS's prefix rule),
 *   with `extensionFor` of its MIME type from `shared/domain/media.ts` (jpeg, mp4, ogg, pdf, webp,
 *   png, …): AWS documents only `.ogg`, so the sandbox writes what the media worker looks for first.
 * - An upload is registered under its type as WhatsApp's table writes it, without parameters
 *   (`video/3gp` → `video/3gpp`, `audio/ogg; codecs=opus` → `audio/ogg`).
 */
import { createHash, randomUUID } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { SandboxPhoneNumber } from './config.ts';
import { phoneNumberArn, wabaArn } from './config.ts';
import { AwsApiError, missingMember, validationError } from './aws-errors.ts';
import { canonicalMime } from '../../shared/domain/media.ts';
import { baseMimeType, storedExtension, uploadProblem } from './media-rules.ts';
import { acceptOutbound, dependsOnUnseenInbound, isMarkAsRead } from './outbound.ts';
import type { SandboxCore, StoredMedia } from './types.ts';
import { newMediaId } from './webhooks.ts';
import { TEMPLATE_AWS_ROUTES } from './templates.ts';

/** Uploaded media ids live 30 days (Meta). */
export const UPLOADED_MEDIA_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** SendWhatsAppMessage `message` limit, bytes. */
const MESSAGE_MAX_BYTES = 2_048_000;
/** When the sandbox WABAs were "linked" (GetLinkedWhatsAppBusinessAccount `linkDate`). */
const LINK_DATE_SECONDS = 1_735_689_600; // 2025-01-01T00:00:00Z

const PHONE_ID_PATTERN = /(^phone-number-id-.*$)|(^arn:.*:phone-number-id\/[0-9a-zA-Z]+$)/;
const WABA_ID_PATTERN = /(^waba-.*$)|(^arn:.*:waba\/[0-9a-zA-Z]+$)/;
const BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/;
const PRESIGNED_PATTERN = /^https:\/\/(.*)s3(.*)\.amazonaws\.com\/(.*)$/;
const LOOPBACK_URL = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//;

export interface AwsRequest {
  query: URLSearchParams;
  body: Record<string, unknown>;
}

type Handler = (core: SandboxCore, req: AwsRequest) => Promise<unknown>;

/** `METHOD path` → handler. */
export const AWS_ROUTES: Readonly<Record<string, Handler>> = {
  'POST /v1/whatsapp/send': sendMessage,
  'POST /v1/whatsapp/media': postMedia,
  'POST /v1/whatsapp/media/get': getMedia,
  'DELETE /v1/whatsapp/media': deleteMedia,
  'GET /v1/whatsapp/waba/phone/details': getPhoneNumber,
  'GET /v1/whatsapp/waba/details': getWaba,
  'GET /v1/whatsapp/waba/list': listWabas,
  ...TEMPLATE_AWS_ROUTES,
};

// ---------------------------------------------------------------------------------------------
// SendWhatsAppMessage

async function sendMessage(core: SandboxCore, { body }: AwsRequest): Promise<unknown> {
  const originationPhoneNumberId = requireString(body, 'originationPhoneNumberId');
  const messageB64 = requireString(body, 'message');
  const metaApiVersion = requireString(body, 'metaApiVersion');
  checkPhoneIdPattern(originationPhoneNumberId, 'originationPhoneNumberId');
  if (!/^v\d+\.\d+$/.test(metaApiVersion)) {
    throw validationError('metaApiVersion', 'Member must be a Meta API version such as v20.0');
  }
  const number = resolveNumber(core, originationPhoneNumberId);

  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(messageB64)) {
    throw new AwsApiError('SerializationException', 'Unable to deserialize the message blob: it is not base64');
  }
  const bytes = Buffer.from(messageB64, 'base64');
  if (bytes.length < 1 || bytes.length > MESSAGE_MAX_BYTES) {
    throw validationError('message', `Member must have length between 1 and ${MESSAGE_MAX_BYTES}`);
  }
  let message: unknown;
  try {
    message = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new AwsApiError('ValidationException', 'The message is not valid JSON.');
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw new AwsApiError('ValidationException', 'The message must be a JSON object.');
  }
  const meta = message as Record<string, unknown>;
  if (meta.messaging_product !== 'whatsapp') {
    throw new AwsApiError('ValidationException', 'The message must contain "messaging_product": "whatsapp".');
  }
  if (!isMarkAsRead(meta) && typeof meta.to !== 'string' && typeof meta.recipient !== 'string') {
    throw new AwsApiError('ValidationException', 'Invalid destination phone number or message Id.');
  }
  // Meta knows every user whose message it delivered: read what the topic carried before deciding.
  if (dependsOnUnseenInbound(core.state, number, meta)) await core.catchUp();
  if (core.rng.chance(core.state.chaos.failRate)) {
    throw new AwsApiError('DependencyException', 'The request failed because a dependency (WhatsApp) is unavailable.');
  }
  const messageId = randomUUID();
  acceptOutbound(core, number, messageId, meta);
  return { messageId };
}

// ---------------------------------------------------------------------------------------------
// Media

async function postMedia(core: SandboxCore, { body }: AwsRequest): Promise<unknown> {
  const originationPhoneNumberId = requireString(body, 'originationPhoneNumberId');
  const file = body.sourceS3File;
  const presigned = body.sourceS3PresignedUrl;
  if ((file === undefined) === (presigned === undefined)) {
    throw new AwsApiError('InvalidParametersException', 'Exactly one of sourceS3File or sourceS3PresignedUrl must be provided.');
  }
  checkPhoneIdPattern(originationPhoneNumberId, 'originationPhoneNumberId');
  const number = resolveNumber(core, originationPhoneNumberId);

  let contentType: string | undefined;
  let bytes: Buffer;
  if (file !== undefined) {
    const { bucketName, key } = s3FileOf(file, 'sourceS3File');
    let object;
    try {
      object = await core.opts.s3.send(new GetObjectCommand({ Bucket: bucketName, Key: key }));
    } catch (err) {
      throw s3Failure(err, `read s3://${bucketName}/${key}`);
    }
    contentType = object.ContentType;
    // Refuse a wrong type or an oversize object before reading it.
    const early = uploadProblem(contentType, object.ContentLength ?? 0);
    if (early) {
      (object.Body as { destroy?: () => void } | undefined)?.destroy?.();
      throw mediaRefused(early);
    }
    bytes = Buffer.from((await object.Body?.transformToByteArray()) ?? new Uint8Array());
  } else {
    const { url, headers } = presignedOf(presigned, 'sourceS3PresignedUrl');
    contentType = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
    if (!contentType) throw new AwsApiError('InvalidParametersException', 'sourceS3PresignedUrl.headers must include Content-Type.');
    const res = await fetch(url, { headers }).catch((err: unknown) => {
      throw new AwsApiError('InvalidParametersException', `Unable to read the presigned URL: ${(err as Error).message}`);
    });
    if (!res.ok) throw new AwsApiError('InvalidParametersException', `Unable to read the presigned URL: HTTP ${res.status}`);
    bytes = Buffer.from(await res.arrayBuffer());
  }
  const problem = uploadProblem(contentType, bytes.length, bytes);
  if (problem) throw mediaRefused(problem);

  const now = core.state.now();
  const mediaId = newMediaId();
  // uploadProblem accepted the type, so it has a canonical form.
  const mimeType = baseMimeType(canonicalMime(contentType!)!);
  core.state.media.set(mediaId, {
    mediaId,
    bytes,
    mimeType,
    sha256: createHash('sha256').update(bytes).digest('base64'),
    extension: storedExtension(mimeType),
    source: 'upload',
    phoneNumberId: number.phoneNumberId,
    wabaId: number.wabaId,
    createdAtMs: now,
    expiresAtMs: now + UPLOADED_MEDIA_TTL_MS,
  });
  return { mediaId };
}

async function getMedia(core: SandboxCore, { body }: AwsRequest): Promise<unknown> {
  const mediaId = requireString(body, 'mediaId');
  const originationPhoneNumberId = requireString(body, 'originationPhoneNumberId');
  checkMediaIdPattern(mediaId);
  checkPhoneIdPattern(originationPhoneNumberId, 'originationPhoneNumberId');
  const file = body.destinationS3File;
  const presigned = body.destinationS3PresignedUrl;
  const metadataOnly = body.metadataOnly === true;
  if (file !== undefined && presigned !== undefined) {
    throw new AwsApiError('InvalidParametersException', 'Provide at most one of destinationS3File or destinationS3PresignedUrl.');
  }
  if (!metadataOnly && file === undefined && presigned === undefined) {
    throw new AwsApiError('InvalidParametersException', 'Provide destinationS3File or destinationS3PresignedUrl, or set metadataOnly.');
  }
  const number = resolveNumber(core, originationPhoneNumberId);
  const media = findMedia(core, mediaId, number);
  const answer = { mimeType: media.mimeType, fileSize: media.bytes.length };
  if (metadataOnly) return answer;

  const contentType = baseMimeType(media.mimeType);
  if (file !== undefined) {
    const { bucketName, key } = s3FileOf(file, 'destinationS3File');
    const objectKey = `${key}${media.mediaId}.${media.extension}`;
    try {
      await core.opts.s3.send(new PutObjectCommand({ Bucket: bucketName, Key: objectKey, Body: media.bytes, ContentType: contentType }));
    } catch (err) {
      throw s3Failure(err, `write s3://${bucketName}/${objectKey}`);
    }
  } else {
    const { url, headers } = presignedOf(presigned, 'destinationS3PresignedUrl');
    const res = await fetch(url, { method: 'PUT', headers, body: media.bytes }).catch((err: unknown) => {
      throw new AwsApiError('InvalidParametersException', `Unable to write to the presigned URL: ${(err as Error).message}`);
    });
    if (!res.ok) throw new AwsApiError('InvalidParametersException', `Unable to write to the presigned URL: HTTP ${res.status}`);
  }
  return answer;
}

async function deleteMedia(core: SandboxCore, { query }: AwsRequest): Promise<unknown> {
  const mediaId = query.get('mediaId');
  const originationPhoneNumberId = query.get('originationPhoneNumberId');
  if (!mediaId) throw missingMember('mediaId');
  if (!originationPhoneNumberId) throw missingMember('originationPhoneNumberId');
  checkMediaIdPattern(mediaId);
  checkPhoneIdPattern(originationPhoneNumberId, 'originationPhoneNumberId');
  const number = resolveNumber(core, originationPhoneNumberId);
  findMedia(core, mediaId, number);
  core.state.media.delete(mediaId);
  return { success: true };
}

function findMedia(core: SandboxCore, mediaId: string, number: SandboxPhoneNumber): StoredMedia {
  const media = core.state.media.get(mediaId);
  if (!media) throw new AwsApiError('ResourceNotFoundException', `Media ${mediaId} was not found.`);
  if (core.state.now() >= media.expiresAtMs) {
    throw new AwsApiError('ResourceNotFoundException', `Media ${mediaId} has expired and is no longer available.`);
  }
  if (media.wabaId !== number.wabaId) {
    throw new AwsApiError('AccessDeniedByMetaException', `Meta denied access to media ${mediaId} for this phone number.`);
  }
  return media;
}

function mediaRefused(problem: string): AwsApiError {
  return new AwsApiError('InvalidParametersException', `Meta refused the media: (#131053) Media upload error: ${problem}.`);
}

function s3Failure(err: unknown, what: string): AwsApiError {
  const name = (err as { name?: string }).name ?? 'Error';
  const known = ['NoSuchKey', 'NoSuchBucket', 'NotFound', 'AccessDenied', 'Forbidden'];
  if (known.includes(name)) return new AwsApiError('InvalidParametersException', `Unable to ${what}: ${name}.`);
  return new AwsApiError('InternalServiceException', `Unable to ${what}.`);
}

// ---------------------------------------------------------------------------------------------
// Linked accounts and phone numbers

async function getPhoneNumber(core: SandboxCore, { query }: AwsRequest): Promise<unknown> {
  const id = query.get('id');
  if (!id) throw missingMember('id');
  checkPhoneIdPattern(id, 'id');
  const number = resolveNumber(core, id);
  return { phoneNumber: phoneNumberDetail(core, number), linkedWhatsAppBusinessAccountId: number.wabaId };
}

async function getWaba(core: SandboxCore, { query }: AwsRequest): Promise<unknown> {
  const id = query.get('id');
  if (!id) throw missingMember('id');
  if (id.length > 115 || !WABA_ID_PATTERN.test(id)) {
    throw validationError('id', 'Member must satisfy regular expression pattern: (^waba-.*$)|(^arn:.*:waba/[0-9a-zA-Z]+$)');
  }
  const waba = wabas(core).find((w) => w.id === id || w.arn === id);
  if (!waba) throw new AwsApiError('ResourceNotFoundException', `WhatsApp Business Account ${id} was not found.`);
  return { account: { ...waba.summary, phoneNumbers: waba.numbers.map((n) => phoneNumberDetail(core, n)) } };
}

async function listWabas(core: SandboxCore, { query }: AwsRequest): Promise<unknown> {
  const maxRaw = query.get('maxResults');
  const max = maxRaw === null ? 100 : Number(maxRaw);
  if (!Number.isInteger(max) || max < 1 || max > 100) {
    throw validationError('maxResults', 'Member must have value between 1 and 100');
  }
  const token = query.get('nextToken');
  let start = 0;
  if (token !== null) {
    start = Number(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Number.isInteger(start) || start < 0) throw new AwsApiError('ValidationException', 'The nextToken is not valid.');
  }
  const all = wabas(core);
  const page = all.slice(start, start + max);
  const next = start + max < all.length ? Buffer.from(String(start + max)).toString('base64url') : undefined;
  return { linkedAccounts: page.map((w) => w.summary), ...(next ? { nextToken: next } : {}) };
}

function phoneNumberDetail(core: SandboxCore, n: SandboxPhoneNumber): Record<string, unknown> {
  return {
    arn: phoneNumberArn(n.phoneNumberId, core.opts.region, core.opts.accountId),
    phoneNumber: `+${n.displayPhoneNumber}`,
    phoneNumberId: n.phoneNumberId,
    metaPhoneNumberId: n.metaPhoneNumberId,
    displayPhoneNumberName: n.displayPhoneNumberName,
    displayPhoneNumber: `+${n.displayPhoneNumber}`,
    qualityRating: n.qualityRating,
  };
}

/** The WABAs of the config, in order of first appearance, with their numbers. */
function wabas(core: SandboxCore) {
  const byId = new Map<string, { id: string; arn: string; numbers: SandboxPhoneNumber[]; summary: Record<string, unknown> }>();
  for (const n of core.state.config.phoneNumbers) {
    let w = byId.get(n.wabaId);
    if (!w) {
      const arn = wabaArn(n.wabaId, core.opts.region, core.opts.accountId);
      w = {
        id: n.wabaId,
        arn,
        numbers: [],
        summary: {
          arn,
          id: n.wabaId,
          wabaId: n.metaWabaId,
          registrationStatus: 'COMPLETE',
          linkDate: LINK_DATE_SECONDS,
          wabaName: n.wabaName,
          eventDestinations: [{ eventDestinationArn: core.opts.topicArn }],
        },
      };
      byId.set(n.wabaId, w);
    }
    w.numbers.push(n);
  }
  return [...byId.values()];
}

// ---------------------------------------------------------------------------------------------
// Validation helpers

function requireString(body: Record<string, unknown>, member: string): string {
  const v = body[member];
  if (v === undefined || v === null) throw missingMember(member);
  if (typeof v !== 'string') throw new AwsApiError('SerializationException', `Expected a string for ${member}.`);
  return v;
}

function checkPhoneIdPattern(id: string, member: string): void {
  if (id.length > 115 || !PHONE_ID_PATTERN.test(id)) {
    throw validationError(
      member,
      'Member must satisfy regular expression pattern: (^phone-number-id-.*$)|(^arn:.*:phone-number-id/[0-9a-zA-Z]+$)',
    );
  }
}

function checkMediaIdPattern(mediaId: string): void {
  if (mediaId.length > 100 || !/^[A-Za-z0-9]+$/.test(mediaId)) {
    throw validationError('mediaId', 'Member must satisfy regular expression pattern: ^[A-Za-z0-9]+$');
  }
}

/** The business number of an AWS phone number id or its ARN (this region and account only). */
function resolveNumber(core: SandboxCore, idOrArn: string): SandboxPhoneNumber {
  const { region, accountId } = core.opts;
  const number = core.state.config.phoneNumbers.find(
    (n) => n.phoneNumberId === idOrArn || phoneNumberArn(n.phoneNumberId, region, accountId) === idOrArn,
  );
  if (!number) throw new AwsApiError('ResourceNotFoundException', `Phone number ${idOrArn} was not found.`);
  return number;
}

function s3FileOf(value: unknown, member: string): { bucketName: string; key: string } {
  const v = (value ?? {}) as Record<string, unknown>;
  if (typeof v.bucketName !== 'string') throw missingMember(`${member}.bucketName`);
  if (typeof v.key !== 'string') throw missingMember(`${member}.key`);
  if (v.bucketName.length < 3 || v.bucketName.length > 63 || !BUCKET_PATTERN.test(v.bucketName)) {
    throw validationError(`${member}.bucketName`, 'Member must satisfy regular expression pattern: ^[a-z0-9][a-z0-9.-]*[a-z0-9]$');
  }
  if (v.key.length > 1024) throw validationError(`${member}.key`, 'Member must have length less than or equal to 1024');
  return { bucketName: v.bucketName, key: v.key };
}

function presignedOf(value: unknown, member: string): { url: string; headers: Record<string, string> } {
  const v = (value ?? {}) as Record<string, unknown>;
  if (typeof v.url !== 'string') throw missingMember(`${member}.url`);
  if (typeof v.headers !== 'object' || v.headers === null) throw missingMember(`${member}.headers`);
  if (v.url.length > 2000 || !(PRESIGNED_PATTERN.test(v.url) || LOOPBACK_URL.test(v.url))) {
    throw validationError(`${member}.url`, 'Member must satisfy regular expression pattern: ^https://(.*)s3(.*).amazonaws.com/(.*)$');
  }
  const headers: Record<string, string> = {};
  for (const [k, h] of Object.entries(v.headers as Record<string, unknown>)) if (typeof h === 'string') headers[k] = h;
  return { url: v.url, headers };
}
