/**
 * Media state in the single table: the `media` map of inbound message items (`MSG#<id>`) and the
 * outbound upload items (`UPLOAD#<uploadId>` / `UPLOAD`, with a TTL). Every transition is one
 * conditional UpdateItem: whoever holds the lease token may move the state on; a duplicate job or
 * request finds the state already taken and does nothing.
 */
import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { PENDING_UPLOAD_RETENTION_MS } from '../domain/media-uploads.ts';
import type {
  CompletedUpload,
  InboundClaim,
  InboundMediaRecord,
  MediaRecords,
  StoredMediaState,
  UploadClaim,
  UploadRecord,
  UploadState,
} from '../ports/media.ts';
import { keys } from './dynamodb-keys.ts';
import { DynamoDbTable } from './dynamodb-table.ts';

type Item = Record<string, any>;

export const uploadKey = keys.upload;

const iso = (ms: number) => new Date(ms).toISOString();
const epochSeconds = (ms: number) => Math.floor(ms / 1000);

/** The item DynamoDB returned with a failed condition (ReturnValuesOnConditionCheckFailure). */
function oldItem(err: ConditionalCheckFailedException): Item | undefined {
  return err.Item ? unmarshall(err.Item) : undefined;
}

/** Runs a conditional write; false when its condition failed. */
async function conditional(op: () => Promise<unknown>): Promise<boolean> {
  try {
    await op();
    return true;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw err;
  }
}

function toUpload(item: Item): UploadRecord {
  const upload: UploadRecord = {
    uploadId: item.uploadId,
    phoneNumberId: item.phoneNumberId,
    declaredContentType: item.declaredContentType,
    contentType: item.contentType,
    size: Number(item.size),
    s3Key: item.s3Key,
    state: item.state as UploadState,
    createdAtMs: Number(item.createdAtMs),
    uploadExpiresAtMs: Number(item.uploadExpiresAtMs),
    ...(typeof item.filename === 'string' && { filename: item.filename }),
  };
  if (item.state === 'completed' && typeof item.mediaId === 'string') {
    upload.result = {
      mediaId: item.mediaId,
      contentType: item.resultContentType,
      size: Number(item.resultSize),
      expiresAtMs: Number(item.mediaExpiresAtMs),
    };
  }
  return upload;
}

export class DynamoDbMediaRecords extends DynamoDbTable implements MediaRecords {
  async claimInbound(messageId: string, mediaId: string, opts: { nowMs: number; leaseMs: number }): Promise<InboundClaim> {
    const token = randomUUID();
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.message(messageId),
          UpdateExpression:
            'SET media.#state = :copying, media.leaseUntil = :until, media.leaseToken = :token, media.attempts = if_not_exists(media.attempts, :zero) + :one',
          ConditionExpression:
            'media.id = :mediaId AND (media.#state = :pending OR (media.#state = :copying AND media.leaseUntil < :now) OR (media.#state = :failed AND media.retryable = :true))',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':copying': 'copying',
            ':pending': 'pending',
            ':failed': 'failed',
            ':true': true,
            ':until': opts.nowMs + opts.leaseMs,
            ':now': opts.nowMs,
            ':token': token,
            ':mediaId': mediaId,
            ':zero': 0,
            ':one': 1,
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { claimed: true, token };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const media = oldItem(err)?.media as Item | undefined;
      if (!media) return { claimed: false, state: 'missing' };
      if (media.id !== mediaId) return { claimed: false, state: 'other_media' };
      const state = media.state as StoredMediaState;
      // `pending` cannot fail the condition; anything unexpected is reported as being copied.
      return { claimed: false, state: state === 'stored' || state === 'failed' ? state : 'copying' };
    }
  }

  async releaseInbound(messageId: string, token: string): Promise<void> {
    await this.updateLeasedMedia(messageId, token, {
      expression: 'SET media.#state = :pending REMOVE media.leaseUntil, media.leaseToken',
      names: { '#state': 'state' },
      values: { ':pending': 'pending' },
    });
  }

  async markStored(
    messageId: string,
    token: string,
    stored: { s3Key: string; size: number; mimeType?: string; nowMs: number },
  ): Promise<boolean> {
    const mime = stored.mimeType !== undefined;
    return this.updateLeasedMedia(messageId, token, {
      expression: [
        'SET media.#state = :stored, media.s3Key = :key, media.#size = :size, media.storedAt = :at',
        ...(mime ? [', media.mimeType = :mime'] : []),
        ' REMOVE media.leaseUntil, media.leaseToken, media.reason, media.retryable',
      ].join(''),
      names: { '#state': 'state', '#size': 'size' },
      values: {
        ':stored': 'stored',
        ':key': stored.s3Key,
        ':size': stored.size,
        ':at': iso(stored.nowMs),
        ...(mime && { ':mime': stored.mimeType }),
      },
    });
  }

  async markFailed(
    messageId: string,
    token: string,
    failure: { reason: string; retryable: boolean; nowMs: number; s3Key?: string },
  ): Promise<boolean> {
    const key = failure.s3Key !== undefined;
    return this.updateLeasedMedia(messageId, token, {
      expression: [
        'SET media.#state = :failed, media.reason = :reason, media.retryable = :retryable, media.failedAt = :at',
        ...(key ? [', media.s3Key = :key'] : []),
        ' REMOVE media.leaseUntil, media.leaseToken',
      ].join(''),
      names: { '#state': 'state' },
      values: {
        ':failed': 'failed',
        ':reason': failure.reason,
        ':retryable': failure.retryable,
        ':at': iso(failure.nowMs),
        ...(key && { ':key': failure.s3Key }),
      },
    });
  }

  /**
   * Updates a message's media map only while `token` holds its lease (`:token` is bound here);
   * false when `token` no longer holds it.
   */
  private updateLeasedMedia(
    messageId: string,
    token: string,
    update: { expression: string; names: Record<string, string>; values: Record<string, unknown> },
  ): Promise<boolean> {
    return conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.message(messageId),
          UpdateExpression: update.expression,
          ConditionExpression: 'media.leaseToken = :token',
          ExpressionAttributeNames: update.names,
          ExpressionAttributeValues: { ...update.values, ':token': token },
        }),
      ),
    );
  }

  async getInboundMedia(messageId: string): Promise<InboundMediaRecord | null | undefined> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.message(messageId),
        ProjectionExpression: 'PK, media',
      }),
    );
    if (!out.Item) return undefined;
    const media = out.Item.media as Item | undefined;
    if (!media || typeof media.id !== 'string') return null;
    return {
      id: media.id,
      state: media.state as StoredMediaState,
      ...(typeof media.mimeType === 'string' && { mimeType: media.mimeType }),
      ...(typeof media.sha256 === 'string' && { sha256: media.sha256 }),
      ...(typeof media.filename === 'string' && { filename: media.filename }),
      ...(typeof media.s3Key === 'string' && { s3Key: media.s3Key }),
      ...(media.size !== undefined && { size: Number(media.size) }),
      ...(typeof media.reason === 'string' && { reason: media.reason }),
      ...(typeof media.retryable === 'boolean' && { retryable: media.retryable }),
    };
  }

  async createUpload(upload: UploadRecord): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...uploadKey(upload.uploadId),
          entity: 'upload',
          uploadId: upload.uploadId,
          phoneNumberId: upload.phoneNumberId,
          declaredContentType: upload.declaredContentType,
          contentType: upload.contentType,
          size: upload.size,
          filename: upload.filename,
          s3Key: upload.s3Key,
          state: upload.state,
          createdAtMs: upload.createdAtMs,
          uploadExpiresAtMs: upload.uploadExpiresAtMs,
          createdAt: iso(upload.createdAtMs),
          ttl: epochSeconds(upload.createdAtMs + PENDING_UPLOAD_RETENTION_MS),
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
  }

  async claimUpload(uploadId: string, opts: { nowMs: number; leaseMs: number }): Promise<UploadClaim> {
    const token = randomUUID();
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: uploadKey(uploadId),
          UpdateExpression: 'SET #state = :completing, leaseUntil = :until, leaseToken = :token',
          ConditionExpression:
            'attribute_exists(PK) AND (#state = :pending OR (#state = :completing AND leaseUntil < :now))',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':completing': 'completing',
            ':pending': 'pending',
            ':until': opts.nowMs + opts.leaseMs,
            ':now': opts.nowMs,
            ':token': token,
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { claimed: true, token, upload: toUpload(out.Attributes ?? {}) };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const item = oldItem(err);
      if (!item) return { claimed: false, state: 'missing' };
      const upload = toUpload(item);
      if (upload.result) return { claimed: false, state: 'completed', upload: { ...upload, result: upload.result } };
      return { claimed: false, state: 'completing', upload };
    }
  }

  async releaseUpload(uploadId: string, token: string): Promise<void> {
    await conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: uploadKey(uploadId),
          UpdateExpression: 'SET #state = :pending REMOVE leaseUntil, leaseToken',
          ConditionExpression: 'leaseToken = :token',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':pending': 'pending', ':token': token },
        }),
      ),
    );
  }

  async completeUpload(uploadId: string, token: string, result: CompletedUpload): Promise<void> {
    // A lost claim (another request took over an expired lease) leaves that request's result in
    // place; ours is a valid media id too, so the caller is answered either way.
    await conditional(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: uploadKey(uploadId),
          UpdateExpression:
            'SET #state = :completed, mediaId = :mediaId, resultContentType = :ct, resultSize = :size, mediaExpiresAtMs = :exp, #ttl = :ttl REMOVE leaseUntil, leaseToken',
          ConditionExpression: 'leaseToken = :token',
          ExpressionAttributeNames: { '#state': 'state', '#ttl': 'ttl' },
          ExpressionAttributeValues: {
            ':completed': 'completed',
            ':mediaId': result.mediaId,
            ':ct': result.contentType,
            ':size': result.size,
            ':exp': result.expiresAtMs,
            ':ttl': epochSeconds(result.expiresAtMs),
            ':token': token,
          },
        }),
      ),
    );
  }
}
