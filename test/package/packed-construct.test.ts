/**
 * The construct as people install it: `npm pack` (whose `prepack` bundles the functions and
 * compiles lib/ to JavaScript with declarations), the tarball installed into a fresh CDK app (with
 * this repository's aws-cdk-lib and constructs as its own, no network), and a stack that embeds
 * `WhatsAppBackend` beside a resource of its own, type-checked against the declarations and
 * synthesized with none of this repository's cdk.json. Slow (packing bundles and compiles): it runs
 * in `npm run test:bundled` (vitest.package.config.ts), not in `npm test`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { FUNCTION_HANDLERS } from '../../lib/bundling.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
/** Packing bundles and compiles: about half a minute alone, minutes on a loaded machine. */
const STEP_TIMEOUT_MS = 300_000;
const work = mkdtempSync(join(tmpdir(), 'wa-pack-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

const CONSUMER_APP = `
import { App, Stack } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { WhatsAppBackend, type WhatsAppBackendProps } from 'whatsapp-backend';

const props: WhatsAppBackendProps = {
  wabaId: 'waba-0123456789abcdef0123456789abcdef',
  phoneNumberIds: ['phone-number-id-0123456789abcdef0123456789abcdef'],
};
// @ts-expect-error the declarations type the props: a number is no list of ids
const wrong: WhatsAppBackendProps = { phoneNumberIds: 42 };
void wrong;
const app = new App({ outdir: 'cdk.out' });
const stack = new Stack(app, 'Consumer');
const backend = new WhatsAppBackend(stack, 'Messaging', props);
const reports = new Bucket(stack, 'Reports');
backend.apiFunction.addEnvironment('REPORTS_BUCKET', reports.bucketName);
app.synth();
`;

describe('the packed construct', () => {
  it('holds only the compiled construct, its declarations and one index.mjs (with its chunks) per function', { timeout: 4 * STEP_TIMEOUT_MS }, async () => {
    // Prepare: pack (prepack builds), then a fresh app that installs the tarball offline
    await run('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: ROOT, timeout: STEP_TIMEOUT_MS });
    const [tarball] = readdirSync(work).filter((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    const { stdout: listing } = await run('tar', ['-tzf', join(work, tarball!)]);
    const files = listing.trim().split('\n').sort();
    expect(files).toContain('package/dist/lib/index.js');
    expect(files).toContain('package/dist/lib/index.d.ts');
    const shippedFiles = files.filter((f) => f.startsWith('package/dist/lambdas/'));
    for (const h of FUNCTION_HANDLERS) expect(shippedFiles).toContain(`package/dist/lambdas/${h}/index.mjs`);
    // Besides each entry, only its chunks, and only those the build wrote into that folder.
    expect(shippedFiles.filter((f) => !/^package\/dist\/lambdas\/[a-z]+\/(index|chunk-[A-Z0-9]+)\.mjs$/.test(f))).toEqual([]);
    expect(shippedFiles.sort()).toEqual(
      FUNCTION_HANDLERS.flatMap((h) => readdirSync(join(ROOT, 'dist/lambdas', h)).map((f) => `package/dist/lambdas/${h}/${f}`)).sort(),
    );
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);

    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer-app', private: true, type: 'module' }));
    writeFileSync(join(app, 'app.ts'), CONSUMER_APP);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2024', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
        files: ['app.ts'],
      }),
    );
    await run(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts',
        `file:${join(ROOT, 'node_modules/aws-cdk-lib')}`, `file:${join(ROOT, 'node_modules/constructs')}`, join(work, tarball!)],
      { cwd: app, timeout: STEP_TIMEOUT_MS },
    );
    const installed = JSON.parse(readFileSync(join(app, 'node_modules/whatsapp-backend/package.json'), 'utf8')) as Record<string, unknown>;
    expect(installed.private).toBeUndefined();
    expect(installed.dependencies).toBeUndefined();
    expect(Object.keys(installed.peerDependencies as object).sort()).toEqual(['aws-cdk-lib', 'constructs']);
    expect(existsSync(join(app, 'node_modules/esbuild'))).toBe(false);

    // Act: type-check the app against the declarations, then synthesize it
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app, timeout: STEP_TIMEOUT_MS });
    await run(process.execPath, ['app.ts'], { cwd: app, timeout: STEP_TIMEOUT_MS });

    // Assert: the backend's functions deploy the shipped bundles, beside the app's own bucket
    const template = JSON.parse(readFileSync(join(app, 'cdk.out/Consumer.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties?: Record<string, any> }>;
    };
    const resources = Object.entries(template.Resources);
    // The backend's own functions (the custom resources' provider function is CDK's).
    const functions = resources.filter(
      ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME !== undefined,
    );
    // The number-discovery function is deployed only with discoverNumbers; this app names its numbers.
    const expected = FUNCTION_HANDLERS.filter((h) => h !== 'numbers');
    expect(functions).toHaveLength(expected.length);
    const apiFunction = functions.find(([, r]) => r.Properties?.Environment?.Variables?.REPORTS_BUCKET);
    expect(apiFunction, 'the api function, with the environment the app added').toBeDefined();
    const assets = JSON.parse(readFileSync(join(app, 'cdk.out/Consumer.assets.json'), 'utf8')) as {
      files: Record<string, { source: { path: string } }>;
    };
    const deployed = new Set<string>();
    for (const [, fn] of functions) {
      const hash = String(fn.Properties!.Code.S3Key).replace(/\.zip$/, '');
      const assetDir = join(app, 'cdk.out', assets.files[hash]!.source.path);
      // The asset is the function's folder as shipped: the same files, byte for byte.
      const same = (h: string) => {
        const dir = join(app, 'node_modules/whatsapp-backend/dist/lambdas', h);
        const names = readdirSync(dir).sort();
        return JSON.stringify(readdirSync(assetDir).sort()) === JSON.stringify(names) && names.every((f) => readFileSync(join(assetDir, f)).equals(readFileSync(join(dir, f))));
      };
      expect(readdirSync(assetDir)).toContain('index.mjs');
      const matches = FUNCTION_HANDLERS.filter(same);
      expect(matches).toHaveLength(1);
      deployed.add(matches[0]!);
    }
    expect([...deployed].sort()).toEqual([...expected].sort());
    const buckets = resources.filter(([, r]) => r.Type === 'AWS::S3::Bucket').map(([id]) => id);
    expect(buckets.some((id) => id.startsWith('Reports'))).toBe(true);
    expect(buckets.some((id) => id.startsWith('Messaging'))).toBe(true);
  });
});
