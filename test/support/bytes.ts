/** Byte builders for tests that hand-make the first bytes of media files. */

/** Concatenates byte arrays and latin1 strings into one buffer. */
export function bytes(...parts: (string | readonly number[] | Uint8Array)[]): Uint8Array {
  const chunks = parts.map((p) =>
    typeof p === 'string' ? Uint8Array.from(p, (c) => c.charCodeAt(0)) : Uint8Array.from(p),
  );
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export const zeros = (n: number): number[] => new Array<number>(n).fill(0);
export const u16le = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff];
export const u32le = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
export const u32be = (n: number): number[] => [(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];

/** One OGG page holding one packet, as the first page of a stream. */
export function oggFirstPage(packet: Uint8Array): Uint8Array {
  return bytes('OggS', [0, 0x02], zeros(8), u32le(1), u32le(0), u32le(0), [1, packet.length], packet);
}
