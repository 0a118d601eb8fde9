/**
 * A small seedable pseudo-random generator (sfc32), so that chaos decisions (duplicates,
 * reordering, failures, throttling) are reproducible in tests. Ids are NOT drawn from it: they
 * come from `node:crypto`, so that a restarted sandbox never repeats a wamid or a media id.
 */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** Whether an event of probability `p` happens. */
  chance(p: number): boolean;
  /** A shuffled copy of `items` (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[];
}

export function createRng(seed: number): Rng {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next(); // mix the seed in
  return {
    next,
    chance: (p) => p > 0 && next() < p,
    shuffle(items) {
      const out = [...items];
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    },
  };
}
