/**
 * Webhooks: endpoints of the business's own app that receive the domain events over HTTPS, signed
 * as the Standard Webhooks specification says. Resources, signing, the URL policy (SSRF) and the
 * retry schedule live here; no AWS types.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import * as z from 'zod';
import { ValidationError } from './errors.ts';
import { EVENT_TYPES, type DomainEvent } from './events.ts';

export const WebhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.string()).describe('Event types delivered; ["*"] for every type.'),
    description: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'Webhook' });

export const WebhookWithSecretSchema = WebhookSchema.extend({
  secret: z.string().describe('whsec_…: answered only when the webhook is created or its secret rotated. Keep it to verify signatures.'),
}).meta({ id: 'WebhookWithSecret' });

export const CreateWebhookSchema = z
  .object({
    url: z.string().min(1).max(2048),
    events: z.array(z.enum([...EVENT_TYPES, '*'])).min(1).optional(),
    description: z.string().max(500).optional(),
  })
  .meta({ id: 'CreateWebhook' });

export const DeliverySchema = z
  .object({
    eventId: z.string(),
    eventType: z.string(),
    attempt: z.number().int(),
    at: z.string(),
    outcome: z.enum(['delivered', 'failed', 'parked']),
    httpStatus: z.number().int().optional(),
    error: z.string().optional(),
    nextAttemptAt: z.string().optional(),
  })
  .meta({ id: 'WebhookDelivery' });

export type Webhook = z.infer<typeof WebhookSchema>;
export type Delivery = z.infer<typeof DeliverySchema>;

/** A webhook as stored: the secret only encrypted. */
export interface StoredWebhook extends Webhook {
  secretCiphertext: string;
}

export const newWebhookId = () => `wh_${randomUUID().replaceAll('-', '')}`;

/** A Standard Webhooks secret: `whsec_` + base64 of 24 random bytes. */
export const newWebhookSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

export const subscribes = (webhook: Pick<Webhook, 'events'>, type: string) =>
  webhook.events.includes('*') || webhook.events.includes(type);

/**
 * The Standard Webhooks headers of one delivery: `webhook-id` (the event id, the same on every
 * attempt), `webhook-timestamp` (seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body">`, one per secret given, space-separated, for rotation).
 */
export function signatureHeaders(secrets: readonly string[], id: string, timestampSec: number, body: string): Record<string, string> {
  const signed = `${id}.${timestampSec}.${body}`;
  const signatures = secrets.map((s) => {
    const key = Buffer.from(s.startsWith('whsec_') ? s.slice('whsec_'.length) : s, 'base64');
    return `v1,${createHmac('sha256', key).update(signed).digest('base64')}`;
  });
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': signatures.join(' '),
    // A CloudEvent in structured mode (the HTTP binding's media type).
    'content-type': 'application/cloudevents+json; charset=utf-8',
  };
}

// ---------------------------------------------------------------------------------------------
// URL policy

/** Addresses a deployed backend never sends to (SSRF): private, loopback, link-local and the like. */
const REFUSED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) REFUSED.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) REFUSED.addSubnet(net, prefix, 'ipv6');

/** Whether an address is one a deployed backend refuses (IPv4-mapped IPv6 checked as IPv4). */
export function isRefusedAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return REFUSED.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return REFUSED.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export interface UrlPolicy {
  /** Local runtime: plain http and loopback addresses are allowed. */
  readonly allowLoopback: boolean;
  /** Every address a host name resolves to (DNS). */
  readonly resolve: (host: string) => Promise<string[]>;
}

/**
 * Checks a webhook URL: https (deployed) and no host resolving to a refused address. Throws a validation error
 * naming `body.url`. Locally, loopback over http is allowed (the business app runs beside it).
 */
export async function checkWebhookUrl(raw: string, policy: UrlPolicy): Promise<URL> {
  const refuse = (why: string): never => {
    throw new ValidationError(`body.url: ${why}`, { path: 'body.url' });
  };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('not a URL');
  }
  if (url.username || url.password) refuse('credentials in the URL are not allowed');
  if (policy.allowLoopback) {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') refuse('must be http or https');
    return url;
  }
  if (url.protocol !== 'https:') refuse('must be https');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : await policy.resolve(host);
  } catch {
    return refuse(`the host ${host} does not resolve`);
  }
  if (!addresses.length) refuse(`the host ${host} does not resolve`);
  if (addresses.some(isRefusedAddress)) refuse('resolves to a private, loopback or link-local address');
  return url;
}

// ---------------------------------------------------------------------------------------------
// Retries

/**
 * Seconds to wait after each failed attempt (Standard Webhooks' reference schedule): 5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h, 10 h; about 27.6 hours in all, then the job is parked.
 */
export const RETRY_DELAYS_SECONDS = [5, 300, 1800, 7200, 18000, 36000, 36000] as const;

/** When to try again after `attempts` failed attempts, or `undefined`: park it. */
export function nextAttemptAt(attempts: number, failedAtMs: number): number | undefined {
  const delay = RETRY_DELAYS_SECONDS[attempts - 1];
  return delay === undefined ? undefined : failedAtMs + delay * 1000;
}

/** One delivery of one event to one endpoint. */
export interface DeliveryJob {
  webhookId: string;
  event: DomainEvent;
  /** Attempts made so far. */
  attempts: number;
  /** Not before this time (epoch ms). */
  dueAtMs: number;
}

export const DeliveryJobSchema = z.object({
  webhookId: z.string(),
  event: z.object({ id: z.string(), type: z.string() }).passthrough(),
  attempts: z.number().int().min(0),
  dueAtMs: z.number(),
});
