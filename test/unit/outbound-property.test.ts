import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fieldPath } from '../../shared/domain/errors.ts';
import { parseSendMessageRequest, toMetaMessage } from '../../shared/whatsapp/outbound.ts';
import { editedFixture } from '../support/body-edits.ts';

const FIXTURE_DIR = join(import.meta.dirname, '../fixtures/outbound');
const FIXTURES: Array<Record<string, unknown>> = readdirSync(FIXTURE_DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(FIXTURE_DIR, f), 'utf8')));

const CALLBACK = 'msg_0123456789abcdef0123456789abcdef';

/** Near-valid bodies: a fixture with a few random replacements or deletions (accepted and rejected). */
const nearValidBody = editedFixture(
  FIXTURES,
  fc.tuple(
    fc.nat(),
    fc.oneof(
      fc.constant(undefined),
      fc.jsonValue({ maxDepth: 2 }),
      fc.string({ maxLength: 30 }),
      fc.string({ unit: 'grapheme', maxLength: 5 }),
      fc.integer(),
    ),
  ),
  { maxLength: 3 },
);

/** Reads a `details.path` back into its keys: `a.b.0` → a, b, 0; `a["x.y"]` → a, x.y. */
function segmentsOf(path: string): string[] {
  const token = /(?:^|\.)([\w$-]+)|\[("(?:[^"\\]|\\.)*")\]/y;
  const out: string[] = [];
  while (token.lastIndex < path.length) {
    const m = token.exec(path);
    if (!m) throw new Error(`the path ${JSON.stringify(path)} does not read back`);
    out.push(m[1] ?? JSON.parse(m[2]!));
  }
  return out;
}

describe('parseSendMessageRequest properties', () => {
  it('writes every path so that it reads back to exactly its keys', () => {
    expect(fieldPath(['audio', '.'])).toBe('audio["."]');
    expect(fieldPath(['interactive', 'action', 'buttons', 1, 'reply', 'title'])).toBe('interactive.action.buttons.1.reply.title');
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.nat()), { minLength: 1, maxLength: 6 }), (keys) => {
        expect(segmentsOf(fieldPath(keys))).toEqual(keys.map(String));
      }),
      { numRuns: 500 },
    );
  });

  it('names a key with a dot in it unambiguously', () => {
    const r = parseSendMessageRequest({ from: 'phone-number-id-0123456789abcdef0123456789abcdef', to: '+16505551234', type: 'audio', audio: { '.': null } });
    expect(r).toEqual({ ok: false, error: { path: 'audio["."]', message: expect.stringContaining('unknown field audio["."]') } });
  });

  it('never throws on arbitrary JSON and always answers ok or a path and a message', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), nearValidBody), (body) => {
        const r = parseSendMessageRequest(body);
        if (!r.ok) {
          expect(typeof r.error.path).toBe('string');
          expect(r.error.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('points the error path at something in the body or at a missing field of it', () => {
    fc.assert(
      fc.property(nearValidBody, (body) => {
        const r = parseSendMessageRequest(body);
        if (r.ok || r.error.path === '') return;
        // Every segment but the last must exist in the body; the last may be the missing field.
        const segments = segmentsOf(r.error.path);
        let cur: any = body;
        for (const s of segments.slice(0, -1)) {
          expect(cur !== null && typeof cur === 'object' && s in cur).toBe(true);
          cur = cur[s];
        }
      }),
      { numRuns: 400 },
    );
  });

  it('round-trips every accepted body through toMetaMessage', () => {
    let accepted = 0;
    fc.assert(
      fc.property(nearValidBody, (body) => {
        const r = parseSendMessageRequest(body);
        if (!r.ok) return;
        accepted++;
        const meta = toMetaMessage(r.value, CALLBACK);

        expect(meta.messaging_product).toBe('whatsapp');
        expect(meta).not.toHaveProperty('from');
        expect(meta.biz_opaque_callback_data).toBe(CALLBACK);
        expect(meta[r.value.type]).toEqual((body as Record<string, unknown>)[r.value.type]);
        // JSON-safe: what goes over the wire is what was built.
        expect(JSON.parse(JSON.stringify(meta))).toEqual(meta);
        // The Meta message, given back with its `from`, is itself accepted and maps to the same JSON.
        const again = parseSendMessageRequest({ ...meta, from: (body as { from: unknown }).from, biz_opaque_callback_data: 'x' });
        expect(again.ok).toBe(true);
        if (again.ok) expect(toMetaMessage(again.value, CALLBACK)).toEqual(meta);
      }),
      { numRuns: 400 },
    );
    // The generator must actually reach accepted bodies, or the property says nothing.
    expect(accepted).toBeGreaterThan(40);
  });
});
