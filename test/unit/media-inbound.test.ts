/**
 * Inbound media end to end on real local servers: a sandbox user sends a file → the event reaches
 * the inbound handler through SNS/SQS → a job lands on the media queue → the media handler copies
 * the file into S3 through the sandbox's GetWhatsAppMessageMedia → the API hands out a URL.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeHandler as makeInbound } from '../../lambdas/inbound/handler.ts';
import { makeHandler as makeMediaHandler, type MediaHandlerDeps } from '../../lambdas/media/handler.ts';
import { MEDIA_QUEUE } from '../../shared/resource-spec.ts';
import { MEDIA_KINDS, type MediaKind } from '../../local/sandbox/index.ts';
import { INBOUND_LEASE_MS } from '../../shared/domain/media-jobs.ts';
import { INBOUND_MEDIA_ID_TTL_MS } from '../../shared/domain/media.ts';
import { NO_CHAOS } from '../../local/sandbox/types.ts';
import type { InboundMediaJob } from '../../shared/ports/media.ts';
import { call, type ApiHandler } from '../support/api.ts';
import {
  eventOf,
  lambdaContext,
  mediaApiHandler,
  receive,
  resetMediaBench,
  startMediaBench,
  toSqsRecord,
  type MediaBench,
} from '../support/media.ts';

const USER = '16505551234';
const DAY = 24 * 60 * 60 * 1000;
let bench: MediaBench;
let api: ApiHandler;
let inbound: (event: SQSEvent, context: Context) => Promise<unknown>;

function mediaHandler(overrides: Partial<MediaHandlerDeps> = {}) {
  return makeMediaHandler({
    records: bench.records,
    storage: bench.storage,
    whatsapp: bench.whatsapp,
    retry: bench.jobs,
    now: Date.now,
    ...overrides,
  });
}

/** A sandbox user sends a file; the inbound handler stores the event; returns the media job. */
async function userSends(kind: MediaKind, phoneNumberId = bench.phoneNumberIds[0]!) {
  const sent = await bench.sandbox.inbound({ from: USER, to: phoneNumberId, type: kind });
  const events = await receive(bench.sqs, bench.inboundQueueUrl, { waitSeconds: 5 });
  expect(events).toHaveLength(1);
  await inbound(eventOf(events), lambdaContext);
  const jobs = await receive(bench.sqs, bench.mediaQueueUrl, { waitSeconds: 5 });
  expect(jobs).toHaveLength(1);
  const job = JSON.parse(jobs[0]!.Body!) as InboundMediaJob;
  return { ...sent, jobMessage: jobs[0]!, job, media: bench.sandbox.state.media.get(sent.mediaId!)! };
}

async function objectBytes(key: string): Promise<Buffer> {
  const out = await bench.s3.send(new GetObjectCommand({ Bucket: bench.bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function keysUnder(prefix: string): Promise<string[]> {
  const out = await bench.s3.send(new ListObjectsV2Command({ Bucket: bench.bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!);
}

async function mediaItem(messageId: string): Promise<Record<string, any>> {
  const out = await bench.doc.send(new GetCommand({ TableName: bench.resources.tableName, Key: { PK: `MSG#${messageId}`, SK: 'MSG' } }));
  return out.Item!.media;
}

beforeAll(async () => {
  bench = await startMediaBench();
  inbound = makeInbound({ store: bench.store, mediaJobs: bench.jobs });
  api = mediaApiHandler(bench);
});

afterAll(async () => {
  await bench?.stop();
});

beforeEach(() => {
  resetMediaBench(bench);
});

describe('inbound media copy', () => {
  it.each(MEDIA_KINDS)('copies a %s a user sent into S3 byte for byte and serves it through a short-lived URL', async (kind) => {
    const { job, jobMessage, media, wamid } = await userSends(kind);
    expect(job).toMatchObject({ mediaId: media.mediaId, contactId: USER, mimeType: media.mimeType, sha256: media.sha256 });

    const response = await mediaHandler()(eventOf([jobMessage]), lambdaContext);

    expect(response.batchItemFailures).toEqual([]);
    const stored = await mediaItem(job.messageId);
    expect(stored).toMatchObject({ state: 'stored', size: media.bytes.length, mimeType: media.mimeType });
    expect(stored.s3Key).toMatch(new RegExp(`^inbound/${job.phoneNumberId}/\\d{4}/\\d{2}/\\d{2}/${job.messageId}/${media.mediaId}\\.`));
    const bytes = await objectBytes(stored.s3Key);
    expect(bytes.equals(media.bytes)).toBe(true);
    expect(createHash('sha256').update(bytes).digest('base64')).toBe(job.sha256);
    expect(bench.callsOf('GetWhatsAppMessageMediaCommand').map((c) => c.input)).toEqual([
      {
        mediaId: media.mediaId,
        originationPhoneNumberId: job.phoneNumberId,
        destinationS3File: { bucketName: bench.bucket, key: stored.s3Key.slice(0, stored.s3Key.lastIndexOf('/') + 1) },
      },
    ]);

    const res = await call(api, 'GET', `/v1/messages/${encodeURIComponent(wamid)}/media`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ mimeType: media.mimeType, size: media.bytes.length });
    const expiresIn = Date.parse(res.body.expiresAt) - Date.now();
    expect(expiresIn).toBeGreaterThan(4 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(5 * 60_000);
    const download = await fetch(res.body.url);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(media.bytes)).toBe(true);

    const message = await call(api, 'GET', `/v1/messages/${job.messageId}`);
    expect(message.body.media).toEqual({
      id: media.mediaId,
      mimeType: media.mimeType,
      sha256: media.sha256,
      ...(media.filename && { filename: media.filename }),
      state: 'stored',
      size: media.bytes.length,
    });
  });

  it('downloads once when the same job arrives twice at the same time and again later', async () => {
    const { jobMessage, job } = await userSends('image');
    const handler = mediaHandler();

    const together = await handler({ Records: [toSqsRecord(jobMessage), toSqsRecord({ ...jobMessage, MessageId: 'copy' })] }, lambdaContext);
    const later = await handler(eventOf([jobMessage]), lambdaContext);

    expect(together.batchItemFailures).toEqual([]);
    expect(later.batchItemFailures).toEqual([]);
    expect(bench.callsOf('GetWhatsAppMessageMediaCommand')).toHaveLength(1);
    expect((await mediaItem(job.messageId)).state).toBe('stored');
    expect(await keysUnder(`inbound/${job.phoneNumberId}/`)).toContain((await mediaItem(job.messageId)).s3Key);
  });

  it('keeps two batches handled at once apart: the job both carry is stored once, none is lost, each batch reports only its own failure', async () => {
    // Prepare: two media messages; batch A carries the image job and a malformed job, batch B the
    // same image job (a redelivery), the document job and another malformed job.
    const image = await userSends('image');
    const doc = await userSends('document');
    const handler = mediaHandler();
    const batchA = { Records: [toSqsRecord(image.jobMessage), toSqsRecord({ MessageId: 'bad-a', ReceiptHandle: 'rh-a', Body: '{"messageId": 1}' })] };
    const batchB = {
      Records: [
        toSqsRecord({ ...image.jobMessage, MessageId: 'image-again' }),
        toSqsRecord(doc.jobMessage),
        toSqsRecord({ MessageId: 'bad-b', ReceiptHandle: 'rh-b', Body: 'not json' }),
      ],
    };

    // Act: both invocations at once, as the local runtime (or a busy container) may run them
    const [a, b] = await Promise.all([handler(batchA, lambdaContext), handler(batchB, lambdaContext)]);

    // Assess: each batch answers for its own records only
    expect(a.batchItemFailures).toEqual([{ itemIdentifier: 'bad-a' }]);
    expect(b.batchItemFailures).toEqual([{ itemIdentifier: 'bad-b' }]);
    // The shared job was downloaded once, the other job too: both files stored, nothing lost
    const downloads = bench.callsOf('GetWhatsAppMessageMediaCommand').map((c) => (c.input as { mediaId: string }).mediaId);
    expect(downloads.sort()).toEqual([image.job.mediaId, doc.job.mediaId].sort());
    for (const { job, media } of [image, doc]) {
      const stored = await mediaItem(job.messageId);
      expect(stored).toMatchObject({ state: 'stored', size: media.bytes.length });
      expect(await keysUnder(`inbound/${job.phoneNumberId}/`)).toContain(stored.s3Key);
      expect((await objectBytes(stored.s3Key)).equals(media.bytes)).toBe(true);
      expect((await keysUnder(`inbound/${job.phoneNumberId}/`)).filter((k) => k.includes(`/${job.messageId}/`))).toHaveLength(1);
    }
  });

  it('leaves a copy under a live lease alone and takes over one whose lease ran out', async () => {
    const { jobMessage, job } = await userSends('video');
    const crashed = await bench.records.claimInbound(job.messageId, job.mediaId, { nowMs: Date.now(), leaseMs: INBOUND_LEASE_MS });
    expect(crashed.claimed).toBe(true);

    const whileLeased = await mediaHandler()(eventOf([jobMessage]), lambdaContext);
    expect(whileLeased.batchItemFailures).toEqual([]);
    expect(bench.callsOf('GetWhatsAppMessageMediaCommand')).toHaveLength(0);

    const afterLease = await mediaHandler({ now: () => Date.now() + INBOUND_LEASE_MS + 1000 })(eventOf([jobMessage]), lambdaContext);
    expect(afterLease.batchItemFailures).toEqual([]);
    expect(bench.callsOf('GetWhatsAppMessageMediaCommand')).toHaveLength(1);
    expect((await mediaItem(job.messageId)).state).toBe('stored');
  });

  it('retries a throttled download: the record is reported, the claim given back, the job back on the queue after the backoff', async () => {
    const { jobMessage, job, media } = await userSends('audio');
    bench.sandbox.state.chaos = { ...NO_CHAOS, throttleRate: 1 };

    const first = await mediaHandler({ retryDelaySeconds: () => 1 })(eventOf([jobMessage]), lambdaContext);

    expect(first.batchItemFailures).toEqual([{ itemIdentifier: jobMessage.MessageId }]);
    expect((await mediaItem(job.messageId)).state).toBe('pending');
    const pending = await call(api, 'GET', `/v1/messages/${job.messageId}/media`);
    expect(pending.status).toBe(409);
    expect(pending.body.error.code).toBe('media_pending');
    // The queue's own visibility timeout is 720 s: seeing the job again within seconds is the backoff.
    const again = await receive(bench.sqs, bench.mediaQueueUrl, { waitSeconds: 5 });
    expect(again.map((m) => m.MessageId)).toEqual([jobMessage.MessageId]);
    expect(again[0]!.Attributes?.ApproximateReceiveCount).toBe('2');

    bench.sandbox.state.chaos = { ...NO_CHAOS };
    const second = await mediaHandler()(eventOf(again), lambdaContext);
    expect(second.batchItemFailures).toEqual([]);
    const stored = await mediaItem(job.messageId);
    expect(stored.state).toBe('stored');
    expect((await objectBytes(stored.s3Key)).equals(media.bytes)).toBe(true);
  });

  it('marks the media failed but retryable on the last attempt, and a DLQ redrive still stores it', async () => {
    const { jobMessage, job } = await userSends('document');
    bench.sandbox.state.chaos = { ...NO_CHAOS, throttleRate: 1 };
    const last = toSqsRecord({ ...jobMessage, Attributes: { ...jobMessage.Attributes, ApproximateReceiveCount: String(MEDIA_QUEUE.maxReceiveCount) } });

    const response = await mediaHandler()({ Records: [last] }, lambdaContext);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: jobMessage.MessageId }]);
    expect(await mediaItem(job.messageId)).toMatchObject({ state: 'failed', reason: 'retries_exhausted', retryable: true });
    const failed = await call(api, 'GET', `/v1/messages/${job.messageId}/media`);
    expect(failed.status).toBe(409);
    expect(failed.body.error).toMatchObject({ code: 'media_failed', details: { reason: 'retries_exhausted', retryable: true } });

    bench.sandbox.state.chaos = { ...NO_CHAOS };
    const redriven = await mediaHandler()(eventOf([jobMessage]), lambdaContext);
    expect(redriven.batchItemFailures).toEqual([]);
    expect((await mediaItem(job.messageId)).state).toBe('stored');
  });

  it('fails for good, without calling AWS, when the media id is more than 7 days old', async () => {
    const { jobMessage, job } = await userSends('image');

    const response = await mediaHandler({ now: () => job.timestampMs + INBOUND_MEDIA_ID_TTL_MS + 1 })(eventOf([jobMessage]), lambdaContext);

    expect(response.batchItemFailures).toEqual([]);
    expect(bench.calls).toEqual([]);
    expect(await mediaItem(job.messageId)).toMatchObject({ state: 'failed', reason: 'media_expired', retryable: false });
    const res = await call(api, 'GET', `/v1/messages/${job.messageId}/media`);
    expect(res.status).toBe(410);
    expect(res.body.error).toMatchObject({ code: 'media_failed', details: { reason: 'media_expired', retryable: false } });
  });

  it('fails for good when WhatsApp no longer knows the media id, and acknowledges the job', async () => {
    const { jobMessage, job } = await userSends('sticker');
    bench.sandbox.state.clockOffsetMs = 8 * DAY; // the sandbox has expired the id; our clock says it is fresh

    const response = await mediaHandler()(eventOf([jobMessage]), lambdaContext);

    expect(response.batchItemFailures).toEqual([]);
    expect(bench.callsOf('GetWhatsAppMessageMediaCommand')).toHaveLength(1);
    expect(await mediaItem(job.messageId)).toMatchObject({ state: 'failed', reason: 'media_not_found', retryable: false });
    const again = await mediaHandler()(eventOf([jobMessage]), lambdaContext);
    expect(again.batchItemFailures).toEqual([]);
    expect(bench.callsOf('GetWhatsAppMessageMediaCommand')).toHaveLength(1);
  });

  it('refuses a file whose SHA-256 is not the one the webhook announced', async () => {
    const { jobMessage, job } = await userSends('image');
    const tampered = { ...jobMessage, Body: JSON.stringify({ ...job, sha256: createHash('sha256').update('other bytes').digest('base64') }) };

    const response = await mediaHandler()(eventOf([tampered]), lambdaContext);

    expect(response.batchItemFailures).toEqual([]);
    expect(await mediaItem(job.messageId)).toMatchObject({ state: 'failed', reason: 'sha256_mismatch', retryable: false });
    const res = await call(api, 'GET', `/v1/messages/${job.messageId}/media`);
    expect(res.status).toBe(410);
    expect(res.body.error.details.reason).toBe('sha256_mismatch');
  });

  it('accepts the webhook SHA-256 written in hex as well as base64', async () => {
    const { jobMessage, job, media } = await userSends('image');
    const hex = Buffer.from(media.sha256, 'base64').toString('hex');

    const response = await mediaHandler()(eventOf([{ ...jobMessage, Body: JSON.stringify({ ...job, sha256: hex }) }]), lambdaContext);

    expect(response.batchItemFailures).toEqual([]);
    expect((await mediaItem(job.messageId)).state).toBe('stored');
  });

  it('fails a job that is not a media job without touching anything, so the queue keeps it for its DLQ', async () => {
    const response = await mediaHandler()(
      eventOf([
        { MessageId: 'bad', ReceiptHandle: 'rh', Body: '{"messageId": 1}' },
        { MessageId: 'not-json', ReceiptHandle: 'rh2', Body: 'not json' },
      ]),
      lambdaContext,
    );

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'bad' }, { itemIdentifier: 'not-json' }]);
    expect(bench.calls).toEqual([]);
  });

  it('answers 404 for a message without media and for an unknown message', async () => {
    await bench.sandbox.inbound({ from: USER, to: bench.phoneNumberIds[0]!, type: 'text', text: { body: 'hi' } });
    const events = await receive(bench.sqs, bench.inboundQueueUrl, { waitSeconds: 5 });
    await inbound(eventOf(events), lambdaContext);
    const wamid = JSON.parse(JSON.parse(JSON.parse(events[0]!.Body!).Message).whatsAppWebhookEntry).changes[0].value.messages[0].id;

    const text = await call(api, 'GET', `/v1/messages/${encodeURIComponent(wamid)}/media`);
    const unknown = await call(api, 'GET', '/v1/messages/wamid.NOPE/media');

    expect(text.status).toBe(404);
    expect(text.body.error.code).toBe('no_media');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('message_not_found');
    expect(await receive(bench.sqs, bench.mediaQueueUrl, { waitSeconds: 1 })).toEqual([]);
  });
});
