/**
 * Small, valid media files generated in code, one per WhatsApp media kind: what a simulated user
 * "sends" when an inbound media message carries no id. Every file is built from its format's
 * specification so that the bytes are real files, not just magic numbers:
 *
 * - image: baseline JPEG (JFIF), 16x16, three components, a flat WhatsApp-green colour
 * - video: ISO-BMFF MP4 (`ftyp` + `moov` + `mdat`, moov first), one H.264 Constrained Baseline
 *   IDR frame of 16x16 made of an I_PCM macroblock, 1 s long, no audio track
 * - audio: Ogg stream with OpusHead, OpusTags and 50 Opus silence frames (1 s, mono, 48 kHz)
 * - document: PDF 1.4, one A4 page with one line of Helvetica text and a correct xref table
 * - sticker: RIFF/WEBP with a lossless VP8L bitstream, 512x512, a flat colour
 */
import { Buffer } from 'node:buffer';
import type { MediaKind } from '../../shared/domain/media.ts';

export { MEDIA_KINDS, type MediaKind } from '../../shared/domain/media.ts';

export interface MediaSample {
  bytes: Buffer;
  /** MIME type as Meta writes it in webhooks (audio carries `; codecs=opus`). */
  mimeType: string;
  /** Set for documents, which carry a file name in webhooks. */
  filename?: string;
}

/** A fresh copy of the sample file of `kind`. */
export function sampleMedia(kind: MediaKind): MediaSample {
  const make = SAMPLES[kind];
  if (!make) throw new Error(`no media sample for kind '${String(kind)}'`);
  return make();
}

const SAMPLES: Record<MediaKind, () => MediaSample> = {
  image: () => ({ bytes: jpegSample(), mimeType: 'image/jpeg' }),
  video: () => ({ bytes: mp4Sample(), mimeType: 'video/mp4' }),
  audio: () => ({ bytes: oggOpusSample(), mimeType: 'audio/ogg; codecs=opus' }),
  document: () => ({ bytes: pdfSample(), mimeType: 'application/pdf', filename: 'sandbox-document.pdf' }),
  sticker: () => ({ bytes: webpSample(), mimeType: 'image/webp' }),
};

// ---------------------------------------------------------------------------------------------
// Bit writers

/** The byte buffer of both bit writers: `cur` holds the `n` bits of the byte being filled. */
abstract class BitWriter {
  protected readonly bytes: number[] = [];
  protected cur = 0;
  protected n = 0;

  /** Counts the bit just placed in `cur`; a full byte moves to `bytes`. */
  protected advance(): void {
    this.n++;
    if (this.n === 8) {
      this.bytes.push(this.cur);
      this.cur = 0;
      this.n = 0;
    }
  }
}

/** Writes bits most significant first (JPEG entropy data, H.264 RBSP). */
class MsbBitWriter extends BitWriter {
  bits(value: number, count: number): this {
    for (let i = count - 1; i >= 0; i--) this.bit((value >>> i) & 1);
    return this;
  }

  bit(b: number): this {
    this.cur = (this.cur << 1) | (b & 1);
    this.advance();
    return this;
  }

  /** Exp-Golomb unsigned, ue(v). */
  ue(v: number): this {
    const x = v + 1;
    const len = Math.floor(Math.log2(x));
    this.bits(0, len);
    return this.bits(x, len + 1);
  }

  /** Exp-Golomb signed, se(v). */
  se(v: number): this {
    return this.ue(v > 0 ? 2 * v - 1 : -2 * v);
  }

  get aligned(): boolean {
    return this.n === 0;
  }

  /** Pads the last byte with `fill` bits. */
  finish(fill: 0 | 1): Buffer {
    while (this.n !== 0) this.bit(fill);
    return Buffer.from(this.bytes);
  }
}

/** Writes bits least significant first (WebP lossless). */
class LsbBitWriter extends BitWriter {
  bits(value: number, count: number): this {
    for (let i = 0; i < count; i++) {
      this.cur |= ((value >>> i) & 1) << this.n;
      this.advance();
    }
    return this;
  }

  finish(): Buffer {
    if (this.n > 0) this.bytes.push(this.cur);
    return Buffer.from(this.bytes);
  }
}

const u8 = (...v: number[]) => Buffer.from(v);
/** An unsigned integer of `size` bytes; a negative 32-bit value is written as its two's complement. */
function uint(v: number, size: 2 | 4, byteOrder: 'BE' | 'LE'): Buffer {
  const b = Buffer.alloc(size);
  if (byteOrder === 'BE') b.writeUIntBE(v >>> 0, 0, size);
  else b.writeUIntLE(v >>> 0, 0, size);
  return b;
}
const be16 = (v: number) => uint(v, 2, 'BE');
const be32 = (v: number) => uint(v, 4, 'BE');
const le16 = (v: number) => uint(v, 2, 'LE');
const le32 = (v: number) => uint(v, 4, 'LE');
const ascii = (s: string) => Buffer.from(s, 'latin1');

// ---------------------------------------------------------------------------------------------
// JPEG (ITU-T T.81, baseline sequential, Huffman)

/** The flat colour of the image, as quantised DC values (level-shifted luma/chroma minus 128). */
const JPEG_DC = { y: 18, cb: -25, cr: -78 }; // ≈ RGB(37, 210, 102)
const JPEG_SIZE = 16;

/** Code lengths (BITS) of the typical luminance DC table of T.81 Annex K, symbols 0..11. */
const DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_SYMBOLS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
/** A one-symbol AC table: only end-of-block (0x00) is ever coded, as the blocks are flat. */
const AC_BITS = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const AC_SYMBOLS = [0x00];

/** Canonical Huffman codes from a BITS list (T.81 Annex C). */
function huffmanCodes(bits: number[], symbols: number[]): Map<number, { code: number; length: number }> {
  const out = new Map<number, { code: number; length: number }>();
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const count = bits[len - 1] ?? 0;
    for (let i = 0; i < count; i++) {
      const symbol = symbols[k++];
      if (symbol === undefined) throw new Error('BITS and symbols disagree');
      out.set(symbol, { code: code++, length: len });
    }
    code <<= 1;
  }
  return out;
}

function jpegSegment(marker: number, payload: Buffer): Buffer {
  return Buffer.concat([u8(0xff, marker), be16(payload.length + 2), payload]);
}

function jpegSample(): Buffer {
  const dc = huffmanCodes(DC_BITS, DC_SYMBOLS);
  const ac = huffmanCodes(AC_BITS, AC_SYMBOLS);
  const eob = ac.get(0x00)!;

  const w = new MsbBitWriter();
  const encodeDcDiff = (diff: number) => {
    const magnitude = Math.abs(diff);
    const category = magnitude === 0 ? 0 : Math.floor(Math.log2(magnitude)) + 1;
    const code = dc.get(category)!;
    w.bits(code.code, code.length);
    // Negative differences are written as the low bits of diff - 1 (one's complement).
    if (category > 0) w.bits(diff > 0 ? diff : diff + (1 << category) - 1, category);
  };
  const mcus = (JPEG_SIZE / 8) * (JPEG_SIZE / 8);
  const predictors = { y: 0, cb: 0, cr: 0 };
  for (let m = 0; m < mcus; m++) {
    for (const c of ['y', 'cb', 'cr'] as const) {
      encodeDcDiff(JPEG_DC[c] - predictors[c]);
      predictors[c] = JPEG_DC[c];
      w.bits(eob.code, eob.length);
    }
  }
  const raw = w.finish(1);
  const entropy: number[] = [];
  for (const b of raw) {
    entropy.push(b);
    if (b === 0xff) entropy.push(0x00); // byte stuffing
  }

  // One quantisation table: 8 for DC, 1 for every AC coefficient (zig-zag order).
  const dqt = Buffer.concat([u8(0x00, 8), Buffer.alloc(63, 1)]);
  const sof0 = Buffer.concat([
    u8(8),
    be16(JPEG_SIZE),
    be16(JPEG_SIZE),
    u8(3),
    u8(1, 0x11, 0),
    u8(2, 0x11, 0),
    u8(3, 0x11, 0),
  ]);
  const dht = Buffer.concat([u8(0x00), u8(...DC_BITS), u8(...DC_SYMBOLS), u8(0x10), u8(...AC_BITS), u8(...AC_SYMBOLS)]);
  const sos = Buffer.concat([u8(3), u8(1, 0x00), u8(2, 0x00), u8(3, 0x00), u8(0, 63, 0)]);
  const app0 = Buffer.concat([ascii('JFIF\0'), u8(1, 1, 0), be16(1), be16(1), u8(0, 0)]);

  return Buffer.concat([
    u8(0xff, 0xd8),
    jpegSegment(0xe0, app0),
    jpegSegment(0xdb, dqt),
    jpegSegment(0xc0, sof0),
    jpegSegment(0xc4, dht),
    jpegSegment(0xda, sos),
    Buffer.from(entropy),
    u8(0xff, 0xd9),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Ogg (RFC 3533) carrying Opus (RFC 7845)

/** CRC-32 of Ogg pages: polynomial 0x04C11DB7, not reflected, initial value 0, no final xor. */
const OGG_CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

export function oggCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) ^ OGG_CRC_TABLE[((crc >>> 24) ^ b) & 0xff]!) >>> 0;
  return crc >>> 0;
}

function oggPage(opts: { headerType: number; granule: bigint; serial: number; sequence: number; packets: Buffer[] }): Buffer {
  const lacing: number[] = [];
  for (const p of opts.packets) {
    let left = p.length;
    while (left >= 255) {
      lacing.push(255);
      left -= 255;
    }
    lacing.push(left);
  }
  if (lacing.length > 255) throw new Error('too many segments for one Ogg page');
  const granule = Buffer.alloc(8);
  granule.writeBigUInt64LE(opts.granule);
  const page = Buffer.concat([
    ascii('OggS'),
    u8(0, opts.headerType),
    granule,
    le32(opts.serial),
    le32(opts.sequence),
    le32(0), // CRC, filled below
    u8(lacing.length),
    u8(...lacing),
    ...opts.packets,
  ]);
  page.writeUInt32LE(oggCrc(page), 22);
  return page;
}

/** A 20 ms CELT fullband mono frame that decodes to silence (TOC 0xF8, code 0). */
const OPUS_SILENCE_FRAME = u8(0xf8, 0xff, 0xfe);
const OPUS_PRE_SKIP = 312;

function oggOpusSample(): Buffer {
  const serial = 0x5a4e4442;
  const head = Buffer.concat([ascii('OpusHead'), u8(1, 1), le16(OPUS_PRE_SKIP), le32(48000), le16(0), u8(0)]);
  const vendor = ascii('whatsapp-backend sandbox');
  const comment = ascii('TITLE=Sandbox voice note');
  const tags = Buffer.concat([ascii('OpusTags'), le32(vendor.length), vendor, le32(1), le32(comment.length), comment]);
  const frames = Array.from({ length: 50 }, () => OPUS_SILENCE_FRAME);
  const samples = BigInt(frames.length * 960); // 960 samples per 20 ms frame at 48 kHz
  return Buffer.concat([
    oggPage({ headerType: 0x02, granule: 0n, serial, sequence: 0, packets: [head] }),
    oggPage({ headerType: 0x00, granule: 0n, serial, sequence: 1, packets: [tags] }),
    oggPage({ headerType: 0x04, granule: samples, serial, sequence: 2, packets: frames }),
  ]);
}

// ---------------------------------------------------------------------------------------------
// PDF 1.4

function pdfSample(): Buffer {
  const text = 'BT /F1 24 Tf 72 770 Td (Sandbox document) Tj ET\n';
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    `<< /Length ${Buffer.byteLength(text, 'latin1')} >>\nstream\n${text}endstream`,
  ];
  // The second line holds bytes above 127 so that tools treat the file as binary.
  let body = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const offsets: number[] = [];
  objects.forEach((content, i) => {
    offsets.push(Buffer.byteLength(body, 'latin1'));
    body += `${i + 1} 0 obj\n${content}\nendobj\n`;
  });
  const xrefAt = Buffer.byteLength(body, 'latin1');
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) body += `${String(off).padStart(10, '0')} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xrefAt}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}

// ---------------------------------------------------------------------------------------------
// MP4: ISO/IEC 14496-12 boxes, ISO/IEC 14496-15 avcC, ITU-T H.264 bitstream

const VIDEO_SIZE = 16;
const VIDEO_TIMESCALE = 1000;
const VIDEO_DURATION = 1000;

/** Appends the RBSP stop bit and inserts emulation-prevention bytes; prepends the NAL header. */
function nal(header: number, rbspWriter: MsbBitWriter): Buffer {
  rbspWriter.bit(1);
  const rbsp = rbspWriter.finish(0);
  const out: number[] = [header];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

function h264Sps(): Buffer {
  const w = new MsbBitWriter()
    .bits(66, 8) // profile_idc: Baseline
    .bits(0xc0, 8) // constraint_set0 + constraint_set1: Constrained Baseline
    .bits(10, 8) // level_idc 1.0
    .ue(0) // seq_parameter_set_id
    .ue(0) // log2_max_frame_num_minus4
    .ue(2) // pic_order_cnt_type
    .ue(1) // max_num_ref_frames
    .bit(0) // gaps_in_frame_num_value_allowed_flag
    .ue(VIDEO_SIZE / 16 - 1) // pic_width_in_mbs_minus1
    .ue(VIDEO_SIZE / 16 - 1) // pic_height_in_map_units_minus1
    .bit(1) // frame_mbs_only_flag
    .bit(1) // direct_8x8_inference_flag
    .bit(0) // frame_cropping_flag
    .bit(0); // vui_parameters_present_flag
  return nal(0x67, w);
}

function h264Pps(): Buffer {
  const w = new MsbBitWriter()
    .ue(0) // pic_parameter_set_id
    .ue(0) // seq_parameter_set_id
    .bit(0) // entropy_coding_mode_flag: CAVLC
    .bit(0) // bottom_field_pic_order_in_frame_present_flag
    .ue(0) // num_slice_groups_minus1
    .ue(0) // num_ref_idx_l0_default_active_minus1
    .ue(0) // num_ref_idx_l1_default_active_minus1
    .bit(0) // weighted_pred_flag
    .bits(0, 2) // weighted_bipred_idc
    .se(0) // pic_init_qp_minus26
    .se(0) // pic_init_qs_minus26
    .se(0) // chroma_qp_index_offset
    .bit(1) // deblocking_filter_control_present_flag
    .bit(0) // constrained_intra_pred_flag
    .bit(0); // redundant_pic_cnt_present_flag
  return nal(0x68, w);
}

/** An IDR slice whose macroblocks are I_PCM: raw 4:2:0 samples of a flat colour. */
function h264IdrSlice(): Buffer {
  const w = new MsbBitWriter()
    .ue(0) // first_mb_in_slice
    .ue(7) // slice_type: I (all slices of the picture)
    .ue(0) // pic_parameter_set_id
    .bits(0, 4) // frame_num
    .ue(0) // idr_pic_id
    .bit(0) // no_output_of_prior_pics_flag
    .bit(0) // long_term_reference_flag
    .se(0) // slice_qp_delta
    .ue(1); // disable_deblocking_filter_idc
  const mbs = (VIDEO_SIZE / 16) * (VIDEO_SIZE / 16);
  for (let m = 0; m < mbs; m++) {
    w.ue(25); // mb_type I_PCM
    while (!w.aligned) w.bit(0); // pcm_alignment_zero_bit
    for (let i = 0; i < 256; i++) w.bits(146, 8); // luma
    for (let i = 0; i < 64; i++) w.bits(103, 8); // Cb
    for (let i = 0; i < 64; i++) w.bits(50, 8); // Cr
  }
  return nal(0x65, w);
}

function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  return Buffer.concat([be32(body.length + 8), ascii(type), body]);
}

function fullBox(type: string, version: number, flags: number, ...payload: Buffer[]): Buffer {
  return box(type, u8(version, (flags >>> 16) & 0xff, (flags >>> 8) & 0xff, flags & 0xff), ...payload);
}

const UNITY_MATRIX = Buffer.concat([0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000].map(be32));

function mp4Sample(): Buffer {
  const sps = h264Sps();
  const pps = h264Pps();
  const slice = h264IdrSlice();
  const sample = Buffer.concat([be32(slice.length), slice]); // AVCC: 4-byte length prefix

  const avcC = box(
    'avcC',
    u8(1, sps[1]!, sps[2]!, sps[3]!), // version, profile, compatibility, level
    u8(0xfc | 3), // lengthSizeMinusOne = 3
    u8(0xe0 | 1),
    be16(sps.length),
    sps,
    u8(1),
    be16(pps.length),
    pps,
  );
  const compressorName = Buffer.alloc(32);
  const avc1 = box(
    'avc1',
    Buffer.alloc(6),
    be16(1), // data_reference_index
    Buffer.alloc(16),
    be16(VIDEO_SIZE),
    be16(VIDEO_SIZE),
    be32(0x00480000),
    be32(0x00480000),
    be32(0),
    be16(1), // frame_count
    compressorName,
    be16(0x0018),
    be16(0xffff),
    avcC,
  );

  const buildMoov = (chunkOffset: number) =>
    box(
      'moov',
      fullBox('mvhd', 0, 0, be32(0), be32(0), be32(VIDEO_TIMESCALE), be32(VIDEO_DURATION), be32(0x00010000), be16(0x0100), Buffer.alloc(10), UNITY_MATRIX, Buffer.alloc(24), be32(2)),
      box(
        'trak',
        fullBox('tkhd', 0, 3, be32(0), be32(0), be32(1), be32(0), be32(VIDEO_DURATION), Buffer.alloc(8), be16(0), be16(0), be16(0), be16(0), UNITY_MATRIX, be32(VIDEO_SIZE << 16), be32(VIDEO_SIZE << 16)),
        box(
          'mdia',
          fullBox('mdhd', 0, 0, be32(0), be32(0), be32(VIDEO_TIMESCALE), be32(VIDEO_DURATION), be16(0x55c4), be16(0)), // language 'und'
          fullBox('hdlr', 0, 0, be32(0), ascii('vide'), Buffer.alloc(12), ascii('VideoHandler\0')),
          box(
            'minf',
            fullBox('vmhd', 0, 1, Buffer.alloc(8)),
            box('dinf', fullBox('dref', 0, 0, be32(1), fullBox('url ', 0, 1))),
            box(
              'stbl',
              fullBox('stsd', 0, 0, be32(1), avc1),
              fullBox('stts', 0, 0, be32(1), be32(1), be32(VIDEO_DURATION)),
              fullBox('stss', 0, 0, be32(1), be32(1)),
              fullBox('stsc', 0, 0, be32(1), be32(1), be32(1), be32(1)),
              fullBox('stsz', 0, 0, be32(0), be32(1), be32(sample.length)),
              fullBox('stco', 0, 0, be32(1), be32(chunkOffset)),
            ),
          ),
        ),
      ),
    );

  const ftyp = box('ftyp', ascii('isom'), be32(0x200), ascii('isom'), ascii('iso2'), ascii('avc1'), ascii('mp41'));
  const moovSize = buildMoov(0).length; // stco holds a fixed-width offset, so the size is known
  const moov = buildMoov(ftyp.length + moovSize + 8);
  return Buffer.concat([ftyp, moov, box('mdat', sample)]);
}

// ---------------------------------------------------------------------------------------------
// WebP lossless (RFC 9649)

const STICKER_SIZE = 512;
const STICKER_ARGB = { a: 255, r: 37, g: 211, b: 102 };

function webpSample(): Buffer {
  const w = new LsbBitWriter()
    .bits(0x2f, 8) // VP8L signature
    .bits(STICKER_SIZE - 1, 14)
    .bits(STICKER_SIZE - 1, 14)
    .bits(0, 1) // alpha_is_used
    .bits(0, 3) // version
    .bits(0, 1) // no transform
    .bits(0, 1) // no colour cache
    .bits(0, 1); // no meta prefix codes
  // Five prefix codes (green, red, blue, alpha, distance), each a one-symbol "simple" code, so
  // every pixel takes zero bits: the image is a flat colour.
  const simpleCode8 = (symbol: number) => w.bits(1, 1).bits(0, 1).bits(1, 1).bits(symbol, 8);
  simpleCode8(STICKER_ARGB.g);
  simpleCode8(STICKER_ARGB.r);
  simpleCode8(STICKER_ARGB.b);
  simpleCode8(STICKER_ARGB.a);
  w.bits(1, 1).bits(0, 1).bits(0, 1).bits(0, 1); // distance: symbol 0 in the 1-bit form
  let vp8l = w.finish();
  const chunkSize = vp8l.length;
  if (vp8l.length % 2 === 1) vp8l = Buffer.concat([vp8l, u8(0)]);
  const chunk = Buffer.concat([ascii('VP8L'), le32(chunkSize), vp8l]);
  return Buffer.concat([ascii('RIFF'), le32(4 + chunk.length), ascii('WEBP'), chunk]);
}
