/**
 * What a function's cold load evaluates. A handler reaches its adapters and SDK clients only through
 * `import()` of its wiring (shared/lazy.ts), so the bundle does not run them until a path uses them;
 * a static import of an SDK client from a handler would quietly bring them back. Bundles take Node's
 * built-ins with `process.getBuiltinModule`, never through an ES module facade.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
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
  /** The module graph of every handler, built once (not written). */
  let graph: Promise<Metafile> | undefined;
  const everyHandlersGraph = () =>
    (graph ??= build({
      ...esbuildOptions('api', scratch),
      entryPoints: FUNCTION_HANDLERS.map((h) => join(PACKAGE_ROOT, 'lambdas', h, 'handler.ts')),
      write: false,
      minify: false,
      metafile: true,
      logLevel: 'silent',
    }).then((r) => r.metafile));

  it('statically imports no AWS SDK client and no adapter that makes one: the wiring comes through import()', async () => {
    const meta = await everyHandlersGraph();
    for (const h of FUNCTION_HANDLERS) {
      const reached = [...staticallyReached(meta, `lambdas/${h}/handler.ts`)];
      expect(reached.filter((p) => /@aws-sdk\/client-|shared\/adapters\/aws-clients\.ts|lambdas\/\w+\/wiring\.ts/.test(p)), h).toEqual([]);
      // ...and the wiring is in the bundle, reached through import().
      expect(meta.inputs[`lambdas/${h}/handler.ts`]!.imports.some((i) => i.kind === 'dynamic-import' && i.path === `lambdas/${h}/wiring.ts`), h).toBe(true);
    }
  });

  it('builds no classic zod schema on the event path, and no schema at all in the events function', async () => {
    const meta = await everyHandlersGraph();
    const zodReached = (h: string) => [...staticallyReached(meta, `lambdas/${h}/handler.ts`)].filter((p) => p.includes('node_modules/zod/'));
    const classic = (paths: string[]) => paths.filter((p) => p.includes('/zod/v4/classic/'));
    // The inbound and media functions check events and jobs with zod/mini (shared/zod-locale.ts).
    for (const h of ['inbound', 'media']) {
      expect(zodReached(h).length, h).toBeGreaterThan(0);
      expect(classic(zodReached(h)), h).toEqual([]);
    }
    // The events function builds events and never checks them (their schemas are in event-schemas.ts).
    expect(zodReached('events')).toEqual([]);
    // The api builds its request schemas with classic zod, so the check above would see it there.
    expect(classic(zodReached('api')).length).toBeGreaterThan(0);
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
    const built = buildBundle('numbers', join(scratch, 'numbers'));
    expect(built.entry).toBe(join(scratch, 'numbers', 'index.mjs'));
    expect(readdirSync(join(scratch, 'numbers')).sort()).toEqual(built.files.map((f) => basename(f)).sort());
    for (const file of built.files) {
      const text = readFileSync(file, 'utf8');
      const imported = [...text.matchAll(/\bimport\s*[^;"'(]*?from\s*["']([^"']+)["']/g)].map((m) => m[1]!);
      expect(imported.filter((m) => m !== 'node:module' && !/^\.\/chunk-\w+\.mjs$/.test(m)), basename(file)).toEqual([]);
      expect(imported, basename(file)).toContain('node:module');
    }
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(built.entry)}); console.log(typeof m.handler)`], {
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' },
    }).toString();
    expect(out.trim()).toBe('function');
  });

  it('keeps the wiring and the SDK clients out of what a cold load reads: they are chunks loaded by import()', () => {
    const built = buildBundle('inbound', join(scratch, 'inbound'));
    expect(built.files.length).toBeGreaterThan(1);
    // A static import of the wiring would put the DynamoDB client into the load.
    expect(built.loadBytes).toBeLessThan(built.totalBytes / 2);
    const text = (files: string[]) => files.map((f) => readFileSync(f, 'utf8')).join('\n');
    // The DynamoDB client's JSON protocol names its service in every request's target.
    expect(text(built.loadFiles)).not.toContain('DynamoDB_20120810');
    expect(text(built.files)).toContain('DynamoDB_20120810');
  });
});
