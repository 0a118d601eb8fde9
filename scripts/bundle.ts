/**
 * `npm run bundle` (and `prepack`): each function's bundle, `dist/lambdas/<handler>/index.mjs`, built
 * with the stack's esbuild options (lib/bundling.ts). `npm start -- --bundled` runs these files.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { BUNDLE_DIR, BUNDLING, FUNCTION_HANDLERS } from '../lib/bundling.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Builds every bundle under `outDir` (default: the package's `dist/lambdas`); answers their paths. */
export async function bundleHandlers(outDir = `${ROOT}${BUNDLE_DIR}`): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  await Promise.all(
    FUNCTION_HANDLERS.map(async (name) => {
      const outfile = `${outDir}/${name}/index.mjs`;
      await build({
        entryPoints: [`${ROOT}lambdas/${name}/handler.ts`],
        outfile,
        bundle: true,
        platform: 'node',
        format: BUNDLING.format,
        target: BUNDLING.target,
        mainFields: [...BUNDLING.mainFields],
        minify: BUNDLING.minify,
        sourcemap: BUNDLING.sourceMap,
        external: [...BUNDLING.externalModules],
        banner: { js: BUNDLING.banner },
        logLevel: 'warning',
      });
      files[name] = outfile;
    }),
  );
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = await bundleHandlers();
  for (const [name, file] of Object.entries(files)) console.log(`${name}: ${file}`);
}
