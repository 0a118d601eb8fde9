import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LEGACY_OFFICE_FAMILY, OOXML_FAMILY, SNIFF_BYTES, sniffMedia, sniffMime } from '../../shared/domain/sniff.ts';
import { bytes, oggFirstPage, u16le, u32be, u32le, zeros } from '../support/bytes.ts';

function ftyp(major: string, ...compatible: string[]): Uint8Array {
  return bytes(u32be(16 + 4 * compatible.length), 'ftyp', major, zeros(4), ...compatible, u32be(8), 'mdat');
}

const opusHead = bytes('OpusHead', [1, 1], u16le(312), u32le(48000), u16le(0), [0]);
const vorbisId = bytes([1], 'vorbis', u32le(0), [1], u32le(44100), u32le(0), u32le(128000), u32le(0), [0xb8, 1]);

/** A stored (uncompressed) ZIP local file entry. */
function zipEntry(name: string, data = ''): Uint8Array {
  return bytes(
    'PK',
    [3, 4],
    u16le(20),
    u16le(0),
    u16le(0),
    u16le(0),
    u16le(0),
    u32le(0),
    u32le(data.length),
    u32le(data.length),
    u16le(name.length),
    u16le(0),
    name,
    data,
  );
}

function webpChunk(id: string, payload: readonly number[]): Uint8Array {
  return bytes(id, u32le(payload.length), payload, payload.length % 2 ? [0] : []);
}

function webp(...chunks: Uint8Array[]): Uint8Array {
  const body = bytes('WEBP', ...chunks);
  return bytes('RIFF', u32le(body.length), body);
}

describe('sniffMime: images', () => {
  it('recognises JPEG by FF D8 FF', () => {
    // Prepare
    const head = bytes([0xff, 0xd8, 0xff, 0xe0, 0, 0x10], 'JFIF', [0]);
    // Act / Assess
    expect(sniffMime(head)).toBe('image/jpeg');
  });

  it('recognises PNG by its 8-byte signature', () => {
    const head = bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], u32be(13), 'IHDR');
    expect(sniffMime(head)).toBe('image/png');
  });

  it('does not take a PNG signature missing its last byte for PNG', () => {
    const head = bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x00], u32be(13), 'IHDR');
    expect(sniffMime(head)).not.toBe('image/png');
  });

  it('names GIF so that it can be refused precisely', () => {
    expect(sniffMime(bytes('GIF89a', [1, 0, 1, 0]))).toBe('image/gif');
  });
});

describe('sniffMedia: WebP and animation', () => {
  it('reports a simple lossy WebP (VP8) as not animated', () => {
    // Prepare
    const head = webp(webpChunk('VP8 ', zeros(10)));
    // Act
    const found = sniffMedia(head);
    // Assess
    expect(found).toEqual({ mime: 'image/webp', animated: false });
  });

  it('reports a lossless WebP (VP8L) as not animated', () => {
    expect(sniffMedia(webp(webpChunk('VP8L', zeros(5))))).toEqual({ mime: 'image/webp', animated: false });
  });

  it('reports an extended WebP with the animation flag as animated', () => {
    const head = webp(webpChunk('VP8X', [0x02, 0, 0, 0, 9, 0, 0, 9, 0, 0]), webpChunk('ANIM', zeros(6)));
    expect(sniffMedia(head)).toEqual({ mime: 'image/webp', animated: true });
  });

  it('reports an extended WebP with an ANIM chunk but no flag as animated', () => {
    const head = webp(webpChunk('VP8X', [0x00, 0, 0, 0, 9, 0, 0, 9, 0, 0]), webpChunk('ANIM', zeros(6)));
    expect(sniffMedia(head)?.animated).toBe(true);
  });

  it('reports an extended WebP without flag or ANIM chunk as not animated', () => {
    const head = webp(webpChunk('VP8X', [0x10, 0, 0, 0, 9, 0, 0, 9, 0, 0]), webpChunk('VP8 ', zeros(10)));
    expect(sniffMedia(head)).toEqual({ mime: 'image/webp', animated: false });
  });

  it('leaves animation unknown when the head ends before the VP8X flags', () => {
    const head = bytes('RIFF', u32le(100), 'WEBP', 'VP8X');
    expect(sniffMedia(head)).toEqual({ mime: 'image/webp' });
  });

  it('tells WAV apart from WebP inside RIFF', () => {
    expect(sniffMime(bytes('RIFF', u32le(36), 'WAVE', 'fmt '))).toBe('audio/wav');
  });
});

describe('sniffMime: ISO-BMFF brands', () => {
  it.each(['isom', 'iso2', 'mp41', 'mp42', 'avc1', 'M4V ', 'dash'])('reads major brand %j as video/mp4', (brand) => {
    expect(sniffMime(ftyp(brand, 'isom'))).toBe('video/mp4');
  });

  it('reads major brand "M4A " as audio/mp4', () => {
    expect(sniffMime(ftyp('M4A ', 'M4A ', 'mp42', 'isom'))).toBe('audio/mp4');
  });

  it.each(['3gp4', '3gp5', '3gp6', '3g2a'])('reads major brand %j as video/3gpp', (brand) => {
    expect(sniffMime(ftyp(brand, 'isom'))).toBe('video/3gpp');
  });

  it('falls back to the compatible brands when the major brand is unknown', () => {
    expect(sniffMime(ftyp('abcd', 'zzzz', 'mp42'))).toBe('video/mp4');
  });

  it('does not read brands past the end of the ftyp box', () => {
    // Prepare: the box is 16 bytes (no compatible brands); "mp42" follows as the next box's bytes.
    const head = bytes(u32be(16), 'ftyp', 'abcd', zeros(4), 'mp42', 'free');
    // Act / Assess
    expect(sniffMime(head)).toBeUndefined();
  });

  it('names QuickTime so that it can be refused precisely', () => {
    expect(sniffMime(ftyp('qt  ', 'qt  '))).toBe('video/quicktime');
  });
});

describe('sniffMime: audio', () => {
  it('recognises OGG with OpusHead in the first page as Opus', () => {
    expect(sniffMime(oggFirstPage(opusHead))).toBe('audio/ogg; codecs=opus');
  });

  it('recognises OGG Vorbis as plain audio/ogg', () => {
    expect(sniffMime(oggFirstPage(vorbisId))).toBe('audio/ogg');
  });

  it('does not take "OpusHead" outside the first packet as Opus', () => {
    // Prepare: a Vorbis first packet followed by bytes that happen to spell OpusHead.
    const head = bytes(oggFirstPage(vorbisId), 'OpusHead');
    // Act / Assess
    expect(sniffMime(head)).toBe('audio/ogg');
  });

  it.each([
    ['FFF1', [0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc]],
    ['FFF9', [0xff, 0xf9, 0x50, 0x80, 0x02, 0x1f, 0xfc]],
  ])('recognises AAC ADTS with sync %s', (_name, head) => {
    expect(sniffMime(bytes(head))).toBe('audio/aac');
  });

  it('recognises AMR by "#!AMR\\n"', () => {
    expect(sniffMime(bytes('#!AMR\n', [0x3c, 0x48, 0xf5]))).toBe('audio/amr');
  });

  it('does not take AMR-WB for AMR', () => {
    expect(sniffMime(bytes('#!AMR-WB\n', [0x04]))).toBe('audio/amr-wb');
  });

  it('recognises MP3 by an ID3v2 tag', () => {
    const head = bytes('ID3', [3, 0, 0], [0, 0, 0, 10], zeros(10), [0xff, 0xfb, 0x90, 0x64]);
    expect(sniffMime(head)).toBe('audio/mpeg');
  });

  it('recognises AAC behind an ID3v2 tag when the tag ends inside the head', () => {
    const head = bytes('ID3', [4, 0, 0], [0, 0, 0, 4], zeros(4), [0xff, 0xf1, 0x50, 0x80]);
    expect(sniffMime(head)).toBe('audio/aac');
  });

  it('recognises MP3 by an MPEG-1 layer III frame sync (FFFB)', () => {
    expect(sniffMime(bytes([0xff, 0xfb, 0x90, 0x64], zeros(8)))).toBe('audio/mpeg');
  });

  it('recognises an MPEG-2 layer III frame sync (FFF3) as MP3, not ADTS', () => {
    expect(sniffMime(bytes([0xff, 0xf3, 0x64, 0xc4], zeros(8)))).toBe('audio/mpeg');
  });

  it('does not take a frame header with a reserved bitrate for MP3', () => {
    expect(sniffMime(bytes([0xff, 0xfb, 0xf0, 0x64]))).toBeUndefined();
  });
});

describe('sniffMime: documents', () => {
  it('recognises PDF by "%PDF-"', () => {
    expect(sniffMime(bytes('%PDF-1.7\n%', [0xe2, 0xe3, 0xcf, 0xd3]))).toBe('application/pdf');
  });

  it.each([
    ['word/document.xml', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
    ['xl/workbook.xml', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
    ['ppt/presentation.xml', 'application/vnd.openxmlformats-officedocument.presentationml.presentation'],
  ])('recognises an OOXML package with part %s', (part, mime) => {
    // Prepare
    const head = bytes(zipEntry('[Content_Types].xml', '<Types/>'), zipEntry('_rels/.rels', '<R/>'), zipEntry(part, '<x/>'));
    // Act / Assess
    expect(sniffMime(head)).toBe(mime);
  });

  it('returns the OOXML family when the package marker is seen but no part', () => {
    expect(sniffMime(zipEntry('[Content_Types].xml', '<Types/>'))).toBe(OOXML_FAMILY);
  });

  it('returns application/zip for a ZIP without OOXML entries', () => {
    expect(sniffMime(bytes(zipEntry('photos/a.txt', 'hello'), zipEntry('b.txt', 'x')))).toBe('application/zip');
  });

  it('ignores ZIP entries beyond the first 4 KiB', () => {
    // Prepare: the word/ part starts after SNIFF_BYTES.
    const filler = 'x'.repeat(SNIFF_BYTES);
    const head = bytes(zipEntry('docProps/thumb.bin', filler), zipEntry('word/document.xml', '<x/>'));
    // Act / Assess
    expect(sniffMime(head)).toBe('application/zip');
  });

  it('returns the legacy Office family for a CFB (OLE2) container', () => {
    const head = bytes([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1], zeros(16), u16le(0x3e), u16le(3));
    expect(sniffMime(head)).toBe(LEGACY_OFFICE_FAMILY);
  });
});

describe('sniffMime: text/plain', () => {
  it('recognises ASCII text', () => {
    expect(sniffMime(new TextEncoder().encode('order,qty\n42,3\n'))).toBe('text/plain');
  });

  it('recognises multi-byte UTF-8 text', () => {
    expect(sniffMime(new TextEncoder().encode('Olá, 世界 👋'))).toBe('text/plain');
  });

  it('accepts a multi-byte character cut by the end of the head', () => {
    // Prepare: "€" is E2 82 AC; keep only its first two bytes.
    const head = bytes(new TextEncoder().encode('price: '), [0xe2, 0x82]);
    // Act / Assess
    expect(sniffMime(head)).toBe('text/plain');
  });

  it('refuses text containing a NUL byte', () => {
    expect(sniffMime(bytes('abc', [0], 'def'))).toBeUndefined();
  });

  it('refuses bytes that are not valid UTF-8', () => {
    expect(sniffMime(bytes('abc', [0xc3, 0x28], 'def'))).toBeUndefined();
  });

  it('returns undefined for an empty head', () => {
    expect(sniffMime(new Uint8Array(0))).toBeUndefined();
  });

  it('looks only at the first 4 KiB', () => {
    // Prepare: text for SNIFF_BYTES bytes, then a NUL that would make it binary.
    const head = bytes('a'.repeat(SNIFF_BYTES), [0], 'b');
    // Act / Assess
    expect(sniffMime(head)).toBe('text/plain');
    expect(sniffMime(head.subarray(0, SNIFF_BYTES + 1))).toBe('text/plain');
    expect(sniffMime(bytes('a'.repeat(SNIFF_BYTES - 1), [0]))).toBeUndefined();
  });

  it('prefers a signature over text when the signature is ASCII', () => {
    expect(sniffMime(bytes('%PDF-1.4\nplain ascii after'))).toBe('application/pdf');
    expect(sniffMime(bytes('#!AMR\nabc'))).toBe('audio/amr');
  });
});

describe('sniffMime: robustness', () => {
  it('never throws on arbitrary bytes and answers a string or undefined', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (head) => {
        const found = sniffMime(head);
        expect(found === undefined || typeof found === 'string').toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on a known signature followed by arbitrary bytes', () => {
    const prefixes = [
      bytes('RIFF', u32le(0xffffffff), 'WEBP', 'VP8X'),
      bytes('RIFF', u32le(20), 'WEBP'),
      bytes(u32be(0xffffffff), 'ftyp'),
      bytes('OggS', [0]),
      bytes('PK', [3, 4]),
      bytes('ID3', [3, 0, 0]),
      bytes([0xff, 0xf1]),
      bytes([0xff, 0xfb]),
      bytes([0x1a, 0x45, 0xdf, 0xa3]),
    ];
    fc.assert(
      fc.property(fc.constantFrom(...prefixes), fc.uint8Array({ maxLength: 300 }), (prefix, tail) => {
        const found = sniffMedia(bytes(prefix, tail));
        expect(found === undefined || typeof found.mime === 'string').toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
