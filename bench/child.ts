/**
 * Runs one bench function in a process of its own and writes its result as JSON: the local
 * runtime's deployed handlers serve one runtime per process, so each bench that starts a runtime
 * runs here. `node bench/child.ts <module> <export> <options as JSON> <result file>`.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const [modulePath, exportName, options, resultFile] = process.argv.slice(2);
if (!modulePath || !exportName || options === undefined || !resultFile) throw new Error('usage: child.ts <module> <export> <options JSON> <result file>');
const mod = (await import(pathToFileURL(resolve(modulePath)).href)) as Record<string, (opts: unknown) => Promise<unknown>>;
const run = mod[exportName];
if (typeof run !== 'function') throw new Error(`${modulePath} exports no function ${exportName}`);
writeFileSync(resultFile, JSON.stringify(await run(JSON.parse(options))));
// The servers a bench started are stopped by it; whatever keeps the loop alive past that is not ours to wait for.
process.exit(0);
