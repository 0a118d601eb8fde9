/** Pure rules of the media use cases. */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MediaSchema } from '../../shared/domain/resources.ts';
import { retryDelaySeconds, sha256Matches } from '../../shared/domain/media-jobs.ts';
import { publicMedia } from '../../shared/domain/message-view.ts';

describe('media job rules', () => {
  it('matches a SHA-256 written in base64, base64url or hex, and nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 1, maxLength: 64 }), (a, b) => {
        const digest = createHash('sha256').update(a).digest();
        const other = createHash('sha256').update(Buffer.concat([a, b])).digest();
        expect(sha256Matches(digest.toString('base64'), digest)).toBe(true);
        expect(sha256Matches(digest.toString('base64url'), digest)).toBe(true);
        expect(sha256Matches(digest.toString('hex').toUpperCase(), digest)).toBe(true);
        expect(sha256Matches(other.toString('base64'), digest)).toBe(false);
        expect(sha256Matches(other.toString('hex'), digest)).toBe(false);
      }),
    );
  });

  it('waits longer after each failed receive, from 30 s up to 10 minutes', () => {
    expect([1, 2, 3, 4, 5, 6, 9].map(retryDelaySeconds)).toEqual([30, 60, 120, 240, 480, 600, 600]);
  });

  it('shows stored media with only the contract fields, and copying as pending', () => {
    fc.assert(
      fc.property(
        fc.record({
          id: fc.string({ minLength: 1 }),
          state: fc.constantFrom('pending', 'copying', 'stored', 'failed'),
          mimeType: fc.string(),
          sha256: fc.string(),
          s3Key: fc.string(),
          size: fc.nat(),
          leaseToken: fc.uuid(),
          leaseUntil: fc.nat(),
          reason: fc.string(),
          retryable: fc.boolean(),
        }),
        (raw) => {
          const shown = publicMedia(raw);
          expect(MediaSchema.strict().safeParse(shown).success).toBe(true);
          expect(shown.state).toBe(raw.state === 'copying' ? 'pending' : raw.state);
          expect('size' in shown).toBe(raw.state === 'stored');
          expect('reason' in shown).toBe(raw.state === 'failed');
        },
      ),
    );
  });
});
