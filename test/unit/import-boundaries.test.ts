/** Import boundaries: each room of the code imports only what it may (docs/architecture.md). */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { awsWordsInDomain, boundaryViolations, httpStatusesInDomain } from '../support/import-boundaries.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('import boundaries', () => {
  it('hold in shared/ and lambdas/: the domain imports no adapter, no AWS SDK, nothing of lambdas/; shared/whatsapp no domain; handlers nothing of lib/', async () => {
    expect(await boundaryViolations(ROOT)).toEqual([]);
  });

  it('hold for words too: no file under shared/domain names an AWS exception or reads an SDK error (the adapters classify them)', () => {
    expect(awsWordsInDomain(ROOT)).toEqual([]);
  });

  it('hold for HTTP statuses: no file under shared/domain names one (lambdas/api/http-errors.ts maps kinds to statuses)', () => {
    expect(httpStatusesInDomain(ROOT)).toEqual([]);
  });

  describe('on a tree with forbidden imports', () => {
    const root = mkdtempSync(join(tmpdir(), 'wb-boundaries-'));
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    const file = (path: string, text: string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    file('shared/adapters/store.ts', 'export const store = 1;\n');
    file('shared/domain/ok.ts', "import { x } from '../whatsapp/wire.ts';\nexport const ok = x;\n");
    file('shared/domain/bad.ts', "import { S3Client } from '@aws-sdk/client-s3';\nimport type { store } from '../adapters/store.ts';\nexport type T = typeof store;\nexport const c = S3Client;\n");
    file('shared/whatsapp/wire.ts', "export { ok as y } from '../domain/ok.ts';\nexport const x = 1;\n");
    file('lib/spec.ts', 'export const spec = 1;\n');
    file('lambdas/handler.ts', "export const spec = () => import('../lib/spec.ts');\n");
    file('shared/domain/sizes.ts', "/** Items are at most 400 KB; a 409 here is a conflict. */\nexport const max = 500 * KB;\nexport const s = z.string().max(500);\nexport const code = 131047;\n");
    file('shared/domain/retry.ts', "export const busy = (e: { name: string; $metadata?: object }) => e.name === 'ThrottlingException';\n");

    it('names each one, with the rule it breaks', async () => {
      const found = await boundaryViolations(root);
      expect(found).toEqual(
        expect.arrayContaining([
          { rule: 'the domain imports no AWS SDK', from: 'shared/domain/bad.ts', to: '@aws-sdk/client-s3' },
          { rule: 'the domain imports no adapter, nothing of lambdas/, lib/ or local/', from: 'shared/domain/bad.ts', to: 'shared/adapters/store.ts' },
          { rule: 'shared/whatsapp imports nothing of the domain, the ports or the adapters', from: 'shared/whatsapp/wire.ts', to: 'shared/domain/ok.ts' },
          { rule: 'handlers import nothing of lib/', from: 'lambdas/handler.ts', to: 'lib/spec.ts' },
        ]),
      );
      expect(found).toHaveLength(4);
    });

    it('names each domain file that names an HTTP status, and no size, argument or Meta code', () => {
      expect(httpStatusesInDomain(root)).toEqual([{ file: 'shared/domain/sizes.ts', statuses: ['409'] }]);
    });

    it('names each domain file that names an AWS error, with the words', () => {
      expect(awsWordsInDomain(root)).toEqual([{ file: 'shared/domain/retry.ts', words: ['$metadata', 'ThrottlingException'] }]);
    });
  });
});
