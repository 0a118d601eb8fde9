import { describe, expect, it } from 'vitest';
import { MEDIA_KINDS, sampleMedia } from '../../local/sandbox/media-samples.ts';
import { SIGNATURES, storedExtension, uploadProblem } from '../../local/sandbox/media-rules.ts';
import { MEDIA_RULES, extensionFor, kindOfMime } from '../../shared/domain/media.ts';

const ascii = (b: Buffer, start: number, end: number) => b.subarray(start, end).toString('latin1');

/** Ogg page CRC written from RFC 3533 independently of the generator: bitwise, MSB first. */
function oggCrcBitwise(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 24;
    for (let i = 0; i < 8; i++) crc = crc & 0x80000000 ? ((crc << 1) ^ 0x04c11db7) >>> 0 : (crc << 1) >>> 0;
  }
  return crc >>> 0;
}

/** Top-level ISO-BMFF boxes: [type, offset, size]. */
function boxes(b: Buffer, from = 0, to = b.length): [string, number, number][] {
  const out: [string, number, number][] = [];
  for (let at = from; at < to; ) {
    const size = b.readUInt32BE(at);
    if (size < 8 || at + size > to) throw new Error(`bad box at ${at}`);
    out.push([ascii(b, at + 4, at + 8), at, size]);
    at += size;
  }
  return out;
}

describe('sampleMedia', () => {
  it('gives every kind a MIME type WhatsApp files under that kind', () => {
    // Prepare / Act
    const got = Object.fromEntries(MEDIA_KINDS.map((k) => [k, sampleMedia(k).mimeType]));

    // Assess
    expect(got).toEqual({
      image: 'image/jpeg',
      video: 'video/mp4',
      audio: 'audio/ogg; codecs=opus',
      document: 'application/pdf',
      sticker: 'image/webp',
    });
    for (const kind of MEDIA_KINDS) expect(kindOfMime(sampleMedia(kind).mimeType), kind).toBe(kind);
    expect(sampleMedia('document').filename).toMatch(/\.pdf$/);
  });

  it('makes a baseline JPEG whose segments lead to a 16x16 three-component frame and end with EOI', () => {
    // Prepare / Act
    const b = sampleMedia('image').bytes;

    // Assess: walk the marker segments up to start-of-scan
    expect([...b.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect([...b.subarray(-2)]).toEqual([0xff, 0xd9]);
    const markers: number[] = [];
    let at = 2;
    let frame: { height: number; width: number; components: number } | undefined;
    while (at < b.length) {
      expect(b[at]).toBe(0xff);
      const marker = b[at + 1]!;
      const len = b.readUInt16BE(at + 2);
      markers.push(marker);
      if (marker === 0xc0) frame = { height: b.readUInt16BE(at + 5), width: b.readUInt16BE(at + 7), components: b[at + 9]! };
      if (marker === 0xda) break;
      at += 2 + len;
    }
    expect(markers).toEqual([0xe0, 0xdb, 0xc0, 0xc4, 0xda]);
    expect(ascii(b, 6, 11)).toBe('JFIF\0');
    expect(frame).toEqual({ height: 16, width: 16, components: 3 });
  });

  it('makes an Ogg Opus stream whose pages carry valid CRCs, OpusHead first and an end-of-stream page last', () => {
    // Prepare / Act
    const b = sampleMedia('audio').bytes;

    // Assess
    const pages: { type: number; granule: bigint; payload: Buffer }[] = [];
    for (let at = 0; at < b.length; ) {
      expect(ascii(b, at, at + 4)).toBe('OggS');
      const segments = b[at + 26]!;
      const lacing = [...b.subarray(at + 27, at + 27 + segments)];
      const size = 27 + segments + lacing.reduce((s, v) => s + v, 0);
      const page = Buffer.from(b.subarray(at, at + size));
      const stored = page.readUInt32LE(22);
      page.writeUInt32LE(0, 22);
      expect(oggCrcBitwise(page)).toBe(stored);
      pages.push({ type: b[at + 5]!, granule: b.readBigUInt64LE(at + 6), payload: b.subarray(at + 27 + segments, at + size) });
      at += size;
    }
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages[0]!.type & 0x02).toBe(0x02);
    expect(ascii(pages[0]!.payload, 0, 8)).toBe('OpusHead');
    expect(pages[0]!.payload[9]).toBe(1); // mono
    expect(pages[0]!.payload.readUInt32LE(12)).toBe(48000);
    expect(ascii(pages[1]!.payload, 0, 8)).toBe('OpusTags');
    const last = pages.at(-1)!;
    expect(last.type & 0x04).toBe(0x04);
    const preSkip = BigInt(pages[0]!.payload.readUInt16LE(10));
    expect(last.granule - preSkip).toBeGreaterThan(40_000n); // close to one second at 48 kHz
  });

  it('makes a PDF 1.4 whose xref table points at each object', () => {
    // Prepare / Act
    const b = sampleMedia('document').bytes;
    const text = b.toString('latin1');

    // Assess
    expect(text.startsWith('%PDF-1.4\n')).toBe(true);
    expect(text.trimEnd().endsWith('%%EOF')).toBe(true);
    const startxref = Number(/startxref\n(\d+)\n%%EOF/.exec(text)![1]);
    expect(text.slice(startxref, startxref + 4)).toBe('xref');
    const entries = [...text.slice(startxref).matchAll(/^(\d{10}) 00000 n $/gm)].map((m) => Number(m[1]));
    expect(entries.length).toBe(5);
    entries.forEach((offset, i) => expect(text.slice(offset, offset + 10)).toMatch(new RegExp(`^${i + 1} 0 obj`)));
    expect(text).toContain('/Type /Catalog');
  });

  it('makes an MP4 of ftyp, moov and mdat, moov first, whose chunk offset points into mdat', () => {
    // Prepare / Act
    const b = sampleMedia('video').bytes;

    // Assess
    const top = boxes(b);
    expect(top.map(([t]) => t)).toEqual(['ftyp', 'moov', 'mdat']);
    expect(ascii(b, 8, 12)).toBe('isom');
    const stco = b.indexOf('stco', 0, 'latin1');
    const chunkOffset = b.readUInt32BE(stco + 12);
    const [, mdatAt, mdatSize] = top[2]!;
    expect(chunkOffset).toBe(mdatAt + 8);
    const sampleSize = b.readUInt32BE(b.indexOf('stsz', 0, 'latin1') + 16);
    expect(chunkOffset + sampleSize).toBe(mdatAt + mdatSize);
    expect(b.indexOf('avc1', 0, 'latin1')).toBeGreaterThan(0);
    expect(b.indexOf('avcC', 0, 'latin1')).toBeGreaterThan(0);
  });

  it('makes a RIFF/WEBP with a lossless VP8L chunk of 512x512', () => {
    // Prepare / Act
    const b = sampleMedia('sticker').bytes;

    // Assess
    expect(ascii(b, 0, 4)).toBe('RIFF');
    expect(b.readUInt32LE(4)).toBe(b.length - 8);
    expect(ascii(b, 8, 16)).toBe('WEBPVP8L');
    expect(b[20]).toBe(0x2f);
    const bits = b.readUInt32LE(21);
    expect((bits & 0x3fff) + 1).toBe(512);
    expect(((bits >>> 14) & 0x3fff) + 1).toBe(512);
  });

  it('returns a fresh copy each time, so a caller changing bytes does not change the next sample', () => {
    // Prepare
    const first = sampleMedia('image');
    first.bytes.fill(0);

    // Act
    const second = sampleMedia('image');

    // Assess
    expect([...second.bytes.subarray(0, 2)]).toEqual([0xff, 0xd8]);
  });
});

/** The head of an ISO-BMFF file with major brand `brand`. */
function ftyp(brand: string): Buffer {
  const box = Buffer.alloc(24);
  box.writeUInt32BE(24, 0);
  box.write(`ftyp${brand}`, 4, 'latin1');
  box.write('isom', 16, 'latin1');
  return Buffer.concat([box, Buffer.alloc(64)]);
}

/** An extended WebP (VP8X) whose header says animated, padded to `size` bytes. */
function animatedWebp(size: number): Buffer {
  const b = Buffer.alloc(size);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(size - 8, 4);
  b.write('WEBPVP8X', 8, 'latin1');
  b.writeUInt32LE(10, 16);
  b[20] = 0x02; // animation flag
  return b;
}

/** An AAC ADTS frame header (MPEG-4, layer 00, 44.1 kHz) and an MPEG-1 Layer III frame header. */
const ADTS = Buffer.from([0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc, 0, 0, 0]);
const MP3_FRAME = Buffer.from([0xff, 0xfb, 0x90, 0x64, 0, 0, 0, 0, 0, 0]);

describe('media rules for uploads', () => {
  it('accepts every sample under its own MIME type', () => {
    for (const kind of MEDIA_KINDS) {
      const s = sampleMedia(kind);
      expect(uploadProblem(s.mimeType, s.bytes.length, s.bytes), kind).toBeUndefined();
    }
  });

  it('has a content check for every type of the shared media table', () => {
    // Prepare
    const types = Object.values(MEDIA_RULES).flatMap((rule) => rule.types.map((t) => t.mime));

    // Assess
    expect(types.filter((mime) => SIGNATURES[mime] === undefined)).toEqual([]);
    expect(Object.keys(SIGNATURES).sort()).toEqual([...types].sort());
  });

  it('names stored files with the extension of the shared media table, jpeg for a JPEG', () => {
    expect(storedExtension('image/jpeg')).toBe('jpeg');
    for (const kind of MEDIA_KINDS) {
      const { mimeType } = sampleMedia(kind);
      expect(storedExtension(mimeType)).toBe(extensionFor(mimeType));
    }
    expect(() => storedExtension('image/gif')).toThrow(/no file extension/);
  });

  it('accepts a 3GP video declared with AWS spelling video/3gp', () => {
    const head = ftyp('3gp4');
    expect(uploadProblem('video/3gp', head.length, head)).toBeUndefined();
    expect(uploadProblem('video/3gpp', head.length, head)).toBeUndefined();
    expect(uploadProblem('video/3gp', head.length, ftyp('isom'))).toMatch(/does not match/);
  });

  it('does not take an AAC ADTS stream for an MP3, nor an MP3 frame for AAC', () => {
    expect(uploadProblem('audio/mpeg', ADTS.length, ADTS)).toMatch(/does not match/);
    expect(uploadProblem('audio/aac', MP3_FRAME.length, MP3_FRAME)).toMatch(/does not match/);
    expect(uploadProblem('audio/aac', ADTS.length, ADTS)).toBeUndefined();
    expect(uploadProblem('audio/mpeg', MP3_FRAME.length, MP3_FRAME)).toBeUndefined();
  });

  it('refuses content that does not match the declared type', () => {
    const jpeg = sampleMedia('image').bytes;
    expect(uploadProblem('image/png', jpeg.length, jpeg)).toMatch(/does not match/);
    const pdf = sampleMedia('document').bytes;
    expect(uploadProblem('audio/ogg', pdf.length, pdf)).toMatch(/does not match/);
  });

  it('refuses an unsupported type, OGG declared with another codec, and an empty file', () => {
    const ogg = sampleMedia('audio').bytes;
    expect(uploadProblem('image/gif', 10)).toMatch(/not supported/);
    expect(uploadProblem('audio/ogg; codecs=vorbis', ogg.length, ogg)).toMatch(/not supported/);
    expect(uploadProblem(undefined, 10)).toMatch(/no content type/);
    expect(uploadProblem('application/pdf', 0)).toMatch(/empty/);
  });

  it('holds a static sticker to 100 KB, an animated one to 500 KB and an image to 5 MB', () => {
    const sticker = sampleMedia('sticker').bytes;
    expect(uploadProblem('image/webp', 100 * 1024 + 1, sticker)).toMatch(/at most 102400/);
    const animated = animatedWebp(300 * 1024);
    expect(uploadProblem('image/webp', animated.length, animated)).toBeUndefined();
    expect(uploadProblem('image/webp', 500 * 1024 + 1, animated)).toMatch(/at most 512000/);
    expect(uploadProblem('image/jpeg', 5 * 1024 * 1024 + 1)).toMatch(/at most 5242880/);
  });
});
