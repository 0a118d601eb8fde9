/**
 * The package's entry: the construct, its props and the types they name. Compiled to
 * `dist/lib/index.js` with declarations (`npm run build`); the functions' bundles ship beside it
 * in `dist/lambdas/`, so an app that embeds the construct needs no esbuild.
 */
export { WhatsAppBackend, PHONE_NUMBER_ID_PATTERN, type WhatsAppBackendProps } from './whatsapp-backend.ts';
export { WhatsAppBackendStack, type WhatsAppBackendStackProps } from './whatsapp-backend-stack.ts';
export type { HttpApiOptions } from './constructs/http-api.ts';
export type { MediaEncryption, MediaStoreOptions } from './constructs/media-store.ts';
export type { MonitoringOptions } from './constructs/monitoring.ts';
export type { BroadcastOptions } from './constructs/broadcast-processor.ts';
