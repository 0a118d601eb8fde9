/**
 * Media both ways, end to end: a user's image is copied to S3 and served through a short-lived URL
 * with identical bytes; an uploaded PDF is checked, registered with WhatsApp and sent as a
 * document; a PNG named .pdf is refused. Local only (it reads the sandbox outbox).
 */
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { sampleMedia } from '../../local/sandbox/index.ts';
import { eventually, useTarget } from './support/target.ts';

const t = useTarget({ localOnly: true });
const local = t.enabled;

const pn = () => t.current.phoneNumbers[0]!.phoneNumberId;

/** A real 1×1 PNG. */
function png(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crcTable = Array.from({ length: 256 }, (_, n) => {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      return c >>> 0;
    });
    let crc = 0xffffffff;
    for (const b of Buffer.concat([Buffer.from(type), data])) crc = crcTable[(crc ^ b) & 0xff]! ^ (crc >>> 8);
    const crcBuf = Buffer.alloc(4);
    crcBuf.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
    return Buffer.concat([len, Buffer.from(type), data, crcBuf]);
  };
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from([0, 255, 0, 0]))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function upload(bytes: Buffer, contentType: string, filename: string) {
  const started = await t.current.api('POST', '/v1/media', { from: pn(), contentType, filename, size: bytes.length });
  expect(started.status, JSON.stringify(started.body)).toBe(201);
  const put = await fetch(started.body.uploadUrl, { method: 'PUT', headers: started.body.headers, body: bytes });
  expect(put.status).toBe(200);
  return t.current.api('POST', `/v1/media/${started.body.uploadId}/complete`);
}

it.runIf(local)("serves a user's image from S3 with the bytes WhatsApp had", async () => {
  const sent = await t.current.sandbox('POST', '/sandbox/inbound', { from: '16505558001', to: pn(), type: 'image', image: { caption: 'receipt' } });
  const stored = await eventually(async () => {
    const res = await t.current.api('GET', `/v1/messages/${sent.body.wamid}`);
    return res.body?.media?.state === 'stored' ? res.body : undefined;
  }, 'the image stored');
  expect(stored.media).toMatchObject({ id: sent.body.mediaId, mimeType: 'image/jpeg', size: expect.any(Number) });

  const link = await t.current.api('GET', `/v1/messages/${stored.id}/media`);
  expect(link.status).toBe(200);
  expect(link.body).toMatchObject({ mimeType: 'image/jpeg', size: stored.media.size, expiresAt: expect.any(String) });
  const bytes = Buffer.from(await (await fetch(link.body.url)).arrayBuffer());
  expect(bytes.length).toBe(stored.media.size);
  expect(createHash('sha256').update(bytes).digest('base64')).toBe(stored.media.sha256);
  expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
}, 60_000);

it.runIf(local)('uploads a PDF, sends it as a document, and the outbox shows its media id', async () => {
  const user = '16505558002';
  await t.current.sandbox('POST', '/sandbox/inbound', { from: user, to: pn(), type: 'text', text: { body: 'send me the invoice' } });
  const pdf = sampleMedia('document');

  const done = await upload(pdf.bytes, 'application/pdf', 'invoice.pdf');
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  expect(done.body).toMatchObject({ mediaId: expect.stringMatching(/^[A-Za-z0-9]+$/), contentType: 'application/pdf', size: pdf.bytes.length });

  const res = await eventually(async () => {
    const r = await t.current.api('POST', '/v1/messages', { from: pn(), to: user, type: 'document', document: { id: done.body.mediaId, filename: 'invoice.pdf' } });
    return r.status === 409 && r.body.error.code === 'window_closed' ? undefined : r;
  }, 'the window opened by the inbound message');
  expect(res.status).toBe(202);
  const outbox = (await t.current.sandbox('GET', `/sandbox/outbox?to=${user}`)).body;
  expect(outbox[0].message).toMatchObject({ type: 'document', document: { id: done.body.mediaId, filename: 'invoice.pdf' } });
}, 60_000);

it.runIf(local)('refuses a PNG renamed to .pdf with a clear error', async () => {
  const res = await upload(png(), 'application/pdf', 'scan.pdf');
  expect(res.status).toBe(422);
  expect(res.body.error).toMatchObject({ code: 'type_mismatch', message: expect.stringMatching(/png/i) });
});
