/**
 * The import boundaries of the code. Every import is found twice over: by esbuild's own reading of
 * the sources (its metafile: runtime imports, re-exports and dynamic imports, resolved), and by a
 * scan of the text for the imports esbuild drops because they carry only types (`import type`, or
 * bindings used only as types), which cross a boundary just the same.
 * (dependency-cruiser reads `.ts` files through the TypeScript compiler API, which TypeScript 7 no
 * longer ships; esbuild, already a dependency, reads them.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { build } from 'esbuild';

export interface BoundaryRule {
  name: string;
  /** Files (relative to the root, `/`-separated) the rule applies to. */
  from: RegExp;
  /** What they may not import: a file relative to the root, or a package name. */
  to: RegExp;
}

export const RULES: readonly BoundaryRule[] = [
  { name: 'the domain imports no adapter, nothing of lambdas/, lib/ or local/', from: /^shared\/domain\//, to: /^(shared\/adapters|lambdas|lib|local)\// },
  { name: 'the domain imports no AWS SDK', from: /^shared\/domain\//, to: /^@aws-sdk\// },
  { name: 'shared/whatsapp imports nothing of the domain, the ports or the adapters', from: /^shared\/whatsapp\//, to: /^shared\/(domain|ports|adapters)\// },
  { name: 'the ports import no adapter and no AWS SDK', from: /^shared\/ports\//, to: /^(shared\/adapters\/|@aws-sdk\/)/ },
  { name: 'handlers import nothing of lib/', from: /^lambdas\//, to: /^lib\// },
];

export interface Violation {
  rule: string;
  from: string;
  to: string;
}

function sourcesUnder(root: string, dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const d of dirs) walk(join(root, d));
  return out;
}

/** The module specifiers of a source's static imports and re-exports, as written. */
function specifiersIn(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm)) found.push(m[1]!);
  return found;
}

/** Every import of the sources under `dirs` of `root` that a rule forbids. */
export async function boundaryViolations(root: string, dirs: readonly string[] = ['shared', 'lambdas'], rules: readonly BoundaryRule[] = RULES): Promise<Violation[]> {
  const sources = sourcesUnder(root, dirs);
  const result = await build({
    absWorkingDir: root,
    entryPoints: sources,
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outdir: join(root, '.boundaries-out'),
    logLevel: 'silent',
  });
  const rel = (abs: string) => relative(root, abs).split('\\').join('/');
  const edges = new Set<string>();
  for (const [file, input] of Object.entries(result.metafile.inputs)) {
    for (const imp of input.imports) edges.add(JSON.stringify([rel(join(root, file)), imp.external ? imp.path : rel(join(root, imp.path))]));
  }
  for (const file of sources) {
    for (const spec of specifiersIn(readFileSync(file, 'utf8'))) {
      edges.add(JSON.stringify([rel(file), spec.startsWith('.') ? rel(join(dirname(file), spec)) : spec]));
    }
  }
  const violations: Violation[] = [];
  for (const edge of edges) {
    const [from, to] = JSON.parse(edge) as [string, string];
    for (const rule of rules) {
      if (rule.from.test(from) && rule.to.test(to)) violations.push({ rule: rule.name, from, to });
    }
  }
  return violations;
}

/** Words of the AWS SDK's errors: exception names, the SDK error's own fields, DynamoDB's "busy" names. */
export const AWS_ERROR_WORDS =
  /\b[A-Z][A-Za-z]*Exception\b|\$metadata|\$retryable|httpStatusCode|\bSlowDown\b|\bRequestLimitExceeded\b|\bProvisionedThroughputExceeded\b|\bTransactionConflict\b|\bThrottlingError\b/g;

/** Each file under shared/domain of `root` that names an AWS error, with the words it uses. */
export function awsWordsInDomain(root: string): Array<{ file: string; words: string[] }> {
  const found: Array<{ file: string; words: string[] }> = [];
  for (const file of sourcesUnder(root, ['shared/domain'])) {
    const words = [...new Set(readFileSync(file, 'utf8').match(AWS_ERROR_WORDS) ?? [])];
    if (words.length) found.push({ file: relative(root, file).split('\\').join('/'), words });
  }
  return found;
}

/**
 * HTTP statuses (those an API answers: 400, 404, 409, 422, 429, 500, 503 …) written under shared/domain, in code or comments: the domain speaks in
 * error kinds and codes, and lambdas/api/http-errors.ts maps them to statuses. Sizes (`400 KB`,
 * `500 * KB`) and arguments (`max(500)`) are not statuses.
 */
const HTTP_STATUS = /(?<![\w.(-])(?:40[013459]|41[035]|42[29]|50[0234])(?![\w)]|\s*(?:\*\s*)?KB)/g;

export function httpStatusesInDomain(root: string): Array<{ file: string; statuses: string[] }> {
  const found: Array<{ file: string; statuses: string[] }> = [];
  for (const file of sourcesUnder(root, ['shared/domain'])) {
    const statuses = [...new Set(readFileSync(file, 'utf8').match(HTTP_STATUS) ?? [])];
    if (statuses.length) found.push({ file: relative(root, file).split('\\').join('/'), statuses });
  }
  return found;
}
