/**
 * What a function's cold load evaluates. A handler reaches its adapters and SDK clients only through
 * `import()` of its wiring (shared/lazy.ts), so the bundle does not run them until a path uses them;
 * a static import of an SDK client from a handler would quietly bring them back. Bundles take Node's
 * built-ins with `process.getBuiltinModule`, never through an ES module facade.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBundle, builtinsWithoutFacades, ESM_REQUIRE_BANNER, esbuildOptions, FUNCTION_HANDLERS, PACKAGE_ROOT } from '../../lib/bundling.ts';

/** The inputs a bundle evaluates at load: reached from the entry by static imports only. */
function staticallyReached(meta: Metafile, entry: string): Set<string> {
  const seen = new Set<string>();
  const walk = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const i of meta.inputs[path]?.imports ?? []) if (i.kind === 'import-statement' && !i.external) walk(i.path);
  };
  walk(entry);
  return seen;
}

describe('the cold load of a function', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'cold-load-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('statically imports no AWS SDK client and no adapter that makes one: the wiring comes through import()', async () => {
    const result = await build({
      ...esbuildOptions('api', join(scratch, 'x.mjs')),
      entryPoints: FUNCTION_HANDLERS.map((h) => join(PACKAGE_ROOT, 'lambdas', h, 'handler.ts')),
      outfile: undefined,
      outdir: scratch,
      write: false,
      minify: false,
      metafile: true,
      logLevel: 'silent',
    });
    const meta = result.metafile;
    for (const h of FUNCTION_HANDLERS) {
      const reached = [...staticallyReached(meta, `lambdas/${h}/handler.ts`)];
      expect(reached.filter((p) => /@aws-sdk\/client-|shared\/adapters\/aws-clients\.ts|lambdas\/\w+\/wiring\.ts/.test(p)), h).toEqual([]);
      // ...and the wiring is in the bundle, reached through import().
      expect(meta.inputs[`lambdas/${h}/handler.ts`]!.imports.some((i) => i.kind === 'dynamic-import' && i.path === `lambdas/${h}/wiring.ts`), h).toBe(true);
    }
  });

  it('takes built-in modules with process.getBuiltinModule, before any code, and leaves other imports alone', () => {
    const code = `${ESM_REQUIRE_BANNER}\nvar a=1;import b from"node:http";import{join as c,sep}from"path";import*as d from"node:zlib";import e from"./local.js";var f=async()=>(await import("node:async_hooks")).AsyncLocalStorage;`;
    const out = builtinsWithoutFacades(code);
    expect(out.startsWith(`${ESM_REQUIRE_BANNER}\nvar b=process.getBuiltinModule("node:http");var{join:c,sep}=process.getBuiltinModule("path");var d=process.getBuiltinModule("node:zlib");`)).toBe(true);
    expect(out).toContain('import e from"./local.js";');
    expect(out).toContain('(await Promise.resolve().then(()=>process.getBuiltinModule("node:async_hooks"))).AsyncLocalStorage');
    expect(out).not.toMatch(/from"(node:http|path|node:zlib)"/);
    // A form it does not know fails the build instead of leaving a slow import.
    expect(() => builtinsWithoutFacades('import a,{b}from"node:fs";')).toThrow(/node:fs/);
  });

  it('a built bundle keeps no ES import of a built-in, loads, and answers its handler', () => {
    const file = buildBundle('numbers', join(scratch, 'numbers', 'index.mjs'));
    const text = readFileSync(file, 'utf8');
    expect([...text.matchAll(/\bimport\s*[^;"'(]*?from\s*["']([^"']+)["']/g)].map((m) => m[1])).toEqual(['node:module']);
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(file)}); console.log(typeof m.handler)`], {
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' },
    }).toString();
    expect(out.trim()).toBe('function');
  });
});
