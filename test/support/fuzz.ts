/**
 * Fuzzing support: mutated End User Messaging Social envelopes made from the real fixtures, the
 * sizes and seeds of a run, and a bounded-concurrency runner. The suite runs small counts; the
 * long run (`npm run fuzz`) sets FUZZ_* to the counts of the issue.
 */
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';

/** A count from the environment (`FUZZ_ENVELOPES=100000`), else the suite's default. */
export function fuzzCount(name: string, suiteDefault: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? suiteDefault : Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${raw} is not a count`);
  return n;
}

/** The seed of a run: FUZZ_SEED, else a fixed one, so a failure in CI replays exactly. */
export const FUZZ_SEED = fuzzCount('FUZZ_SEED', 20261206);

/** A test's timeout for `count` units of work, each given `msEach` (the suite's default is 30 s). */
export const timeoutFor = (count: number, msEach: number) => Math.max(180_000, count * msEach);

/** Runs `work` over `items` with at most `concurrency` at once; resolves when all are done. */
export async function pool<T>(items: Iterable<T>, concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  let index = 0;
  const worker = async () => {
    for (let next = it.next(); !next.done; next = it.next()) await work(next.value, index++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Every EUM fixture, decoded: the envelope with its webhook entry as an object. */
export function envelopeFixtures(): Array<{ name: string; envelope: Record<string, unknown>; entry: unknown }> {
  const dir = new URL('../fixtures/eum/', import.meta.url);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const envelope = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Record<string, unknown>;
      const entry = typeof envelope.whatsAppWebhookEntry === 'string' ? JSON.parse(envelope.whatsAppWebhookEntry) : envelope.whatsAppWebhookEntry;
      return { name: f.replace(/\.json$/, ''), envelope, entry };
    });
}

export const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__', 'toJSON'];

/** Keys that decide how the rest is read: a mutation hits them more often than the others. */
const DISCRIMINATORS = new Set(['type', 'field', 'status', 'interactive', 'messages', 'statuses', 'changes', 'timestamp', 'id', 'metadata']);

/**
 * JSON text the object model cannot hold (an integer beyond 2^53 keeps its digits only as text;
 * `1e999` parses to Infinity): written as a marker string, swapped for the literal once serialised.
 */
const RAW = (literal: string) => `\u0000RAW:${literal}\u0000`;
const unraw = (json: string) => json.replace(/"\\u0000RAW:([^"\\]*)\\u0000"/g, '$1');

const nested = (depth: number, leaf: unknown, asArray: boolean): unknown => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { d: v };
  return v;
};

const oddUnicode = fc.constantFrom(
  '\ud800',
  'a\udfffb',
  '\u0000',
  '\u2028\u2029',
  '\u202e\u202d',
  '\ufeff',
  '\u200b\u200d',
  '😀👩‍👩‍👧‍👦',
  'e\u0301'.repeat(50),
  '\uffff\ufffe',
  '𝕳𝖊𝖑𝖑𝖔',
  'ﷺ',
);

/** A replacement value: prototype names, extreme numbers, huge and empty strings, deep nesting, wrong types, odd Unicode. */
export function hostileValue(maxStringBytes: number): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constantFrom(...PROTOTYPE_NAMES),
    fc.constantFrom(
      RAW('1e999'),
      RAW('-1e999'),
      RAW('123456789012345678901234567890'),
      RAW('9007199254740993'),
      RAW('-9007199254740993'),
      RAW('1e308'),
      RAW('5e-324'),
      RAW('-0'),
      RAW('0.1e-400'),
      RAW('99999999999999'),
    ),
    fc.constantFrom(Number.MAX_SAFE_INTEGER, -1, 0, 1.5, 8.64e12, 1e21, -1e21),
    fc.constantFrom('', ' ', '99999999999999', '-1', 'NaN', 'Infinity', '1e999', '0x10', 'null', '{}', '[]', '{"a":', 'true'),
    fc.constantFrom(257, 4096, 70_000, maxStringBytes).map((n) => 'x'.repeat(Math.min(n, maxStringBytes))),
    fc.constantFrom(null, true, false, [], {}, [[]], { __proto__: null }),
    fc.integer({ min: 20, max: 120 }).chain((d) => fc.boolean().map((a) => nested(d, 'deep', a))),
    oddUnicode,
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.jsonValue({ maxDepth: 3 }),
  );
}

type Path = Array<string | number>;

/** Every path in a JSON value (objects and arrays), the root included. */
function pathsOf(value: unknown, path: Path = [], out: Path[] = []): Path[] {
  out.push(path);
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...path, i], out));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) pathsOf(v, [...path, k], out);
  return out;
}

function getAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const k of path) v = (v as Record<string | number, unknown>)[k];
  return v;
}

/** Sets an own property (a key `__proto__` is a key, not the prototype). */
function define(target: object, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
}

type Mutation =
  | { op: 'replace'; at: number; value: unknown }
  | { op: 'delete'; at: number }
  | { op: 'addKey'; at: number; key: string; value: unknown }
  | { op: 'renameKey'; at: number; key: string };

function apply(root: unknown, m: Mutation): unknown {
  const paths = pathsOf(root);
  // Discriminators first, half of the time: they steer parsing.
  const steering = paths.filter((p) => DISCRIMINATORS.has(String(p.at(-1))));
  const pick = (n: number) => (steering.length && n % 2 === 0 ? steering[(n >> 1) % steering.length]! : paths[n % paths.length]!);
  const path = pick(m.at);
  if (path.length === 0) return m.op === 'replace' ? m.value : root;
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  const key = path.at(-1)!;
  switch (m.op) {
    case 'replace':
      define(parent, key, m.value);
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
      break;
    case 'addKey': {
      const target = getAt(root, path);
      if (typeof target === 'object' && target !== null && !Array.isArray(target)) define(target, m.key, m.value);
      break;
    }
    case 'renameKey':
      if (!Array.isArray(parent)) {
        const v = parent[key];
        delete parent[key];
        define(parent, m.key, v);
      }
      break;
  }
  return root;
}

function mutation(maxStringBytes: number): fc.Arbitrary<Mutation> {
  const at = fc.nat();
  const value = hostileValue(maxStringBytes);
  const key = fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES), fc.constantFrom('', ' ', '\ud800', 'a.b', 'type', 'id'), fc.string({ maxLength: 8 }));
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('replace' as const), at, value }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('addKey' as const), at, key, value }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('renameKey' as const), at, key }) },
  );
}

/** How the mutated envelope is delivered to the queue. */
export interface MutatedEvent {
  fixture: string;
  /** The SNS `Message` (what End User Messaging Social publishes). */
  message: string;
}

/**
 * Envelopes from the real fixtures with 1–4 mutations in the webhook entry or the envelope, the
 * entry written back as a JSON string (sometimes as an object, sometimes cut short).
 */
export function mutatedEnvelopes(opts: { maxStringBytes: number }): fc.Arbitrary<MutatedEvent> {
  const fixtures = envelopeFixtures();
  return fc
    .record({
      fixture: fc.nat({ max: fixtures.length - 1 }),
      inEntry: fc.array(mutation(opts.maxStringBytes), { minLength: 0, maxLength: 4 }),
      inEnvelope: fc.array(mutation(opts.maxStringBytes), { minLength: 0, maxLength: 1 }),
      entryAs: fc.constantFrom('string', 'string', 'string', 'string', 'object', 'cut'),
    })
    .map(({ fixture, inEntry, inEnvelope, entryAs }) => {
      const f = fixtures[fixture]!;
      let entry = structuredClone(f.entry);
      for (const m of inEntry) entry = apply(entry, m);
      let envelope: unknown = { ...structuredClone(f.envelope), whatsAppWebhookEntry: '' };
      for (const m of inEnvelope) envelope = apply(envelope, m);
      const entryJson = unraw(JSON.stringify(entry) ?? 'null');
      if (typeof envelope === 'object' && envelope !== null && !Array.isArray(envelope)) {
        const value = entryAs === 'object' ? RAW(entryJson) : entryAs === 'cut' ? entryJson.slice(0, Math.max(1, entryJson.length >> 1)) : entryJson;
        define(envelope, 'whatsAppWebhookEntry', value);
      }
      return { fixture: f.name, message: unraw(JSON.stringify(envelope) ?? 'null') };
    });
}

/** `count` mutated events from `seed`, generated in chunks so a long run does not hold them all. */
export function* mutatedEvents(count: number, seed: number, opts: { maxStringBytes: number }): Generator<MutatedEvent> {
  const arb = mutatedEnvelopes(opts);
  const CHUNK = 1000;
  for (let done = 0, chunk = 0; done < count; chunk++) {
    const n = Math.min(CHUNK, count - done);
    yield* fc.sample(arb, { seed: seed + chunk, numRuns: n });
    done += n;
  }
}
