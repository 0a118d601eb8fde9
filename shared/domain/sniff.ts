/**
 * Content sniffing: the real type of a file from its leading bytes, so that a declared
 * Content-Type can be checked against what the file is (see `checkOutboundMedia` in media.ts).
 *
 * Only the first `SNIFF_BYTES` (4 KiB) are read. What each type needs from the head:
 * - JPEG 3 bytes, PNG 8, GIF 6, PDF 5, AMR 6 (AMR-WB 9), CFB 8, EBML 4 (+ up to 64 to find "webm").
 * - MP3 frame / AAC ADTS: 3 bytes. ID3-tagged audio: 10 bytes, plus the tag length to look at the
 *   first frame behind it when the tag ends inside the head (else MP3 is assumed).
 * - RIFF/WebP: 16 bytes for the type; 21 bytes (VP8X flags) to know whether it is animated, and the
 *   chunk list within the head is scanned for ANIM/ANMF too. A simple WebP (VP8/VP8L first) is
 *   never animated.
 * - ISO-BMFF (MP4, M4A, 3GP): the `ftyp` box, 12 bytes for the major brand plus its compatible
 *   brands (usually under 40 bytes in total).
 * - OGG: the first page header (27 bytes + segment table, at most 282) and the 8 bytes of the first
 *   packet, which RFC 7845 puts alone on the first page (`OpusHead` for Opus).
 * - ZIP/OOXML: local file headers found within the head. `[Content_Types].xml` and the first part
 *   under `word/`, `xl/` or `ppt/` are normally the first two or three entries, well inside 4 KiB;
 *   when the package marker is seen but no part, `OOXML_FAMILY` is returned.
 * - text/plain: the whole head must be valid UTF-8 (a multi-byte sequence cut at the end of the
 *   head is allowed) with no NUL byte, and no signature above may match.
 */

/** How many leading bytes are looked at. Reading more than this from the store gains nothing. */
export const SNIFF_BYTES = 4096;

/**
 * Marker for a Compound File Binary (OLE2) container: legacy .doc, .xls and .ppt all start with
 * the same 8 bytes, and the stream names that tell them apart ("WordDocument", "Workbook",
 * "PowerPoint Document") live in the directory sectors, whose position is given by the header
 * and which writers usually put after the streams, far beyond the head. So the head yields only
 * the family; a declared application/msword, vnd.ms-excel or vnd.ms-powerpoint is accepted for it.
 */
export const LEGACY_OFFICE_FAMILY = 'application/x-cfb';

/**
 * Marker for a ZIP that carries `[Content_Types].xml` (an Open Packaging Conventions package) but
 * whose `word/`, `xl/` or `ppt/` part was not seen within the head; any of the three OOXML types
 * is accepted for it.
 */
export const OOXML_FAMILY = 'application/x-ooxml';

export interface SniffResult {
  /** The detected MIME type, or one of the family markers above. */
  mime: string;
  /** WebP only: whether the image is animated, when the head tells. */
  animated?: boolean;
}

/** The detected MIME type of a file from its leading bytes, or `undefined` if unknown. */
export function sniffMime(head: Uint8Array): string | undefined {
  return sniffMedia(head)?.mime;
}

/** Like `sniffMime`, plus whether a WebP is animated. Never throws. */
export function sniffMedia(head: Uint8Array): SniffResult | undefined {
  const b = head.length > SNIFF_BYTES ? head.subarray(0, SNIFF_BYTES) : head;
  if (b.length === 0) return undefined;
  for (const detect of DETECTORS) {
    const found = detect(b);
    if (found) return found;
  }
  return undefined;
}

type Detector = (b: Uint8Array) => SniffResult | undefined;

// Order matters only where signatures could overlap: binary signatures first, MPEG frame sync
// after ADTS (both start with 0xFF), text last ("no other signature").
const DETECTORS: readonly Detector[] = [
  (b) => (bytesAt(b, 0, [0xff, 0xd8, 0xff]) ? { mime: 'image/jpeg' } : undefined),
  (b) => (bytesAt(b, 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) ? { mime: 'image/png' } : undefined),
  (b) => (asciiAt(b, 0, 'GIF87a') || asciiAt(b, 0, 'GIF89a') ? { mime: 'image/gif' } : undefined),
  riff,
  isoBmff,
  ogg,
  (b) => (asciiAt(b, 0, '%PDF-') ? { mime: 'application/pdf' } : undefined),
  zip,
  (b) =>
    bytesAt(b, 0, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]) ? { mime: LEGACY_OFFICE_FAMILY } : undefined,
  (b) =>
    asciiAt(b, 0, '#!AMR\n') ? { mime: 'audio/amr' } : asciiAt(b, 0, '#!AMR-WB\n') ? { mime: 'audio/amr-wb' } : undefined,
  ebml,
  id3,
  (b) => (isAdts(b) ? { mime: 'audio/aac' } : undefined),
  (b) => (isMpegFrame(b) ? { mime: 'audio/mpeg' } : undefined),
  text,
];

function bytesAt(b: Uint8Array, at: number, sig: readonly number[]): boolean {
  if (at + sig.length > b.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

function asciiAt(b: Uint8Array, at: number, s: string): boolean {
  if (at + s.length > b.length) return false;
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
  return true;
}

function ascii(b: Uint8Array, at: number, len: number): string {
  let s = '';
  for (let i = at; i < at + len && i < b.length; i++) s += String.fromCharCode(b[i] ?? 0);
  return s;
}

function u16le(b: Uint8Array, at: number): number {
  return (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8);
}

function u32le(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) | ((b[at + 1] ?? 0) << 8) | ((b[at + 2] ?? 0) << 16) | ((b[at + 3] ?? 0) << 24)) >>> 0;
}

function u32be(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;
}

function indexOf(b: Uint8Array, sig: readonly number[], from: number): number {
  outer: for (let i = from; i + sig.length <= b.length; i++) {
    for (let j = 0; j < sig.length; j++) if (b[i + j] !== sig[j]) continue outer;
    return i;
  }
  return -1;
}

/** RIFF containers: WebP (with animation), WAV, AVI. */
function riff(b: Uint8Array): SniffResult | undefined {
  if (!asciiAt(b, 0, 'RIFF') || b.length < 12) return undefined;
  const form = ascii(b, 8, 4);
  if (form === 'WAVE') return { mime: 'audio/wav' };
  if (form === 'AVI ') return { mime: 'video/x-msvideo' };
  if (form !== 'WEBP') return undefined;
  const first = ascii(b, 12, 4);
  if (first === 'VP8 ' || first === 'VP8L') return { mime: 'image/webp', animated: false };
  if (first !== 'VP8X') return { mime: 'image/webp' };
  let animated: boolean | undefined = b.length > 20 ? ((b[20] ?? 0) & 0x02) !== 0 : undefined;
  // Chunks: fourcc, little-endian size, data padded to an even length.
  for (let at = 12; at + 8 <= b.length; ) {
    const id = ascii(b, at, 4);
    if (id === 'ANIM' || id === 'ANMF') {
      animated = true;
      break;
    }
    const size = u32le(b, at + 4);
    at += 8 + size + (size % 2);
  }
  return animated === undefined ? { mime: 'image/webp' } : { mime: 'image/webp', animated };
}

/** Brands of the ISO-BMFF `ftyp` box and the type they stand for. */
const BRANDS: Readonly<Record<string, string>> = {
  isom: 'video/mp4',
  iso2: 'video/mp4',
  mp41: 'video/mp4',
  mp42: 'video/mp4',
  avc1: 'video/mp4',
  'M4V ': 'video/mp4',
  M4VH: 'video/mp4',
  M4VP: 'video/mp4',
  dash: 'video/mp4',
  'M4A ': 'audio/mp4',
  'M4B ': 'audio/mp4',
  'qt  ': 'video/quicktime',
  heic: 'image/heic',
  heix: 'image/heic',
  mif1: 'image/heic',
  avif: 'image/avif',
};

function brandMime(brand: string): string | undefined {
  if (brand.startsWith('3gp') || brand.startsWith('3g2')) return 'video/3gpp';
  return Object.hasOwn(BRANDS, brand) ? BRANDS[brand] : undefined;
}

/** MP4, M4A, 3GP (and QuickTime/HEIF, so that those are named rather than unknown). */
function isoBmff(b: Uint8Array): SniffResult | undefined {
  if (b.length < 12 || !asciiAt(b, 4, 'ftyp')) return undefined;
  const major = brandMime(ascii(b, 8, 4));
  if (major) return { mime: major };
  const end = Math.min(u32be(b, 0), b.length);
  for (let at = 16; at + 4 <= end; at += 4) {
    const compatible = brandMime(ascii(b, at, 4));
    if (compatible) return { mime: compatible };
  }
  return undefined;
}

/** OGG: the codec is named by the first packet, which sits alone on the first page. */
function ogg(b: Uint8Array): SniffResult | undefined {
  if (!asciiAt(b, 0, 'OggS') || b[4] !== 0) return undefined;
  const segments = b[26];
  if (segments === undefined) return { mime: 'audio/ogg' };
  const packet = 27 + segments;
  if (asciiAt(b, packet, 'OpusHead')) return { mime: 'audio/ogg; codecs=opus' };
  if (b[packet] === 0x80 && asciiAt(b, packet + 1, 'theora')) return { mime: 'video/ogg' };
  return { mime: 'audio/ogg' };
}

const ZIP_LOCAL_HEADER = [0x50, 0x4b, 0x03, 0x04];
const UTF8 = new TextDecoder('utf-8');

const OOXML_PARTS: readonly (readonly [string, string])[] = [
  ['word/', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
  ['xl/', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
  ['ppt/', 'application/vnd.openxmlformats-officedocument.presentationml.presentation'],
];

/**
 * ZIP: walks the local file headers present in the head. Headers are found by their signature
 * rather than by skipping compressed data, because entries written with a data descriptor (flag
 * bit 3) carry no size in their header.
 */
function zip(b: Uint8Array): SniffResult | undefined {
  if (!bytesAt(b, 0, ZIP_LOCAL_HEADER)) return undefined;
  let opc = false;
  for (let at = 0; at >= 0; at = indexOf(b, ZIP_LOCAL_HEADER, at + 4)) {
    const nameLength = u16le(b, at + 26);
    const nameStart = at + 30;
    if (nameLength === 0 || nameStart + nameLength > b.length) continue;
    const name = UTF8.decode(b.subarray(nameStart, nameStart + nameLength));
    if (name === '[Content_Types].xml') opc = true;
    for (const [prefix, mime] of OOXML_PARTS) if (name.startsWith(prefix)) return { mime };
  }
  return { mime: opc ? OOXML_FAMILY : 'application/zip' };
}

/** EBML (Matroska/WebM): named so that a WebM recording gets a precise refusal. */
function ebml(b: Uint8Array): SniffResult | undefined {
  if (!bytesAt(b, 0, [0x1a, 0x45, 0xdf, 0xa3])) return undefined;
  const docType = ascii(b, 4, 60);
  return { mime: docType.includes('webm') ? 'video/webm' : 'video/x-matroska' };
}

/** An ID3v2 tag: MP3 unless the frame right after the tag is ADTS (AAC). */
function id3(b: Uint8Array): SniffResult | undefined {
  if (!asciiAt(b, 0, 'ID3') || b.length < 10) return undefined;
  const version = b[3] ?? 0;
  if (version < 2 || version > 4 || b[4] === 0xff) return undefined;
  for (let i = 6; i < 10; i++) if ((b[i] ?? 0) >= 0x80) return undefined;
  const tagSize = ((b[6] ?? 0) << 21) | ((b[7] ?? 0) << 14) | ((b[8] ?? 0) << 7) | (b[9] ?? 0);
  const footer = ((b[5] ?? 0) & 0x10) !== 0 ? 10 : 0;
  const after = b.subarray(Math.min(10 + tagSize + footer, b.length));
  return { mime: isAdts(after) ? 'audio/aac' : 'audio/mpeg' };
}

/** AAC ADTS: 12-bit sync, layer 00, a valid sampling-frequency index. */
function isAdts(b: Uint8Array): boolean {
  if (b.length < 3 || b[0] !== 0xff) return false;
  const b1 = b[1] ?? 0;
  const b2 = b[2] ?? 0;
  return (b1 & 0xf6) === 0xf0 && ((b2 >> 2) & 0x0f) < 13;
}

/** An MPEG audio frame header (layer I–III): 11-bit sync and no reserved field values. */
function isMpegFrame(b: Uint8Array): boolean {
  if (b.length < 3 || b[0] !== 0xff) return false;
  const b1 = b[1] ?? 0;
  const b2 = b[2] ?? 0;
  const version = (b1 >> 3) & 0x03;
  const layer = (b1 >> 1) & 0x03;
  const bitrate = b2 >> 4;
  const sampleRate = (b2 >> 2) & 0x03;
  return (b1 & 0xe0) === 0xe0 && version !== 1 && layer !== 0 && bitrate !== 0x0f && sampleRate !== 3;
}

/** Valid UTF-8 without NUL bytes; a sequence cut by the end of the head is tolerated. */
function text(b: Uint8Array): SniffResult | undefined {
  if (b.includes(0)) return undefined;
  try {
    // `stream: true` keeps an incomplete trailing sequence pending instead of failing on it.
    new TextDecoder('utf-8', { fatal: true }).decode(b, { stream: true });
    return { mime: 'text/plain' };
  } catch {
    return undefined;
  }
}
