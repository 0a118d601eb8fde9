/**
 * How every function's code is bundled, from one place: the stack's functions (NodejsFunction) and
 * `npm run bundle` (the bundles `npm start -- --bundled` runs, built at `prepack`) use the same
 * esbuild version and these options, on the same entry files. Plain data: no CDK import, so the
 * bundle script loads it cheaply.
 */
import { LAMBDA_RUNTIME } from '../shared/resource-spec.ts';

/** The functions, by their folder under `lambdas/` (each has a `handler.ts` that exports `handler`). */
export const FUNCTION_HANDLERS = ['api', 'broadcasts', 'events', 'inbound', 'media', 'numbers', 'templates', 'webhooks'] as const;

/** Bundled code is ESM; CommonJS dependencies inside it still call `require`. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

/** The esbuild options of every function. */
export const BUNDLING = {
  format: 'esm',
  target: `node${LAMBDA_RUNTIME.nodeMajor}`,
  mainFields: ['module', 'main'],
  minify: true,
  sourceMap: false,
  /** The AWS SDK is left to the Lambda runtime. */
  externalModules: ['@aws-sdk/*'],
  banner: ESM_REQUIRE_BANNER,
} as const;

/** Where `npm run bundle` writes `<handler>/index.mjs`, relative to the package root. */
export const BUNDLE_DIR = 'dist/lambdas';
