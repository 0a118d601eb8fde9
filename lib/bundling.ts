/**
 * Every function's bundle, from one place: `npm run bundle` (also run by `prepack`, by `npm start --
 * --bundled` when a bundle is missing, and by `cdk synth` through cdk.json) writes
 * `dist/lambdas/<handler>/index.mjs`, and the stack deploys those very files (`Code.fromAsset`), so a
 * consumer of the packed construct needs no esbuild. esbuild is only loaded to build, in a checkout.
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';
import { LAMBDA_RUNTIME } from '../shared/resource-spec.ts';

/** The functions, by their folder under `lambdas/` (each has a `handler.ts` that exports `handler`). */
export const FUNCTION_HANDLERS = ['api', 'broadcasts', 'events', 'inbound', 'media', 'numbers', 'templates', 'webhooks'] as const;
export type FunctionHandler = (typeof FUNCTION_HANDLERS)[number];

/** Bundled code is ESM; CommonJS dependencies inside it still call `require`. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/**
 * Modules left out of the bundles, for the Lambda runtime to provide: none. The AWS SDK is bundled
 * (tree-shaken): measured with bench/bundles.ts, each bundle loads faster with its own SDK than
 * with the runtime's (README, "Bundles and cold start"), and the code runs the very SDK versions of
 * package-lock.json, the ones the tests and `npm start -- --bundled` run, not whatever version the
 * runtime carries that day.
 */
export const EXTERNAL_MODULES: readonly string[] = [];

/** Where the bundles live, relative to the package root: `<BUNDLE_DIR>/<handler>/index.mjs`. */
export const BUNDLE_DIR = 'dist/lambdas';

/** The package root: the nearest folder above this module with a package.json (source or compiled). */
export const PACKAGE_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('whatsapp-backend: no package.json above lib/bundling');
    dir = up;
  }
  return dir;
})();

/** The asset folder of a function: it holds its `index.mjs` and nothing else. */
export const bundleDir = (handler: string, root = PACKAGE_ROOT): string => join(root, BUNDLE_DIR, handler);

/** The esbuild options of a function's bundle (`external` overridable for the bench). */
export function esbuildOptions(
  handler: string,
  outfile: string,
  { root = PACKAGE_ROOT, external = [...EXTERNAL_MODULES] }: { root?: string; external?: string[] } = {},
): BuildOptions {
  return {
    entryPoints: [join(root, 'lambdas', handler, 'handler.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${LAMBDA_RUNTIME.nodeMajor}`,
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: false,
    external,
    banner: { js: ESM_REQUIRE_BANNER },
    logLevel: 'warning',
  };
}

/**
 * Builds these functions' bundles with esbuild (loaded only now: a packed construct never needs
 * it). Each file is written elsewhere and renamed into place, so a synthesis or another process
 * reading the folder never sees half a bundle. Answers the files.
 */
export function buildBundles(handlers: readonly string[] = FUNCTION_HANDLERS, root = PACKAGE_ROOT): Record<string, string> {
  const { buildSync } = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  mkdirSync(join(root, 'dist'), { recursive: true });
  const scratch = mkdtempSync(join(root, 'dist', '.bundling-'));
  const files: Record<string, string> = {};
  try {
    for (const handler of handlers) {
      const built = join(scratch, handler, 'index.mjs');
      buildSync(esbuildOptions(handler, built, { root }));
      mkdirSync(bundleDir(handler, root), { recursive: true });
      files[handler] = join(bundleDir(handler, root), 'index.mjs');
      renameSync(built, files[handler]);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return files;
}

/**
 * The asset folders of every function, built first when one is missing and the sources are there:
 * a fresh clone synthesizes without a separate step. A packed construct ships its bundles; without
 * them (and without sources) this says how to make them.
 */
export function ensureBundles(root = PACKAGE_ROOT): Record<FunctionHandler, string> {
  const missing = FUNCTION_HANDLERS.filter((h) => !existsSync(join(bundleDir(h, root), 'index.mjs')));
  if (missing.length > 0) {
    if (!existsSync(join(root, 'lambdas'))) {
      throw new Error(
        `whatsapp-backend: the function bundles (${missing.join(', ')}) are missing under ${join(root, BUNDLE_DIR)}; run \`npm run bundle\` in the package.`,
      );
    }
    buildBundles(missing, root);
  }
  return Object.fromEntries(FUNCTION_HANDLERS.map((h) => [h, bundleDir(h, root)])) as Record<FunctionHandler, string>;
}
