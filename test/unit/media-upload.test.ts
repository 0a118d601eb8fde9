/**
 * Outbound media through the API on real local servers: POST /v1/media → PUT to the presigned
 * URL (fauxqs S3) → POST /v1/media/{id}/complete → the sandbox's PostWhatsAppMessageMedia.
 */
import { crc32, deflateSync } from 'node:zlib';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadSandboxConfig, sampleMedia } from '../../local/sandbox/index.ts';
import { NO_CHAOS } from '../../local/sandbox/types.ts';
import { MB } from '../../shared/domain/media.ts';
import { call, type ApiHandler } from '../support/api.ts';
import { mediaApiHandler, resetMediaBench, startMediaBench, type MediaBench } from '../support/media.ts';

const DAY = 24 * 60 * 60 * 1000;
let bench: MediaBench;
let api: ApiHandler;
let from: string;

/** A real 1x1 RGB PNG. */
function png(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(1, 0);
  ihdr.writeUInt32BE(1, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from([0, 0x25, 0xd3, 0x66]))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function start(body: Record<string, unknown>) {
  return call(api, 'POST', '/v1/media', { body: { from, ...body } });
}

async function put(ticket: { uploadUrl: string; headers: Record<string, string> }, bytes: Uint8Array, headers = ticket.headers) {
  // fetch sets Content-Length from the body itself.
  const { 'Content-Length': _length, ...rest } = headers;
  const res = await fetch(ticket.uploadUrl, { method: 'PUT', headers: rest, body: bytes });
  expect(res.status).toBe(200);
}

const complete = (uploadId: string) => call(api, 'POST', `/v1/media/${uploadId}/complete`);
const posts = () => bench.callsOf('PostWhatsAppMessageMediaCommand');

beforeAll(async () => {
  bench = await startMediaBench();
  from = bench.phoneNumberIds[0]!;
  api = mediaApiHandler(bench);
});

afterAll(async () => {
  await bench?.stop();
});

beforeEach(() => {
  resetMediaBench(bench);
});

describe('outbound media upload', () => {
  it('hands out a presigned PUT bound to the type and size, and registers a valid PDF once', async () => {
    const pdf = sampleMedia('document').bytes;

    const started = await start({ contentType: 'application/pdf', filename: 'invoice.pdf', size: pdf.length });

    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({
      uploadId: expect.stringMatching(/^upl_[0-9a-f]{32}$/),
      method: 'PUT',
      headers: { 'Content-Type': 'application/pdf', 'Content-Length': String(pdf.length) },
    });
    const url = new URL(started.body.uploadUrl);
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(['content-length', 'content-type', 'host']);
    expect(url.searchParams.has('x-amz-checksum-crc32')).toBe(false);
    expect(Date.parse(started.body.expiresAt) - Date.now()).toBeGreaterThan(10 * 60_000);

    await put(started.body, pdf);
    const done = await complete(started.body.uploadId);

    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ mediaId: expect.stringMatching(/^[A-Za-z0-9]+$/), contentType: 'application/pdf', size: pdf.length });
    expect(Math.abs(Date.parse(done.body.expiresAt) - (Date.now() + 30 * DAY))).toBeLessThan(60_000);
    expect(posts().map((c) => c.input)).toEqual([
      {
        originationPhoneNumberId: from,
        sourceS3File: { bucketName: bench.bucket, key: `outbound/${from}/${started.body.uploadId}` },
      },
    ]);
    const registered = bench.sandbox.state.media.get(done.body.mediaId);
    expect(registered?.bytes.equals(pdf)).toBe(true);
    expect(registered?.mimeType).toBe('application/pdf');
  });

  it('answers the same mediaId when completed twice, with a single PostWhatsAppMessageMedia', async () => {
    const jpeg = sampleMedia('image').bytes;
    const started = await start({ contentType: 'image/jpeg', size: jpeg.length });
    await put(started.body, jpeg);

    const first = await complete(started.body.uploadId);
    const second = await complete(started.body.uploadId);

    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(posts()).toHaveLength(1);
  });

  it('registers once when two completions race: the other is told to retry or gets the same answer', async () => {
    const ogg = sampleMedia('audio').bytes;
    const started = await start({ contentType: 'audio/ogg; codecs=opus', size: ogg.length });
    expect(started.body.headers['Content-Type']).toBe('audio/ogg');
    await put(started.body, ogg);

    const answers = await Promise.all([complete(started.body.uploadId), complete(started.body.uploadId)]);

    expect(posts()).toHaveLength(1);
    const ok = answers.filter((a) => a.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const a of answers) {
      if (a.status === 200) expect(a.body.mediaId).toBe(ok[0]!.body.mediaId);
      else expect(a).toMatchObject({ status: 409, body: { error: { code: 'upload_in_progress' } } });
    }
    expect((await complete(started.body.uploadId)).body.mediaId).toBe(ok[0]!.body.mediaId);
  });

  it('refuses a PNG declared as application/pdf, and accepts the real PDF put in its place', async () => {
    const image = png();
    const started = await start({ contentType: 'application/pdf', size: image.length });
    await put(started.body, image);

    const refused = await complete(started.body.uploadId);

    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: 'type_mismatch', message: expect.stringContaining('image/png') });
    expect(posts()).toEqual([]);

    const pdf = sampleMedia('document').bytes;
    await put({ ...started.body, headers: { 'Content-Type': 'application/pdf' } }, pdf);
    const accepted = await complete(started.body.uploadId);
    expect(accepted.status).toBe(200);
    expect(posts()).toHaveLength(1);
  });

  it('refuses a file stored with another Content-Type than the upload was started for', async () => {
    const pdf = sampleMedia('document').bytes;
    const started = await start({ contentType: 'application/pdf', size: pdf.length });
    await put(started.body, pdf, { 'Content-Type': 'text/plain' });

    const refused = await complete(started.body.uploadId);

    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: 'type_mismatch', message: expect.stringContaining('text/plain') });
    expect(posts()).toEqual([]);
  });

  it('accepts a real PNG image', async () => {
    const image = png();
    const started = await start({ contentType: 'image/png', size: image.length });
    await put(started.body, image);

    const done = await complete(started.body.uploadId);

    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ contentType: 'image/png', size: image.length });
  });

  it('refuses an oversize file before anything is uploaded', async () => {
    const res = await start({ contentType: 'image/jpeg', size: 5 * MB + 1 });

    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'too_large', details: { maxBytes: 5 * MB } });
  });

  it('refuses an uploaded object larger than the kind allows even when the upload URL did not stop it', async () => {
    const image = png();
    const big = Buffer.concat([image, Buffer.alloc(5 * MB)]);
    const started = await start({ contentType: 'image/png', size: image.length });
    // The local S3 does not check signatures; AWS would refuse this PUT for its Content-Length.
    await put(started.body, big);

    const refused = await complete(started.body.uploadId);

    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('too_large');
    expect(posts()).toEqual([]);
  });

  it('refuses types WhatsApp does not accept and empty files, with their own codes', async () => {
    const gif = await start({ contentType: 'image/gif', size: 100 });
    const vorbis = await start({ contentType: 'audio/ogg; codecs=vorbis', size: 100 });
    const empty = await start({ contentType: 'text/plain', size: 0 });

    expect(gif).toMatchObject({ status: 422, body: { error: { code: 'unsupported_type' } } });
    expect(vorbis).toMatchObject({ status: 422, body: { error: { code: 'unsupported_type', message: expect.stringContaining('Opus') } } });
    expect(empty).toMatchObject({ status: 422, body: { error: { code: 'empty_file' } } });
  });

  it('refuses an empty object put where a file was announced', async () => {
    const started = await start({ contentType: 'text/plain', size: 12 });
    await put(started.body, new Uint8Array());

    const refused = await complete(started.body.uploadId);

    expect(refused).toMatchObject({ status: 422, body: { error: { code: 'empty_file' } } });
  });

  it('says upload_missing before the PUT, and completes once the file is there', async () => {
    const pdf = sampleMedia('document').bytes;
    const started = await start({ contentType: 'application/pdf', size: pdf.length });

    const early = await complete(started.body.uploadId);
    await put(started.body, pdf);
    const later = await complete(started.body.uploadId);

    expect(early).toMatchObject({ status: 409, body: { error: { code: 'upload_missing' } } });
    expect(later.status).toBe(200);
  });

  it('answers 429 when WhatsApp throttles the registration, and completes on a later try', async () => {
    const mp4 = sampleMedia('video').bytes;
    const started = await start({ contentType: 'video/mp4', size: mp4.length });
    await put(started.body, mp4);
    bench.sandbox.state.chaos = { ...NO_CHAOS, throttleRate: 1 };

    const throttled = await complete(started.body.uploadId);
    bench.sandbox.state.chaos = { ...NO_CHAOS };
    const done = await complete(started.body.uploadId);

    expect(throttled.status).toBe(429);
    expect(throttled.body.error.code).toBe('throttled');
    expect(throttled.headers['retry-after']).toBeDefined();
    expect(done.status).toBe(200);
    expect(posts()).toHaveLength(2);
  });

  it('answers 404 for an unknown upload or business number, and 400 for a malformed upload id', async () => {
    const unknownUpload = await complete(`upl_${'0'.repeat(32)}`);
    const malformed = await complete('nope');
    const unknownNumber = await call(api, 'POST', '/v1/media', {
      body: { from: 'phone-number-id-00000000000000000000000000000000', contentType: 'image/jpeg', size: 10 },
    });

    expect(unknownUpload).toMatchObject({ status: 404, body: { error: { code: 'upload_not_found' } } });
    expect(malformed).toMatchObject({ status: 400, body: { error: { code: 'validation_error' } } });
    expect(unknownNumber).toMatchObject({ status: 404, body: { error: { code: 'unknown_phone_number' } } });
  });

  it("resolves from given as the business number's display number or ARN, as a send does", async () => {
    // Prepare: the sandbox's last business number, written as a person would and as its ARN
    const number = loadSandboxConfig().phoneNumbers.at(-1)!;
    const arn = `arn:aws:social-messaging:us-east-1:${'0'.repeat(12)}:phone-number-id/${number.phoneNumberId.slice('phone-number-id-'.length)}`;
    const upload = { contentType: 'image/jpeg', size: 10 };
    // Act
    const byDisplay = await call(api, 'POST', '/v1/media', { body: { ...upload, from: `+${number.displayPhoneNumber}` } });
    const byArn = await call(api, 'POST', '/v1/media', { body: { ...upload, from: arn } });
    const unknownDisplay = await call(api, 'POST', '/v1/media', { body: { ...upload, from: '+1 555 000 9999' } });
    // Assess
    const phoneOf = async (uploadId: string) =>
      (await bench.doc.send(new GetCommand({ TableName: bench.resources.tableName, Key: { PK: `UPLOAD#${uploadId}`, SK: 'UPLOAD' } }))).Item
        ?.phoneNumberId;
    expect([byDisplay.status, byArn.status]).toEqual([201, 201]);
    expect(await phoneOf(byDisplay.body.uploadId)).toBe(number.phoneNumberId);
    expect(await phoneOf(byArn.body.uploadId)).toBe(number.phoneNumberId);
    expect(unknownDisplay).toMatchObject({ status: 404, body: { error: { code: 'unknown_phone_number' } } });
    expect(bench.callsOf('GetLinkedWhatsAppBusinessAccountPhoneNumberCommand').length).toBeGreaterThan(0);
  });

  it('keeps an upload item that expires by TTL: a day when never completed, 30 days once completed', async () => {
    const jpeg = sampleMedia('image').bytes;
    const started = await start({ contentType: 'image/jpeg', size: jpeg.length });
    const item = async () =>
      (await bench.doc.send(new GetCommand({ TableName: bench.resources.tableName, Key: { PK: `UPLOAD#${started.body.uploadId}`, SK: 'UPLOAD' } }))).Item!;

    const pending = await item();
    await put(started.body, jpeg);
    await complete(started.body.uploadId);
    const completed = await item();

    expect(pending).toMatchObject({ entity: 'upload', state: 'pending', phoneNumberId: from });
    expect(pending.ttl * 1000 - Date.now()).toBeGreaterThan(23 * 60 * 60 * 1000);
    expect(pending.ttl * 1000 - Date.now()).toBeLessThanOrEqual(DAY);
    expect(completed.state).toBe('completed');
    expect(Math.abs(completed.ttl * 1000 - (Date.now() + 30 * DAY))).toBeLessThan(60_000);
  });
});
