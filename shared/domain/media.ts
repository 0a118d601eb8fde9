/**
 * WhatsApp media rules: which types each media kind accepts, how large they may be, how long
 * media ids live, and where media files are kept in the bucket. Pure code, no AWS calls.
 *
 * Sizes: Meta writes "5 MB", "100 KB" without saying which MB. This module reads them as binary
 * units (1 MB = 1024 * 1024 bytes, 1 KB = 1024 bytes). That is the unit phones and file managers
 * display, so a file a user sees as "5.0 MB" is not refused here; if WhatsApp counted in decimal
 * units, files in the few percent between the two readings would be refused by WhatsApp
 * (error 131053) instead of here — a clear error either way, never a lost file.
 */
import { LEGACY_OFFICE_FAMILY, OOXML_FAMILY, type SniffResult } from './sniff.ts';

export const KB = 1024;
export const MB = 1024 * 1024;

/** Media ids taken from inbound webhooks expire after 7 days: fetch the file before then. */
export const INBOUND_MEDIA_ID_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** Media ids returned by an upload (PostWhatsAppMessageMedia) expire after 30 days. */
export const UPLOADED_MEDIA_ID_TTL_MS = 30 * 24 * 60 * 60 * 1000;

export const MEDIA_KINDS = ['image', 'video', 'audio', 'document', 'sticker'] as const;
export type MediaKind = (typeof MEDIA_KINDS)[number];

export interface MediaType {
  /** The MIME type as WhatsApp lists it; for OGG with the codec the content must use. */
  readonly mime: string;
  /** File extensions without the dot, the one WhatsApp lists first. */
  readonly extensions: readonly string[];
  /** Other spellings accepted in a declared Content-Type. */
  readonly aliases?: readonly string[];
  /**
   * The only codec WhatsApp plays in this container. A declaration naming just the container
   * (`audio/ogg`) is accepted; the content must then prove the codec. A declaration naming
   * another codec is refused.
   */
  readonly codec?: string;
}

export interface MediaKindRule {
  readonly types: readonly MediaType[];
  /** Largest accepted file in bytes. */
  readonly maxBytes: number;
  /** Largest accepted animated file in bytes (stickers). */
  readonly maxBytesAnimated?: number;
}

/** The WhatsApp media table (Meta "Supported media types"; AWS lists the same types). */
export const MEDIA_RULES: { readonly [K in MediaKind]: MediaKindRule } = {
  image: {
    maxBytes: 5 * MB,
    types: [
      { mime: 'image/jpeg', extensions: ['jpeg', 'jpg'] },
      { mime: 'image/png', extensions: ['png'] },
    ],
  },
  video: {
    maxBytes: 16 * MB,
    types: [
      { mime: 'video/mp4', extensions: ['mp4'] },
      // AWS's table writes video/3gp; Meta's writes video/3gpp.
      { mime: 'video/3gpp', extensions: ['3gp'], aliases: ['video/3gp'] },
    ],
  },
  audio: {
    maxBytes: 16 * MB,
    types: [
      { mime: 'audio/aac', extensions: ['aac'] },
      { mime: 'audio/amr', extensions: ['amr'] },
      { mime: 'audio/mpeg', extensions: ['mp3'] },
      { mime: 'audio/mp4', extensions: ['m4a'] },
      // Opus only (mono); plain audio/ogg (Vorbis) is not played. Inbound voice notes say exactly this.
      { mime: 'audio/ogg; codecs=opus', extensions: ['ogg'], codec: 'opus' },
    ],
  },
  document: {
    maxBytes: 100 * MB,
    types: [
      { mime: 'text/plain', extensions: ['txt'] },
      { mime: 'application/vnd.ms-excel', extensions: ['xls'] },
      { mime: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', extensions: ['xlsx'] },
      { mime: 'application/msword', extensions: ['doc'] },
      { mime: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', extensions: ['docx'] },
      { mime: 'application/vnd.ms-powerpoint', extensions: ['ppt'] },
      {
        mime: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
        extensions: ['pptx'],
      },
      { mime: 'application/pdf', extensions: ['pdf'] },
    ],
  },
  sticker: {
    maxBytes: 100 * KB,
    maxBytesAnimated: 500 * KB,
    // WebP is accepted only as a sticker, never as an image.
    types: [{ mime: 'image/webp', extensions: ['webp'] }],
  },
};

/**
 * Sniffed types that stand for more than one declared type, because the head of the file cannot
 * tell them apart. Any other sniffed type stands only for itself.
 */
const SNIFFED_SATISFIES: Readonly<Record<string, readonly string[]>> = {
  [LEGACY_OFFICE_FAMILY]: ['application/msword', 'application/vnd.ms-excel', 'application/vnd.ms-powerpoint'],
  [OOXML_FAMILY]: [
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  ],
  // Generic ISO-BMFF brands (isom, mp42) are used for audio-only files too; the brand alone
  // cannot say whether a video track exists.
  'video/mp4': ['video/mp4', 'audio/mp4'],
};

interface ParsedMime {
  /** `type/subtype`, lower case. */
  essence: string;
  /** The `codecs` parameter, lower case, unquoted; absent when not given. */
  codecs?: string;
}

const TOKEN = "[a-z0-9!#$&^_.+'*`|~-]+";
const ESSENCE = new RegExp(`^${TOKEN}/${TOKEN}$`);

/** Parses a Content-Type value; `undefined` if it is not `type/subtype[; params]`. */
function parseMime(raw: string): ParsedMime | undefined {
  const [head = '', ...params] = raw.split(';');
  const essence = head.trim().toLowerCase();
  if (!ESSENCE.test(essence)) return undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    if (param.slice(0, eq).trim().toLowerCase() !== 'codecs') continue;
    const value = param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').trim().toLowerCase();
    return { essence, codecs: value };
  }
  return { essence };
}

interface Entry {
  kind: MediaKind;
  type: MediaType;
  essence: string;
}

/** Every accepted essence (and alias) → its kind and table row. */
const BY_ESSENCE: ReadonlyMap<string, Entry> = (() => {
  const map = new Map<string, Entry>();
  for (const kind of MEDIA_KINDS) {
    for (const type of MEDIA_RULES[kind].types) {
      const essence = parseMime(type.mime)?.essence ?? type.mime;
      for (const spelling of [essence, ...(type.aliases ?? [])]) map.set(spelling, { kind, type, essence });
    }
  }
  return map;
})();

/** The table row of a MIME type, honouring aliases and the codec rule. */
function lookup(mime: string): Entry | undefined {
  const parsed = parseMime(mime);
  if (!parsed) return undefined;
  const entry = BY_ESSENCE.get(parsed.essence);
  if (!entry) return undefined;
  if (entry.type.codec !== undefined && parsed.codecs !== undefined && parsed.codecs !== entry.type.codec) {
    return undefined;
  }
  return entry;
}

/**
 * The WhatsApp media kind a MIME type belongs to, or `undefined` if WhatsApp does not accept it.
 * Case, spacing and parameters are ignored, except `codecs` on OGG: `audio/ogg; codecs=opus` and
 * a bare `audio/ogg` are audio, `audio/ogg; codecs=vorbis` is not. `image/webp` is `sticker`.
 */
export function kindOfMime(mime: string): MediaKind | undefined {
  return lookup(mime)?.kind;
}

/** The WhatsApp MIME type for a MIME type (`video/3gp` → `video/3gpp`, `Audio/OGG` → `audio/ogg; codecs=opus`). */
export function canonicalMime(mime: string): string | undefined {
  return lookup(mime)?.type.mime;
}

/** Largest accepted file of a kind, in bytes. Stickers: 100 KB, or 500 KB when animated. */
export function maxBytes(kind: MediaKind, options: { animated?: boolean } = {}): number {
  const rule = MEDIA_RULES[kind];
  return options.animated === true && rule.maxBytesAnimated !== undefined ? rule.maxBytesAnimated : rule.maxBytes;
}

/**
 * The usual file extension (no dot) of a MIME type WhatsApp accepts, e.g. `ogg` for
 * `audio/ogg; codecs=opus`; `undefined` for other types. Only the container matters here, so a
 * bare `audio/ogg` also gives `ogg`.
 */
export function extensionFor(mime: string): string | undefined {
  const parsed = parseMime(mime);
  return parsed ? BY_ESSENCE.get(parsed.essence)?.type.extensions[0] : undefined;
}

export type MediaRejection = 'type_mismatch' | 'unsupported_type' | 'too_large' | 'empty_file';

export interface OutboundMediaInput {
  /** The Content-Type the caller declared for the file. */
  declaredContentType: string;
  /** What `sniffMedia` / `sniffMime` found in the file's head. A string carries no animation flag. */
  sniffed: SniffResult | string | undefined;
  /** The stored object's size in bytes. */
  size: number;
  /** The kind the caller wants to send it as; defaults to the declared type's kind. */
  kind?: MediaKind;
}

export type OutboundMediaCheck =
  | {
      ok: true;
      kind: MediaKind;
      /** The WhatsApp MIME type of the file (for OGG with its codec: `audio/ogg; codecs=opus`). */
      mime: string;
      /**
       * The Content-Type to store and register the file with: the type as WhatsApp's table
       * lists it, without parameters (`audio/ogg` for an Opus file).
       */
      contentType: string;
      extension: string;
      /** The limit the size was checked against. */
      maxBytes: number;
      /** Stickers: whether the WebP is animated, when the head told. */
      animated?: boolean;
    }
  | { ok: false; reason: MediaRejection; message: string };

const KIND_LABEL: Readonly<Record<MediaKind, string>> = {
  image: 'An image',
  video: 'A video',
  audio: 'An audio file',
  document: 'A document',
  sticker: 'A sticker',
};

function quoted(s: string): string {
  return JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}…` : s);
}

function formatBytes(n: number): string {
  if (n >= MB && n % MB === 0) return `${n / MB} MB`;
  if (n >= KB && n % KB === 0) return `${n / KB} KB`;
  return `${n} bytes`;
}

function reject(reason: MediaRejection, message: string): OutboundMediaCheck {
  return { ok: false, reason, message };
}

/**
 * Checks an uploaded file before it is registered with WhatsApp, in this order:
 * 1. an empty file → `empty_file`;
 * 2. a declared type WhatsApp does not accept, or not accepted for the requested kind
 *    (e.g. `image/webp` as an image) → `unsupported_type`;
 * 3. content that is not what was declared (including unrecognisable content) → `type_mismatch`;
 *    a legacy Office file (.doc/.xls/.ppt) satisfies any of the three legacy types, and an OOXML
 *    package whose part was not seen satisfies any of the three OOXML types;
 * 4. OGG content that is not Opus → `unsupported_type`;
 * 5. more bytes than the kind allows (animated stickers: 500 KB) → `too_large`.
 * @throws RangeError when `size` is not a non-negative integer (a caller bug, not a user error).
 */
export function checkOutboundMedia(input: OutboundMediaInput): OutboundMediaCheck {
  const { declaredContentType, size } = input;
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('size must be a non-negative integer');
  if (size === 0) return reject('empty_file', 'The file is empty.');

  const declared = lookup(declaredContentType);
  if (!declared) {
    const parsed = parseMime(declaredContentType);
    if (parsed?.essence === 'audio/ogg') {
      return reject('unsupported_type', 'WhatsApp plays OGG audio only with the Opus codec (audio/ogg; codecs=opus).');
    }
    return reject(
      'unsupported_type',
      `${quoted(declaredContentType)} is not a media type WhatsApp accepts. Accepted: ${acceptedList()}.`,
    );
  }
  const kind = input.kind ?? declared.kind;
  if (kind !== declared.kind) {
    return reject(
      'unsupported_type',
      `${declared.essence} cannot be sent as ${kind}; ${kind} accepts ${acceptedFor(kind)}.`,
    );
  }

  const sniffed: SniffResult | undefined =
    typeof input.sniffed === 'string' ? { mime: input.sniffed } : input.sniffed;
  const actual = sniffed ? parseMime(sniffed.mime) : undefined;
  if (!sniffed || !actual) {
    return reject('type_mismatch', `The file was declared as ${declared.essence} but its content is not recognisable as that type.`);
  }
  const satisfies = (Object.hasOwn(SNIFFED_SATISFIES, actual.essence) ? SNIFFED_SATISFIES[actual.essence] : undefined) ?? [BY_ESSENCE.get(actual.essence)?.essence ?? actual.essence];
  if (!satisfies.includes(declared.essence)) {
    return reject(
      'type_mismatch',
      `The file was declared as ${declared.essence} but its content is ${describeSniffed(actual.essence)}.`,
    );
  }
  const codec = declared.type.codec;
  if (codec !== undefined && actual.codecs !== codec) {
    return reject(
      'unsupported_type',
      `The ${declared.essence} file does not use the ${codec} codec; WhatsApp plays only ${declared.type.mime}.`,
    );
  }

  const animated = kind === 'sticker' ? sniffed.animated : undefined;
  const limit = maxBytes(kind, { animated: animated === true });
  if (size > limit) {
    return reject(
      'too_large',
      `${KIND_LABEL[kind]}${animated ? ' (animated)' : ''} may be at most ${formatBytes(limit)} (${limit} bytes); this file has ${size} bytes.`,
    );
  }

  const ok: OutboundMediaCheck = {
    ok: true,
    kind,
    mime: declared.type.mime,
    contentType: declared.essence,
    extension: declared.type.extensions[0] ?? '',
    maxBytes: limit,
  };
  if (animated !== undefined) ok.animated = animated;
  return ok;
}

function describeSniffed(essence: string): string {
  if (essence === LEGACY_OFFICE_FAMILY) return 'a legacy Office file (.doc, .xls or .ppt)';
  if (essence === OOXML_FAMILY) return 'an Office Open XML file (.docx, .xlsx or .pptx)';
  return essence;
}

function acceptedFor(kind: MediaKind): string {
  return MEDIA_RULES[kind].types.map((t) => t.mime).join(', ');
}

function acceptedList(): string {
  return MEDIA_KINDS.map((k) => `${k}: ${acceptedFor(k)}`).join('; ');
}

// ---------------------------------------------------------------------------------------------
// Object keys
// ---------------------------------------------------------------------------------------------

const KEY_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const MEDIA_ID = /^[A-Za-z0-9]{1,100}$/;

function keySegment(name: string, value: string): string {
  // The value is not echoed: a wrong argument here could be a phone number.
  if (!KEY_SEGMENT.test(value) || value.includes('..')) throw new RangeError(`${name} is not a safe key segment`);
  return value;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * The key PREFIX to give GetWhatsAppMessageMedia for an inbound media message:
 * `inbound/<phoneNumberId>/<yyyy>/<mm>/<dd>/<messageId>/` (UTC date of the message). Each value
 * is its own path segment, so digits of the number never run into digits of the date, and the
 * prefix is unique per message. AWS appends `<mediaId>.<ext>` to it (see `storedObjectKey`).
 *
 * `contactId` is accepted but deliberately not written into the key: it is usually a phone
 * number, and object keys end up in access logs and CloudTrail data events.
 * @throws RangeError when an id is not a safe key segment or the timestamp is not a valid date.
 */
export function inboundMediaKey(input: {
  phoneNumberId: string;
  contactId?: string;
  timestampMs: number;
  messageId: string;
}): string {
  const date = new Date(input.timestampMs);
  if (!Number.isFinite(input.timestampMs) || Number.isNaN(date.getTime()) || date.getUTCFullYear() < 0) {
    throw new RangeError('timestampMs is not a valid date');
  }
  const phone = keySegment('phoneNumberId', input.phoneNumberId);
  const message = keySegment('messageId', input.messageId);
  const day = `${pad(date.getUTCFullYear(), 4)}/${pad(date.getUTCMonth() + 1, 2)}/${pad(date.getUTCDate(), 2)}`;
  return `inbound/${phone}/${day}/${message}/`;
}

/**
 * The key AWS writes when GetWhatsAppMessageMedia is given `key = prefix`: the prefix with
 * `<mediaId>.<ext>` appended, as plain string concatenation (`audio/` → `audio/123.ogg`, but
 * `audio/example.ogg` → `audio/example.ogg123.ogg`). `undefined` when the extension is not known:
 * AWS documents only the `.ogg` example, so for other types the extension is this module's guess
 * (`extensionFor`); listing the (per-message) prefix finds the object whatever its name.
 * @throws RangeError when `mediaId` is not a WhatsApp media id (1–100 letters and digits).
 */
export function storedObjectKey(prefix: string, mediaId: string, mime: string): string | undefined {
  if (!MEDIA_ID.test(mediaId)) throw new RangeError('mediaId is not a WhatsApp media id');
  const extension = extensionFor(mime);
  return extension === undefined ? undefined : `${prefix}${mediaId}.${extension}`;
}

/**
 * The key a caller's outbound upload is PUT to: `outbound/<phoneNumberId>/<uploadId>`.
 * @throws RangeError when an id is not a safe key segment.
 */
export function outboundUploadKey(phoneNumberId: string, uploadId: string): string {
  return `outbound/${keySegment('phoneNumberId', phoneNumberId)}/${keySegment('uploadId', uploadId)}`;
}
