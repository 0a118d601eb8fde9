/**
 * WhatsApp's media rules as the sandbox applies them to uploads (PostWhatsAppMessageMedia):
 * supported MIME types, the size limit of each kind, the file extension AWS uses when it writes a
 * media file to S3, and a check that the bytes really are of the declared type.
 */

export type MediaCategory = 'audio' | 'document' | 'image' | 'sticker' | 'video';

export interface MediaTypeRule {
  category: MediaCategory;
  extension: string;
  /** Largest accepted file, in bytes. */
  maxBytes: number;
  /** Whether `bytes` look like a file of this type. */
  matches(bytes: Uint8Array): boolean;
}

const KB = 1024;
const MB = 1024 * 1024;

const startsWith = (bytes: Uint8Array, sig: readonly number[], at = 0) =>
  bytes.length >= at + sig.length && sig.every((b, i) => bytes[at + i] === b);
const text = (s: string) => [...s].map((c) => c.charCodeAt(0));
const includesAscii = (bytes: Uint8Array, s: string, limit: number) =>
  Buffer.from(bytes.subarray(0, limit)).includes(s, 0, 'latin1');

/** ISO-BMFF: `ftyp` box at offset 4; `brands` filters the major brand prefix when given. */
const isoBmff = (brands?: readonly string[]) => (b: Uint8Array) => {
  if (!startsWith(b, text('ftyp'), 4)) return false;
  if (!brands) return true;
  const major = Buffer.from(b.subarray(8, 12)).toString('latin1');
  return brands.some((p) => major.startsWith(p));
};
const isJpeg = (b: Uint8Array) => startsWith(b, [0xff, 0xd8, 0xff]);
const isPng = (b: Uint8Array) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const isWebp = (b: Uint8Array) => startsWith(b, text('RIFF')) && startsWith(b, text('WEBP'), 8);
const isOggOpus = (b: Uint8Array) => startsWith(b, text('OggS')) && includesAscii(b, 'OpusHead', 128);
const isMp3 = (b: Uint8Array) => startsWith(b, text('ID3')) || (b.length > 1 && b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0);
const isAdtsAac = (b: Uint8Array) => b.length > 1 && b[0] === 0xff && ((b[1] ?? 0) & 0xf6) === 0xf0;
const isAmr = (b: Uint8Array) => startsWith(b, text('#!AMR'));
const isPdf = (b: Uint8Array) => startsWith(b, text('%PDF-'));
const isOle2 = (b: Uint8Array) => startsWith(b, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
const isZip = (b: Uint8Array) => startsWith(b, [0x50, 0x4b, 0x03, 0x04]);
/** Plain text: valid UTF-8 without NUL bytes. */
const isText = (b: Uint8Array) => {
  if (b.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
};

/** Supported MIME types (Meta's media reference and AWS's supported-media-types page). */
export const MEDIA_TYPES: Readonly<Record<string, MediaTypeRule>> = {
  'audio/aac': { category: 'audio', extension: 'aac', maxBytes: 16 * MB, matches: isAdtsAac },
  'audio/amr': { category: 'audio', extension: 'amr', maxBytes: 16 * MB, matches: isAmr },
  'audio/mpeg': { category: 'audio', extension: 'mp3', maxBytes: 16 * MB, matches: isMp3 },
  'audio/mp4': { category: 'audio', extension: 'm4a', maxBytes: 16 * MB, matches: isoBmff() },
  // Meta accepts OGG only with the Opus codec.
  'audio/ogg': { category: 'audio', extension: 'ogg', maxBytes: 16 * MB, matches: isOggOpus },
  'text/plain': { category: 'document', extension: 'txt', maxBytes: 100 * MB, matches: isText },
  'application/pdf': { category: 'document', extension: 'pdf', maxBytes: 100 * MB, matches: isPdf },
  'application/msword': { category: 'document', extension: 'doc', maxBytes: 100 * MB, matches: isOle2 },
  'application/vnd.ms-excel': { category: 'document', extension: 'xls', maxBytes: 100 * MB, matches: isOle2 },
  'application/vnd.ms-powerpoint': { category: 'document', extension: 'ppt', maxBytes: 100 * MB, matches: isOle2 },
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': {
    category: 'document',
    extension: 'docx',
    maxBytes: 100 * MB,
    matches: isZip,
  },
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': {
    category: 'document',
    extension: 'xlsx',
    maxBytes: 100 * MB,
    matches: isZip,
  },
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': {
    category: 'document',
    extension: 'pptx',
    maxBytes: 100 * MB,
    matches: isZip,
  },
  'image/jpeg': { category: 'image', extension: 'jpg', maxBytes: 5 * MB, matches: isJpeg },
  'image/png': { category: 'image', extension: 'png', maxBytes: 5 * MB, matches: isPng },
  // Static stickers up to 100 KB, animated ones up to 500 KB: see `maxBytesFor`.
  'image/webp': { category: 'sticker', extension: 'webp', maxBytes: 500 * KB, matches: isWebp },
  'video/mp4': { category: 'video', extension: 'mp4', maxBytes: 16 * MB, matches: isoBmff() },
  'video/3gpp': { category: 'video', extension: '3gp', maxBytes: 16 * MB, matches: isoBmff(['3gp', '3g2']) },
};

/** `audio/ogg; codecs=opus` → `audio/ogg`. */
export function baseMimeType(mimeType: string): string {
  return (mimeType.split(';')[0] ?? '').trim().toLowerCase();
}

/** The size limit of a file of `mimeType`: a static WebP sticker is limited to 100 KB. */
export function maxBytesFor(mimeType: string, bytes?: Uint8Array): number | undefined {
  const rule = MEDIA_TYPES[baseMimeType(mimeType)];
  if (!rule) return undefined;
  if (rule.category === 'sticker' && bytes && !includesAscii(bytes, 'ANIM', 64)) return 100 * KB;
  return rule.maxBytes;
}

/** The extension of a media file of `mimeType` as written to S3 (`bin` when unknown). */
export function extensionFor(mimeType: string): string {
  return MEDIA_TYPES[baseMimeType(mimeType)]?.extension ?? 'bin';
}

/**
 * Why WhatsApp would refuse this upload (its error 131053), or `undefined` when it is fine.
 * `size` is given separately so an oversize object can be refused before it is read.
 */
export function uploadProblem(mimeType: string | undefined, size: number, bytes?: Uint8Array): string | undefined {
  if (!mimeType) return 'the file has no content type';
  const base = baseMimeType(mimeType);
  const rule = MEDIA_TYPES[base];
  if (!rule) return `content type ${base} is not supported`;
  if (size === 0) return 'the file is empty';
  const max = maxBytesFor(base, bytes) ?? rule.maxBytes;
  if (size > max) return `the file is ${size} bytes; ${base} allows at most ${max}`;
  if (bytes && !rule.matches(bytes)) return `the file content does not match its content type ${base}`;
  return undefined;
}
