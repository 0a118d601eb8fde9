/**
 * Every function's bundle, built as the stack builds it (ESM, minified, Node 24, the SDK left to the
 * runtime), and again with the SDK bundled in (tree-shaken): size, and cold load time against
 * `node -e 0` (the median of several fresh processes that import the bundle; handlers wire their
 * clients on first use, so this is the module's own start-up).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { LAMBDA_RUNTIME } from '../shared/resource-spec.ts';

const BANNER = "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/** Median wall time of `runs` fresh `node` processes with these arguments, in ms. */
function medianMs(args: string[], runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, args, { stdio: 'ignore', env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' } });
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

export interface BundleFigures {
  name: string;
  variant: 'sdk from the runtime' | 'sdk bundled';
  bytes: number;
  coldMs: number;
  /** Cold load over `node -e 0`, measured in the same stretch. */
  ratio: number;
}

export async function benchBundles(opts: { runs: number }): Promise<{ nodeMs: number; bundles: BundleFigures[] }> {
  const out = resolve('.local/bench-bundles');
  rmSync(out, { recursive: true, force: true });
  const names = readdirSync('lambdas').filter((d) => statSync(join('lambdas', d)).isDirectory());
  const bundles: BundleFigures[] = [];
  let nodeMs = 0;
  for (const name of names) {
    for (const variant of ['sdk from the runtime', 'sdk bundled'] as const) {
      const dir = join(out, `${name}-${variant === 'sdk bundled' ? 'bundled' : 'runtime'}`);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, 'index.mjs');
      await build({
        entryPoints: [join('lambdas', name, 'handler.ts')],
        outfile: file,
        bundle: true,
        minify: true,
        format: 'esm',
        platform: 'node',
        target: `node${LAMBDA_RUNTIME.nodeMajor}`,
        mainFields: ['module', 'main'],
        external: variant === 'sdk bundled' ? [] : ['@aws-sdk/*'],
        banner: { js: BANNER },
        logLevel: 'silent',
      });
      // `node -e 0` measured right before each bundle, so both see the same load on the machine.
      const base = medianMs(['-e', '0'], opts.runs);
      const coldMs = medianMs(['--input-type=module', '-e', `await import(${JSON.stringify(file)})`], opts.runs);
      nodeMs = Math.max(nodeMs, base);
      bundles.push({ name, variant, bytes: statSync(file).size, coldMs, ratio: coldMs / base });
    }
  }
  return { nodeMs, bundles };
}

if (import.meta.main) {
  console.table((await benchBundles({ runs: 5 })).bundles);
}
