/**
 * The sandbox WABA (local only, never deployed): stands in for AWS End User Messaging Social,
 * Meta and WhatsApp users. See `sandbox.ts` for the routes.
 */
export { createSandbox, DEFAULT_STATUS_DELAYS_MS } from './sandbox.ts';
export type { RunningSandbox, Sandbox } from './sandbox.ts';
export {
  DEFAULT_CONFIG_PATH,
  loadSandboxConfig,
  parseSandboxConfig,
  phoneNumberArn,
  phoneNumbersForRuntime,
  wabaArn,
} from './config.ts';
export type { RuntimePhoneNumber, SandboxConfig, SandboxPhoneNumber, SandboxUser } from './config.ts';
export { MEDIA_KINDS, sampleMedia } from './media-samples.ts';
export type { MediaKind, MediaSample } from './media-samples.ts';
export type { InboundResult } from './inbound.ts';
export type {
  ChaosSettings,
  KnownUser,
  OutboxEntry,
  SandboxOptions,
  SandboxState,
  StatusDelays,
  StoredMedia,
} from './types.ts';
