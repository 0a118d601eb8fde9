import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkOutboundMedia,
  extensionFor,
  INBOUND_MEDIA_ID_TTL_MS,
  inboundMediaKey,
  kindOfMime,
  maxBytes,
  MEDIA_KINDS,
  type MediaKind,
  outboundUploadKey,
  storedObjectKey,
  UPLOADED_MEDIA_ID_TTL_MS,
} from '../../shared/domain/media.ts';
import { LEGACY_OFFICE_FAMILY, OOXML_FAMILY, sniffMedia } from '../../shared/domain/sniff.ts';
import { bytes, oggFirstPage, u32le, zeros } from '../support/bytes.ts';

const PNG = bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], [0, 0, 0, 13], 'IHDR');
const JPEG = bytes([0xff, 0xd8, 0xff, 0xe0, 0, 0x10], 'JFIF', [0]);
const PDF = bytes('%PDF-1.7\n');
const MP4 = bytes([0, 0, 0, 24], 'ftyp', 'isom', zeros(4), 'isom', 'mp42');
const ZIP = bytes('PK', [3, 4], zeros(22), [5, 0, 0, 0], 'a.exe');
const CFB = bytes([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1], zeros(24));
const OGG_OPUS = oggFirstPage(bytes('OpusHead', [1, 1, 0x38, 1], u32le(48000), [0, 0, 0]));
const OGG_VORBIS = oggFirstPage(bytes([1], 'vorbis', u32le(0), [2], u32le(44100), zeros(12), [0xb8, 1]));
const webp = (vp8xFlags: number): Uint8Array =>
  bytes('RIFF', u32le(30), 'WEBP', 'VP8X', u32le(10), [vp8xFlags], zeros(9));

describe('media table', () => {
  it.each([
    ['image/jpeg', 'image'],
    ['image/png', 'image'],
    ['video/mp4', 'video'],
    ['video/3gpp', 'video'],
    ['video/3gp', 'video'],
    ['audio/aac', 'audio'],
    ['audio/amr', 'audio'],
    ['audio/mpeg', 'audio'],
    ['audio/mp4', 'audio'],
    ['audio/ogg; codecs=opus', 'audio'],
    ['text/plain', 'document'],
    ['application/vnd.ms-excel', 'document'],
    ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'document'],
    ['application/msword', 'document'],
    ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'document'],
    ['application/vnd.ms-powerpoint', 'document'],
    ['application/vnd.openxmlformats-officedocument.presentationml.presentation', 'document'],
    ['application/pdf', 'document'],
    ['image/webp', 'sticker'],
  ])('puts %s under %s', (mime, kind) => {
    expect(kindOfMime(mime)).toBe(kind);
  });

  it.each(['image/gif', 'video/quicktime', 'audio/wav', 'audio/ogg; codecs=vorbis', 'application/zip', 'text/csv', ''])(
    'accepts no kind for %j',
    (mime) => {
      expect(kindOfMime(mime)).toBeUndefined();
    },
  );

  it('ignores case, spacing, quoting and unrelated parameters', () => {
    expect(kindOfMime('AUDIO/OGG;codecs="Opus"')).toBe('audio');
    expect(kindOfMime(' text/plain ; charset=utf-8')).toBe('document');
    expect(kindOfMime('Video/MP4; codecs="avc1.42E01E, mp4a.40.2"')).toBe('video');
  });

  it('reads sizes in binary units', () => {
    expect(maxBytes('image')).toBe(5 * 1024 * 1024);
    expect(maxBytes('video')).toBe(16 * 1024 * 1024);
    expect(maxBytes('audio')).toBe(16 * 1024 * 1024);
    expect(maxBytes('document')).toBe(100 * 1024 * 1024);
    expect(maxBytes('sticker')).toBe(100 * 1024);
    expect(maxBytes('sticker', { animated: true })).toBe(500 * 1024);
    expect(maxBytes('image', { animated: true })).toBe(5 * 1024 * 1024);
  });

  it.each([
    ['image/jpeg', 'jpeg'],
    ['image/png', 'png'],
    ['video/3gp', '3gp'],
    ['audio/ogg; codecs=opus', 'ogg'],
    ['audio/ogg', 'ogg'],
    ['audio/mp4', 'm4a'],
    ['audio/mpeg', 'mp3'],
    ['text/plain; charset=utf-8', 'txt'],
    ['application/vnd.openxmlformats-officedocument.presentationml.presentation', 'pptx'],
    ['image/webp', 'webp'],
  ])('gives %s the extension %s', (mime, ext) => {
    expect(extensionFor(mime)).toBe(ext);
  });

  it('gives no extension for a type WhatsApp does not accept', () => {
    expect(extensionFor('application/zip')).toBeUndefined();
  });

  it('keeps inbound media ids 7 days and uploaded ones 30 days', () => {
    expect(INBOUND_MEDIA_ID_TTL_MS).toBe(604_800_000);
    expect(UPLOADED_MEDIA_ID_TTL_MS).toBe(2_592_000_000);
  });
});

describe('checkOutboundMedia: types', () => {
  it('accepts a PNG declared as image/png', () => {
    // Prepare
    const sniffed = sniffMedia(PNG);
    // Act
    const result = checkOutboundMedia({ declaredContentType: 'image/png', sniffed, size: 2048 });
    // Assess
    expect(result).toEqual({
      ok: true,
      kind: 'image',
      mime: 'image/png',
      contentType: 'image/png',
      extension: 'png',
      maxBytes: 5 * 1024 * 1024,
    });
  });

  it('refuses a PNG declared as application/pdf as a type mismatch', () => {
    const result = checkOutboundMedia({ declaredContentType: 'application/pdf', sniffed: sniffMedia(PNG), size: 2048 });
    expect(result).toMatchObject({ ok: false, reason: 'type_mismatch' });
    expect(result.ok === false && result.message).toContain('image/png');
  });

  it.each([
    ['a ZIP archive', ZIP, 'image/jpeg'],
    ['an HTML page', new TextEncoder().encode('<html><script>alert(1)</script></html>'), 'image/png'],
    ['a PDF', PDF, 'video/mp4'],
    ['a JPEG', JPEG, 'image/png'],
  ])('refuses %s behind a spoofed Content-Type %s', (_what, head, declared) => {
    const result = checkOutboundMedia({ declaredContentType: declared, sniffed: sniffMedia(head), size: head.length });
    expect(result).toMatchObject({ ok: false, reason: 'type_mismatch' });
  });

  it('refuses content that cannot be recognised as the declared type', () => {
    const result = checkOutboundMedia({ declaredContentType: 'audio/mpeg', sniffed: undefined, size: 10 });
    expect(result).toMatchObject({ ok: false, reason: 'type_mismatch' });
  });

  it('refuses a declared type WhatsApp does not accept', () => {
    const result = checkOutboundMedia({ declaredContentType: 'image/gif', sniffed: 'image/gif', size: 10 });
    expect(result).toMatchObject({ ok: false, reason: 'unsupported_type' });
  });

  it('refuses WebP sent as an image (WebP is only for stickers)', () => {
    const result = checkOutboundMedia({
      declaredContentType: 'image/webp',
      sniffed: sniffMedia(webp(0)),
      size: 100,
      kind: 'image',
    });
    expect(result).toMatchObject({ ok: false, reason: 'unsupported_type' });
  });

  it('refuses plain OGG Vorbis for audio', () => {
    // Prepare
    const sniffed = sniffMedia(OGG_VORBIS);
    // Act
    const result = checkOutboundMedia({ declaredContentType: 'audio/ogg', sniffed, size: 4000 });
    // Assess
    expect(sniffed?.mime).toBe('audio/ogg');
    expect(result).toMatchObject({ ok: false, reason: 'unsupported_type' });
  });

  it('refuses OGG Vorbis even when declared as Opus', () => {
    const result = checkOutboundMedia({
      declaredContentType: 'audio/ogg; codecs=opus',
      sniffed: sniffMedia(OGG_VORBIS),
      size: 4000,
    });
    expect(result).toMatchObject({ ok: false, reason: 'unsupported_type' });
  });

  it('refuses a declaration naming an OGG codec other than Opus', () => {
    const result = checkOutboundMedia({ declaredContentType: 'audio/ogg; codecs=vorbis', sniffed: sniffMedia(OGG_VORBIS), size: 4000 });
    expect(result).toMatchObject({ ok: false, reason: 'unsupported_type' });
  });

  it('accepts OGG Opus declared as bare audio/ogg, registered as audio/ogg', () => {
    const result = checkOutboundMedia({ declaredContentType: 'audio/ogg', sniffed: sniffMedia(OGG_OPUS), size: 4000 });
    expect(result).toMatchObject({
      ok: true,
      kind: 'audio',
      mime: 'audio/ogg; codecs=opus',
      contentType: 'audio/ogg',
      extension: 'ogg',
    });
  });

  it('accepts video/3gp as an alias of video/3gpp', () => {
    const head = bytes([0, 0, 0, 20], 'ftyp', '3gp5', zeros(4), 'isom');
    const result = checkOutboundMedia({ declaredContentType: 'video/3gp', sniffed: sniffMedia(head), size: 4000 });
    expect(result).toMatchObject({ ok: true, kind: 'video', contentType: 'video/3gpp', extension: '3gp' });
  });

  it('accepts audio/mp4 whose file carries a generic MP4 brand', () => {
    const result = checkOutboundMedia({ declaredContentType: 'audio/mp4', sniffed: sniffMedia(MP4), size: 4000 });
    expect(result).toMatchObject({ ok: true, kind: 'audio', contentType: 'audio/mp4' });
  });

  it('refuses an M4A file declared as video/mp4', () => {
    const head = bytes([0, 0, 0, 16], 'ftyp', 'M4A ', zeros(4));
    const result = checkOutboundMedia({ declaredContentType: 'video/mp4', sniffed: sniffMedia(head), size: 4000 });
    expect(result).toMatchObject({ ok: false, reason: 'type_mismatch' });
  });

  it.each(['application/msword', 'application/vnd.ms-excel', 'application/vnd.ms-powerpoint'])(
    'accepts a legacy Office container declared as %s',
    (declared) => {
      const result = checkOutboundMedia({ declaredContentType: declared, sniffed: sniffMedia(CFB), size: 4000 });
      expect(sniffMedia(CFB)?.mime).toBe(LEGACY_OFFICE_FAMILY);
      expect(result).toMatchObject({ ok: true, kind: 'document', contentType: declared });
    },
  );

  it('refuses a legacy Office container declared as a PDF or as OOXML', () => {
    for (const declared of ['application/pdf', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document']) {
      const result = checkOutboundMedia({ declaredContentType: declared, sniffed: sniffMedia(CFB), size: 4000 });
      expect(result).toMatchObject({ ok: false, reason: 'type_mismatch' });
    }
  });

  it('accepts any OOXML type for an OOXML package whose part was not seen, but not a legacy type', () => {
    const xlsx = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
    expect(checkOutboundMedia({ declaredContentType: xlsx, sniffed: OOXML_FAMILY, size: 10 })).toMatchObject({ ok: true });
    expect(
      checkOutboundMedia({ declaredContentType: 'application/vnd.ms-excel', sniffed: OOXML_FAMILY, size: 10 }),
    ).toMatchObject({ ok: false, reason: 'type_mismatch' });
  });

  it('refuses a plain ZIP declared as a Word document', () => {
    const result = checkOutboundMedia({
      declaredContentType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      sniffed: 'application/zip',
      size: 10,
    });
    expect(result).toMatchObject({ ok: false, reason: 'type_mismatch' });
  });

  it('accepts UTF-8 text declared as text/plain with a charset', () => {
    const head = new TextEncoder().encode('name,total\nA,1\n');
    const result = checkOutboundMedia({ declaredContentType: 'text/plain; charset=utf-8', sniffed: sniffMedia(head), size: head.length });
    expect(result).toMatchObject({ ok: true, kind: 'document', contentType: 'text/plain', extension: 'txt' });
  });
});

describe('checkOutboundMedia: sizes', () => {
  const samples: readonly (readonly [MediaKind, string, Uint8Array])[] = [
    ['image', 'image/jpeg', JPEG],
    ['video', 'video/mp4', MP4],
    ['audio', 'audio/ogg', OGG_OPUS],
    ['document', 'application/pdf', PDF],
    ['sticker', 'image/webp', webp(0)],
  ];

  it.each(samples)('accepts %s exactly at its limit and refuses one byte more', (kind, declared, head) => {
    // Prepare
    const sniffed = sniffMedia(head);
    const limit = maxBytes(kind);
    // Act
    const atLimit = checkOutboundMedia({ declaredContentType: declared, sniffed, size: limit });
    const over = checkOutboundMedia({ declaredContentType: declared, sniffed, size: limit + 1 });
    // Assess
    expect(atLimit).toMatchObject({ ok: true, kind, maxBytes: limit });
    expect(over).toMatchObject({ ok: false, reason: 'too_large' });
  });

  it('allows an animated sticker 500 KB and refuses one byte more', () => {
    const sniffed = sniffMedia(webp(0x02));
    expect(sniffed?.animated).toBe(true);
    expect(checkOutboundMedia({ declaredContentType: 'image/webp', sniffed, size: 500 * 1024 })).toMatchObject({
      ok: true,
      kind: 'sticker',
      animated: true,
    });
    expect(checkOutboundMedia({ declaredContentType: 'image/webp', sniffed, size: 500 * 1024 + 1 })).toMatchObject({
      ok: false,
      reason: 'too_large',
    });
  });

  it('holds a static sticker to 100 KB', () => {
    const result = checkOutboundMedia({ declaredContentType: 'image/webp', sniffed: sniffMedia(webp(0)), size: 100 * 1024 + 1 });
    expect(result).toMatchObject({ ok: false, reason: 'too_large' });
    expect(result.ok === false && result.message).toContain('100 KB');
  });

  it('refuses an empty file before anything else', () => {
    const result = checkOutboundMedia({ declaredContentType: 'image/gif', sniffed: undefined, size: 0 });
    expect(result).toMatchObject({ ok: false, reason: 'empty_file' });
  });

  it('throws on a size that is not a non-negative integer', () => {
    expect(() => checkOutboundMedia({ declaredContentType: 'image/png', sniffed: 'image/png', size: -1 })).toThrow(RangeError);
    expect(() => checkOutboundMedia({ declaredContentType: 'image/png', sniffed: 'image/png', size: 1.5 })).toThrow(RangeError);
  });

  it('never accepts a file larger than its kind allows', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.boolean(),
        fc.integer({ min: 1, max: 200 * 1024 * 1024 }),
        ([, declared, head], animated, size) => {
          const base = sniffMedia(head);
          const sniffed = base && base.mime === 'image/webp' ? { ...base, animated } : base;
          const result = checkOutboundMedia({ declaredContentType: declared, sniffed, size });
          if (result.ok) expect(size).toBeLessThanOrEqual(maxBytes(result.kind, { animated: result.animated === true }));
          else expect(result.reason).toBe('too_large');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('has a limit for every kind', () => {
    for (const kind of MEDIA_KINDS) expect(maxBytes(kind)).toBeGreaterThan(0);
  });
});

describe('object keys', () => {
  const base = {
    phoneNumberId: 'phone-number-id-0123456789abcdef0123456789abcdef',
    contactId: '16505551234',
    messageId: 'msg_0123456789abcdef0123456789abcdef',
  };

  it('builds the inbound prefix from number, UTC date and message id, ending in a slash', () => {
    const key = inboundMediaKey({ ...base, timestampMs: Date.UTC(2026, 0, 5, 23, 59, 59) });
    expect(key).toBe(`inbound/${base.phoneNumberId}/2026/01/05/${base.messageId}/`);
  });

  it('keeps numbers and dates apart in separate segments', () => {
    // Prepare: a number id ending in digits, and a date whose digits could run on from it.
    const phoneNumberId = 'phone-number-id-20261';
    // Act
    const key = inboundMediaKey({ ...base, phoneNumberId, timestampMs: Date.UTC(2026, 10, 2) });
    // Assess
    expect(key.split('/')).toEqual(['inbound', phoneNumberId, '2026', '11', '02', base.messageId, '']);
  });

  it('uses the UTC day, not the local one', () => {
    const key = inboundMediaKey({ ...base, timestampMs: Date.UTC(2025, 11, 31, 23, 30) });
    expect(key).toContain('/2025/12/31/');
  });

  it('does not write the contact (a phone number) into the key', () => {
    const key = inboundMediaKey({ ...base, timestampMs: Date.UTC(2026, 0, 1) });
    expect(key).not.toContain(base.contactId);
  });

  it.each(['', 'a/b', '../x', 'x..y', 'bad id'])('refuses the unsafe id %j', (messageId) => {
    expect(() => inboundMediaKey({ ...base, messageId, timestampMs: 0 })).toThrow(RangeError);
  });

  it('refuses a timestamp that is not a date', () => {
    expect(() => inboundMediaKey({ ...base, timestampMs: Number.NaN })).toThrow(RangeError);
  });

  it('appends <mediaId>.<ext> to a prefix ending in a slash', () => {
    expect(storedObjectKey('audio/', '123', 'audio/ogg; codecs=opus')).toBe('audio/123.ogg');
  });

  it('concatenates blindly onto a prefix that does not end in a slash', () => {
    expect(storedObjectKey('audio/example.ogg', '123', 'audio/ogg; codecs=opus')).toBe('audio/example.ogg123.ogg');
  });

  it('combines with the inbound prefix', () => {
    const prefix = inboundMediaKey({ ...base, timestampMs: Date.UTC(2026, 2, 9) });
    expect(storedObjectKey(prefix, '1003383421387256', 'image/jpeg')).toBe(`${prefix}1003383421387256.jpeg`);
  });

  it('gives no stored key when the extension is unknown', () => {
    expect(storedObjectKey('inbound/x/', '123', 'application/zip')).toBeUndefined();
  });

  it('refuses a media id that is not letters and digits', () => {
    expect(() => storedObjectKey('audio/', '../123', 'audio/aac')).toThrow(RangeError);
  });

  it('builds the outbound upload key', () => {
    expect(outboundUploadKey(base.phoneNumberId, 'upl_abc123')).toBe(`outbound/${base.phoneNumberId}/upl_abc123`);
    expect(() => outboundUploadKey(base.phoneNumberId, 'a/b')).toThrow(RangeError);
  });
});
