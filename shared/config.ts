/**
 * Configuration from process.env, parsed once with zod. Each handler asks for the variables it
 * needs; every missing or malformed one is listed in a single error.
 */
import * as z from 'zod';
import { BROADCAST_DEFAULTS, DEFAULT_RETENTION_DAYS } from './resource-spec.ts';

const EnvSchema = z.object({
  TABLE_NAME: z.string().min(1),
  MEDIA_BUCKET: z.string().min(1),
  MEDIA_QUEUE_URL: z.string().min(1),
  EVENT_TOPIC_ARN: z.string().min(1),
  /** The domain-events topic (CloudEvents out to the business's own app). */
  EVENTS_TOPIC_ARN: z.string().min(1),
  /** KMS key that encrypts webhook secrets (deployed). */
  WEBHOOKS_KEY_ID: z.string().min(1).optional(),
  /** Local runtime only: 32 bytes (base64) that encrypt webhook secrets where there is no KMS. */
  WEBHOOKS_LOCAL_KEY: z.string().min(1).optional(),
  /** Queue of webhook jobs waiting for their next attempt. */
  WEBHOOK_RETRY_QUEUE_URL: z.string().min(1),
  /** Local runtime only: webhook URLs may be plain http and loopback. */
  WEBHOOKS_ALLOW_LOOPBACK: z.enum(['true', 'false']).default('false'),
  /** Comma-separated AWS phone number ids the send API may use. */
  PHONE_NUMBER_IDS: z.string().default(''),
  META_API_VERSION: z.string().regex(/^v\d+\.\d+$/).default('v24.0'),
  /** The queue of broadcast send jobs. */
  BROADCAST_SENDS_QUEUE_URL: z.string().min(1),
  /**
   * Messages per second a broadcast sends from one business number: under the number's throughput
   * (Meta's default 80; 1,000 after an upgrade), with room for what else it sends.
   */
  BROADCAST_MPS: z.coerce.number().positive().max(1000).default(BROADCAST_DEFAULTS.messagesPerSecond),
  /** Per-number overrides of BROADCAST_MPS: `<phoneNumberId>=<mps>` separated by commas. */
  BROADCAST_MPS_BY_NUMBER: z
    .string()
    .regex(/^(\s*[A-Za-z0-9-]+\s*=\s*\d+(\.\d+)?\s*)(,\s*[A-Za-z0-9-]+\s*=\s*\d+(\.\d+)?\s*)*$|^$/, { error: 'BROADCAST_MPS_BY_NUMBER must be <phoneNumberId>=<mps>,…' })
    .default(''),
  /** The business's messaging limit: unique users a broadcast may reach in 24 hours (a number, or UNLIMITED). */
  BROADCAST_MESSAGING_TIER: z.union([z.literal('UNLIMITED'), z.coerce.number().int().positive()]).default('UNLIMITED'),
  /** What a user answers to stop marketing messages, comma-separated (compared trimmed, case-insensitive). */
  BROADCAST_STOP_KEYWORDS: z.string().default(BROADCAST_DEFAULTS.stopKeywords.join(',')),
  /** Days messages and conversations are kept (`ttl`); the stack sets it from `retentionDays`. */
  RETENTION_DAYS: z.coerce.number().int().positive().default(DEFAULT_RETENTION_DAYS),
});
export type Env = z.infer<typeof EnvSchema>;

export function loadConfig<K extends keyof Env>(
  names: readonly K[],
  env: NodeJS.ProcessEnv = process.env,
): Pick<Env, K> {
  const mask: Record<string, true> = Object.fromEntries(names.map((n) => [n, true]));
  const result = EnvSchema.pick(mask as Partial<Record<keyof Env, true>>).safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  return result.data as unknown as Pick<Env, K>;
}

/** The phone number ids of `PHONE_NUMBER_IDS` (comma-separated; blanks ignored). */
export const phoneNumberIdsOf = (value: string): string[] =>
  value
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
