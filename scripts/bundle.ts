/**
 * `npm run bundle` (and `prepack`, and `cdk synth` through cdk.json): each function's bundle,
 * `dist/lambdas/<handler>/index.mjs` and its chunks, the very files the stack deploys (`Code.fromAsset`) and
 * `npm start -- --bundled` runs. The options and the build live in lib/bundling.ts.
 */
import { fileURLToPath } from 'node:url';
import { buildBundles } from '../lib/bundling.ts';

/** Builds every bundle; answers their paths. */
export async function bundleHandlers(): Promise<Record<string, string>> {
  return buildBundles();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [name, file] of Object.entries(buildBundles())) console.log(`${name}: ${file}`);
}
