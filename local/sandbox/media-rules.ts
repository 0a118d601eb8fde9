/**
 * WhatsApp's media rules as the sandbox applies them to uploads (PostWhatsAppMessageMedia).
 *
 * The facts (which MIME types WhatsApp accepts, the size limit of each kind, the file extension
 * of each type) come from `shared/domain/media.ts`, the table the backend uses too, so the two
 * cannot drift. What stays here is the sandbox's own content check: a few byte signatures per
 * accepted type, written apart from `shared/domain/sniff.ts` on purpose. The backend sniffs an
 * upload before it registers it; if the sandbox asked the same code whether the bytes are what
 * they claim, a sniffing mistake would be confirmed instead of caught. As an independent oracle
 * of what Meta accepts, this check refuses (131053) what slipped through, and tests see it.
 * It is coarser than `sniff.ts` (it checks only the type declared, not which type the bytes are),
 * but never looser on the points Meta is strict about: OGG must carry Opus, an MP3 frame is not
 * an AAC ADTS frame and the other way round.
 */
import { canonicalMime, extensionFor, kindOfMime, maxBytes } from '../../shared/domain/media.ts';

/** Whether `bytes` (the head of a file, or all of it) look like a file of one type. */
type Signature = (bytes: Uint8Array) => boolean;

const startsWith = (bytes: Uint8Array, sig: readonly number[], at = 0) =>
  bytes.length >= at + sig.length && sig.every((b, i) => bytes[at + i] === b);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const includesAscii = (bytes: Uint8Array, s: string, limit: number) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, limit)).includes(s, 0, 'latin1');

/** ISO-BMFF: `ftyp` box at offset 4; `brands` filters the major brand prefix when given. */
const isoBmff =
  (brands?: readonly string[]): Signature =>
  (b) => {
    if (!startsWith(b, ascii('ftyp'), 4)) return false;
    if (!brands) return true;
    const major = Buffer.from(b.subarray(8, 12)).toString('latin1');
    return brands.some((p) => major.startsWith(p));
  };
const isJpeg: Signature = (b) => startsWith(b, [0xff, 0xd8, 0xff]);
const isPng: Signature = (b) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const isWebp: Signature = (b) => startsWith(b, ascii('RIFF')) && startsWith(b, ascii('WEBP'), 8);
const isOggOpus: Signature = (b) => startsWith(b, ascii('OggS')) && includesAscii(b, 'OpusHead', 128);
/**
 * Frame sync (11 bits) with a layer other than the reserved `00`: ADTS, which shares the sync,
 * always writes layer `00`, so an AAC stream is not taken for an MP3 one.
 */
const isMpegAudioFrame: Signature = (b) => b.length > 1 && b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0 && ((b[1] ?? 0) & 0x06) !== 0;
const isMp3: Signature = (b) => startsWith(b, ascii('ID3')) || isMpegAudioFrame(b);
/** ADTS: 12-bit sync, layer `00`. */
const isAdtsAac: Signature = (b) => b.length > 1 && b[0] === 0xff && ((b[1] ?? 0) & 0xf6) === 0xf0;
const isAmr: Signature = (b) => startsWith(b, ascii('#!AMR'));
const isPdf: Signature = (b) => startsWith(b, ascii('%PDF-'));
const isOle2: Signature = (b) => startsWith(b, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
const isZip: Signature = (b) => startsWith(b, [0x50, 0x4b, 0x03, 0x04]);
/** Plain text: valid UTF-8 without NUL bytes. */
const isText: Signature = (b) => {
  if (b.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
};

/**
 * The content check of every type WhatsApp accepts, keyed by the type as `shared/domain/media.ts`
 * writes it (`canonicalMime`). A type added there without a signature here makes an upload of it
 * fail loudly (and a test fail), rather than pass unchecked.
 */
export const SIGNATURES: Readonly<Record<string, Signature>> = {
  'audio/aac': isAdtsAac,
  'audio/amr': isAmr,
  'audio/mpeg': isMp3,
  'audio/mp4': isoBmff(),
  'audio/ogg; codecs=opus': isOggOpus,
  'text/plain': isText,
  'application/pdf': isPdf,
  'application/msword': isOle2,
  'application/vnd.ms-excel': isOle2,
  'application/vnd.ms-powerpoint': isOle2,
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': isZip,
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': isZip,
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': isZip,
  'image/jpeg': isJpeg,
  'image/png': isPng,
  'image/webp': isWebp,
  'video/mp4': isoBmff(),
  'video/3gpp': isoBmff(['3gp', '3g2']),
};

/** `Audio/OGG; codecs=opus` → `audio/ogg`: the type without parameters, lower case. */
export function baseMimeType(mimeType: string): string {
  return (mimeType.split(';')[0] ?? '').trim().toLowerCase();
}

/** An animated WebP: the VP8X header's animation flag, or an ANIM chunk near the start. */
function isAnimatedWebp(b: Uint8Array): boolean {
  return (startsWith(b, ascii('VP8X'), 12) && ((b[20] ?? 0) & 0x02) !== 0) || includesAscii(b, 'ANIM', 4096);
}

/**
 * What GetWhatsAppMessageMedia appends after the media id in the S3 key: `extensionFor` of
 * `shared/domain/media.ts` (`image/jpeg` → `jpeg`), the same guess the media worker looks for.
 * @throws Error for a type WhatsApp does not accept (the sandbox never stores one).
 */
export function storedExtension(mimeType: string): string {
  const extension = extensionFor(mimeType);
  if (extension === undefined) throw new Error(`no file extension for ${baseMimeType(mimeType)}`);
  return extension;
}

/**
 * Why WhatsApp would refuse this upload (its error 131053), or `undefined` when it is fine.
 * `size` is given separately so an oversize object can be refused before it is read: without
 * `bytes` a sticker is held to the animated limit, the larger one.
 */
export function uploadProblem(mimeType: string | undefined, size: number, bytes?: Uint8Array): string | undefined {
  if (!mimeType) return 'the file has no content type';
  const base = baseMimeType(mimeType);
  const kind = kindOfMime(mimeType);
  const canonical = canonicalMime(mimeType);
  if (!kind || !canonical) return `content type ${mimeType.trim().toLowerCase()} is not supported`;
  if (size === 0) return 'the file is empty';
  const animated = bytes === undefined || (kind === 'sticker' && isAnimatedWebp(bytes));
  const max = maxBytes(kind, { animated });
  if (size > max) return `the file is ${size} bytes; ${base} allows at most ${max}`;
  if (bytes === undefined) return undefined;
  const matches = SIGNATURES[canonical];
  if (!matches) throw new Error(`the sandbox has no content check for ${canonical}`);
  if (!matches(bytes)) return `the file content does not match its content type ${base}`;
  return undefined;
}
