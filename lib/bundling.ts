/**
 * Every function's bundle, from one place: `npm run bundle` (also run by `prepack`, by `npm start --
 * --bundled` when a bundle is missing, and by `cdk synth` through cdk.json) writes
 * `dist/lambdas/<handler>/index.mjs` (and its chunks), and the stack deploys those very files (`Code.fromAsset`), so a
 * consumer of the packed construct needs no esbuild. esbuild is only loaded to build, in a checkout.
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
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

/**
 * The asset folder of a function: its entry `index.mjs` (what Lambda loads, `index.handler`) and
 * the chunks it loads, `chunk-<hash>.mjs`: the ones the entry imports statically at load, the rest
 * through `import()` when a path first needs them (its wiring, its SDK clients).
 */
export const bundleDir = (handler: string, root = PACKAGE_ROOT): string => join(root, BUNDLE_DIR, handler);

/** The entry file of every function's asset folder. */
export const ENTRY_FILE = 'index.mjs';

/** `external` and `entry` are overridable for the bench. */
export interface BundleOptions {
  root?: string;
  external?: string[];
  /** The entry module. @default `lambdas/<handler>/handler.ts` */
  entry?: string;
}

/**
 * The esbuild options of a function's bundle, written into `outdir`: the entry `index.mjs` and its
 * chunks. Code split: a module reached only through `import()` (a handler's wiring, with its
 * adapters and SDK clients; the tracer) goes into chunks of its own, which Node neither reads nor
 * compiles until that `import()` runs. In one file, V8 would parse all of it at every cold start.
 */
export function esbuildOptions(
  handler: string,
  outdir: string,
  { root = PACKAGE_ROOT, external = [...EXTERNAL_MODULES], entry = join(root, 'lambdas', handler, 'handler.ts') }: BundleOptions = {},
): BuildOptions {
  return {
    entryPoints: { index: entry },
    outdir,
    splitting: true,
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
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
 * Node's built-in modules, taken with `process.getBuiltinModule` instead of `import`. esbuild keeps a
 * built-in as an ESM import, and Node answers one with an ES module facade that reads every export
 * of the module once, lazy getters included: `import http from 'node:http'` so loads undici (the
 * getter of `http.WebSocket`), and with it http2, tls and much of crypto, about 100 ms of CPU at
 * start-up that nothing uses. `getBuiltinModule` answers the module's exports object and reads no
 * getter; the bindings keep their names and are set before any code of the bundle runs, as an
 * import's would be. (`import * as x` becomes the exports object: `x.default` is not kept, and
 * esbuild only writes `import * as` for code that reads named members.) Throws if a built-in import
 * is left in a form this does not know, so a new form fails the build instead of slowing it.
 */
export function builtinsWithoutFacades(code: string): string {
  const builtins = new Set(builtinModules.flatMap((m) => (m.startsWith('node:') ? [m] : [m, `node:${m}`])));
  const taken: string[] = [];
  const IMPORT = /\bimport\s*(\*\s*as\s*[\w$]+|[\w$]+|\{[^}]*\})\s*from\s*"([^"]+)";?/g;
  const rewritten = code.replace(IMPORT, (whole, what: string, from: string) => {
    if (!builtins.has(from)) return whole;
    const module = `process.getBuiltinModule(${JSON.stringify(from)})`;
    if (what.startsWith('{')) {
      const names = what.slice(1, -1).split(',').map((n) => n.trim()).filter(Boolean);
      taken.push(`var{${names.map((n) => n.replace(/\s+as\s+/, ':')).join(',')}}=${module};`);
    } else taken.push(`var ${what.replace(/^\*\s*as\s*/, '')}=${module};`);
    return '';
  });
  // A dynamic `import()` of a built-in (the SDK's HTTP handler takes node:http so, on its first
  // request) answers the exports object too: the code of the bundle reads named members of it (or
  // `x.default ?? x`).
  const rewrittenDynamic = rewritten.replace(/\bimport\(\s*"([^"]+)"\s*\)/g, (whole, from: string) =>
    builtins.has(from) ? `Promise.resolve().then(()=>process.getBuiltinModule(${JSON.stringify(from)}))` : whole);
  const left = [...rewrittenDynamic.matchAll(/\bimport\b[^;"]*?"([^"]+)"/g)].map((m) => m[1]!).filter((m) => builtins.has(m) && m !== 'node:module');
  if (left.length > 0) throw new Error(`bundling: imports of built-in modules left as ESM (${[...new Set(left)].join(', ')}): a form builtinsWithoutFacades does not know`);
  // After the banner (its own line), before any code of the bundle.
  const bannerEnd = rewrittenDynamic.startsWith(ESM_REQUIRE_BANNER) ? ESM_REQUIRE_BANNER.length : 0;
  return `${rewrittenDynamic.slice(0, bannerEnd)}\n${taken.join('')}${rewrittenDynamic.slice(bannerEnd)}`;
}

/** A built bundle: its files, and the bytes its cold load reads. */
export interface BuiltBundle {
  /** The entry, `<outdir>/index.mjs`. */
  entry: string;
  /** Every file of the folder, the entry first. */
  files: string[];
  /** The entry and the chunks it imports statically: what a cold load reads and compiles. */
  loadFiles: string[];
  /** Their bytes. */
  loadBytes: number;
  /** The bytes of every file. */
  totalBytes: number;
}

/** Builds one function's bundle into `outdir` (the options of {@link esbuildOptions}). */
export function buildBundle(handler: string, outdir: string, opts: BundleOptions = {}): BuiltBundle {
  const { buildSync } = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  const built = buildSync({ ...esbuildOptions(handler, outdir, opts), write: false, metafile: true });
  mkdirSync(outdir, { recursive: true });
  const sizes = new Map<string, number>();
  for (const out of built.outputFiles) {
    const text = builtinsWithoutFacades(out.text);
    writeFileSync(out.path, text);
    sizes.set(basename(out.path), Buffer.byteLength(text));
  }
  // What the entry imports statically, chunk by chunk (the metafile's outputs, by their names).
  const outputs = Object.fromEntries(Object.entries(built.metafile!.outputs).map(([path, o]) => [basename(path), o.imports]));
  const loaded = new Set<string>();
  const walk = (name: string) => {
    if (loaded.has(name)) return;
    loaded.add(name);
    for (const i of outputs[name] ?? []) if (i.kind === 'import-statement' && !i.external) walk(basename(i.path));
  };
  walk(ENTRY_FILE);
  const names = [ENTRY_FILE, ...[...sizes.keys()].filter((n) => n !== ENTRY_FILE).sort()];
  const sum = (xs: Iterable<string>) => [...xs].reduce((n, x) => n + (sizes.get(x) ?? 0), 0);
  const paths = (xs: string[]) => xs.map((n) => join(outdir, n));
  return { entry: join(outdir, ENTRY_FILE), files: paths(names), loadFiles: paths(names.filter((n) => loaded.has(n))), loadBytes: sum(loaded), totalBytes: sum(sizes.keys()) };
}

/**
 * Builds these functions' bundles with esbuild (loaded only now: a packed construct never needs
 * it). Each folder is built elsewhere and renamed into place (the old one renamed aside first), so
 * a synthesis or another process never reads half a bundle. Answers the entry files.
 */
export function buildBundles(handlers: readonly string[] = FUNCTION_HANDLERS, root = PACKAGE_ROOT): Record<string, string> {
  mkdirSync(join(root, BUNDLE_DIR), { recursive: true });
  const scratch = mkdtempSync(join(root, 'dist', '.bundling-'));
  const files: Record<string, string> = {};
  try {
    for (const handler of handlers) {
      const built = join(scratch, handler);
      buildBundle(handler, built, { root });
      const dir = bundleDir(handler, root);
      if (existsSync(dir)) renameSync(dir, join(scratch, `${handler}.old`));
      renameSync(built, dir);
      files[handler] = join(dir, ENTRY_FILE);
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
  const missing = FUNCTION_HANDLERS.filter((h) => !existsSync(join(bundleDir(h, root), ENTRY_FILE)));
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
