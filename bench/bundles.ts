/**
 * Every function's bundle, built with the stack's options (lib/bundling.ts: ESM, minified, Node 24,
 * the SDK bundled in), and again with the SDK left to the runtime: size, and cold load against
 * `node -e 0` (the median of several fresh processes that import the bundle, with Powertools Tracer
 * loaded as in Lambda). Each process reports its own CPU time (user + system): on a shared machine
 * that is far steadier than wall time, which is reported beside it.
 *
 * A handler imports its Lambda wiring (`lambdas/<name>/wiring.ts`: adapters, SDK clients) on its
 * first invocation, from chunks of its own (code splitting), so the cold load neither reads nor
 * evaluates it. What that first invocation adds is measured too, not hidden: the variants
 * "…, wiring loaded" import the handler and its wiring together (what a cold start costs up to the
 * first request's own work). Size is what a load reads (the entry and its static chunks); the
 * whole folder is reported beside it.
 *
 * The observability the functions load (Powertools Logger, Tracer with the X-Ray SDK, and Metrics,
 * from `shared/observability.ts`, `shared/tracing.ts` and `shared/metrics.ts`) is measured alone,
 * bundled the same way, right beside the functions: the Logger, the Logger and the Tracer, and all
 * three, which is what the api, inbound, media and webhooks functions load before any code of their
 * own (the events function loads the Logger and the Tracer; broadcasts, numbers and templates the
 * Logger, and the Tracer with their wiring). So the part of each ratio that is the function's is seen.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildBundle, EXTERNAL_MODULES, FUNCTION_HANDLERS } from '../lib/bundling.ts';

/** Prints the process's CPU time as its last line. */
const PRINT_CPU = 'process.stdout.write("\\n" + JSON.stringify(process.cpuUsage()))';
/** As in Lambda: the tracer is loaded (tracing.ts loads it where traces are sent), logs silent. */
const ENV = { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_TRACE_ENABLED: 'true', AWS_REGION: process.env.AWS_REGION ?? 'us-east-1' };

/** Medians over `runs` fresh `node` processes with these arguments: CPU and wall time, in ms. */
function medians(args: string[], runs: number): { cpuMs: number; wallMs: number } {
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const out = execFileSync(process.execPath, args, { env: ENV }).toString();
    wall.push(performance.now() - t0);
    const usage = JSON.parse(out.trim().split('\n').pop()!) as { user: number; system: number };
    cpu.push((usage.user + usage.system) / 1000);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
  return { cpuMs: median(cpu), wallMs: median(wall) };
}

export type BundleVariant = 'sdk bundled' | 'sdk from the runtime' | 'sdk bundled, wiring loaded' | 'sdk from the runtime, wiring loaded';

export interface BundleFigures {
  name: string;
  variant: BundleVariant;
  /** Whether this is how the stack builds it (lib/bundling.ts). */
  deployed: boolean;
  /** What a cold load reads: the entry and the chunks it imports statically. */
  bytes: number;
  /** Every file of the asset folder, the chunks loaded later through `import()` included. */
  totalBytes: number;
  /** CPU time of a process that imports the bundle. */
  coldMs: number;
  wallMs: number;
  /** CPU time over that of `node -e 0`, measured right before. */
  ratio: number;
}

/** The functions' observability, measured alone (see the header): a name, and the modules of one entry. */
const OBSERVABILITY: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['Logger', ['shared/observability.ts']],
  // tracing.ts imports the Logger (observability.ts) itself.
  ['Logger and Tracer', ['shared/tracing.ts']],
  ['Logger, Tracer and Metrics', ['shared/observability.ts', 'shared/tracing.ts', 'shared/metrics.ts']],
];

export async function benchBundles(opts: { runs: number }): Promise<{ nodeMs: number; bundles: BundleFigures[]; observability: BundleFigures[] }> {
  // Inside the repository, so that the runtime variant finds @aws-sdk/* in node_modules.
  const out = resolve('.local/bench-bundles');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const bundles: BundleFigures[] = [];
  let nodeMs = 0;
  /** Size and cold load of `entry` bundled into `dir`, against `node -e 0` measured right before. */
  const measure = (name: string, variant: BundleVariant, deployed: boolean, dir: string, build: { external: string[]; entry?: string }): BundleFigures => {
    const built = buildBundle(name, dir, build);
    // `node -e 0` measured right before each bundle, so both see the same load on the machine.
    const base = medians(['-e', PRINT_CPU], opts.runs);
    const cold = medians(['--input-type=module', '-e', `await import(${JSON.stringify(built.entry)}); ${PRINT_CPU}`], opts.runs);
    nodeMs = Math.max(nodeMs, base.cpuMs);
    return { name, variant, deployed, bytes: built.loadBytes, totalBytes: built.totalBytes, coldMs: cold.cpuMs, wallMs: cold.wallMs, ratio: cold.cpuMs / base.cpuMs };
  };
  const observability = OBSERVABILITY.map(([name, modules], i) => {
    const entry = join(out, `observability-${i}-entry.ts`);
    writeFileSync(entry, modules.map((m) => `export * from ${JSON.stringify(resolve(m))};\n`).join(''));
    return measure(name, 'sdk bundled', false, join(out, `observability-${i}`), { external: [], entry });
  });
  const deployedVariant: BundleVariant = EXTERNAL_MODULES.includes('@aws-sdk/*') ? 'sdk from the runtime' : 'sdk bundled';
  for (const name of FUNCTION_HANDLERS) {
    const wiring = resolve('lambdas', name, 'wiring.ts');
    for (const variant of ['sdk bundled', 'sdk from the runtime', 'sdk bundled, wiring loaded', 'sdk from the runtime, wiring loaded'] as const) {
      const wired = variant.endsWith('wiring loaded');
      if (wired && !existsSync(wiring)) continue;
      const sdkBundled = variant.startsWith('sdk bundled');
      const dir = join(out, `${name}-${sdkBundled ? 'bundled' : 'runtime'}${wired ? '-wired' : ''}`);
      let entry: string | undefined;
      if (wired) {
        // The handler's module and its wiring's, both evaluated at load.
        entry = join(out, `${name}-entry-${sdkBundled ? 'bundled' : 'runtime'}.ts`);
        writeFileSync(entry, `export * from ${JSON.stringify(resolve('lambdas', name, 'handler.ts'))};\nexport * as wiring from ${JSON.stringify(wiring)};\n`);
      }
      bundles.push(measure(name, variant, variant === deployedVariant, dir, { external: sdkBundled ? [] : ['@aws-sdk/*'], ...(entry && { entry }) }));
    }
  }
  return { nodeMs, bundles, observability };
}

if (import.meta.main) {
  const { bundles, observability } = await benchBundles({ runs: Number(process.env.BENCH_COLD_RUNS ?? 7) });
  console.table([...observability, ...bundles]);
}
