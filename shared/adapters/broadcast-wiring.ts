/**
 * What a function that sends needs, built from its environment: the message sender (the same send
 * path as `POST /v1/messages`, with the template catalog) and the broadcast adapters.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { loadConfig } from '../config.ts';
import type { BroadcastDeps, BroadcastPacingDeps } from '../domain/broadcasts.ts';
import { MessageSender } from '../domain/send-message.ts';
import { logger } from '../observability.ts';
import { documentClient, mediaS3Client, socialMessagingClient, socialMessagingSendClient, sqsClient } from './aws-clients.ts';
import { DynamoDbBroadcasts } from './dynamodb-broadcasts.ts';
import { DynamoDbOutbound } from './dynamodb-outbound.ts';
import { DynamoDbQueries } from './dynamodb-queries.ts';
import { DynamoDbTemplates } from './dynamodb-templates.ts';
import { SocialMessagingGateway } from './socialmessaging-gateway.ts';
import { SqsBroadcastQueue } from './sqs-broadcast-queue.ts';
import { S3MediaStorage } from './s3-media.ts';
import type { RecipientListStorage } from '../ports/broadcasts.ts';
import type { TemplateStore } from '../ports/templates.ts';
import { DynamoDbSuppressions } from './dynamodb-suppressions.ts';
import { Suppressions } from '../domain/suppressions.ts';

/**
 * The catalog's reads, each kept `ms`: the broadcasts function checks every recipient's send, and a
 * read a second serves them all. A template paused meanwhile is refused by WhatsApp (132015), which
 * the broadcast counts as a failure like any other.
 */
export function recentTemplates(store: Pick<TemplateStore, 'get' | 'languagesOf'>, ms: number, now: () => number = Date.now): Pick<TemplateStore, 'get' | 'languagesOf'> {
  const kept = new Map<string, { until: number; value: Promise<unknown> }>();
  const read = <T>(key: string, load: () => Promise<T>): Promise<T> => {
    const at = now();
    const hit = kept.get(key);
    if (hit && hit.until > at) return hit.value as Promise<T>;
    if (kept.size >= 1000) kept.clear();
    const value = load();
    kept.set(key, { until: at + ms, value });
    // A failed read is not kept (unless a later read replaced it meanwhile).
    value.catch(() => {
      if (kept.get(key)?.value === value) kept.delete(key);
    });
    return value;
  };
  return {
    get: (wabaId, name, language) => read(JSON.stringify(['get', wabaId, name, language]), () => store.get(wabaId, name, language)),
    languagesOf: (wabaId, name) => read(JSON.stringify(['languages', wabaId, name]), () => store.languagesOf(wabaId, name)),
  };
}

/**
 * The send use case over the table and AWS End User Messaging Social; one per container (it caches
 * display numbers). `templateReadsKeptMs`: see `recentTemplates` (the API reads the catalog every send).
 */
export function messageSender(doc: DynamoDBDocumentClient, opts: { templateReadsKeptMs?: number } = {}): MessageSender {
  const config = loadConfig(['TABLE_NAME', 'PHONE_NUMBER_IDS', 'META_API_VERSION', 'RETENTION_DAYS']);
  return new MessageSender({
    // Sends never retried by the SDK (a lost answer may hide a sent message); reads are.
    gateway: new SocialMessagingGateway(socialMessagingClient(), { sendClient: socialMessagingSendClient() }),
    store: new DynamoDbOutbound(doc, config.TABLE_NAME, { retentionDays: config.RETENTION_DAYS }),
    messages: new DynamoDbQueries(doc, config.TABLE_NAME),
    phoneNumberIds: config.PHONE_NUMBER_IDS.split(',').map((id) => id.trim()),
    metaApiVersion: config.META_API_VERSION,
    now: Date.now,
    log: logger,
    templates: opts.templateReadsKeptMs ? recentTemplates(new DynamoDbTemplates(doc, config.TABLE_NAME), opts.templateReadsKeptMs) : new DynamoDbTemplates(doc, config.TABLE_NAME),
  });
}

/** The media bucket's uploaded recipient lists, built on first use: a missing MEDIA_BUCKET fails only broadcasts from a list. */
function recipientLists(): () => RecipientListStorage {
  let built: RecipientListStorage | undefined;
  return () => (built ??= new S3MediaStorage(mediaS3Client(), loadConfig(['MEDIA_BUCKET']).MEDIA_BUCKET));
}

/**
 * Messages per second of each number: `BROADCAST_MPS_BY_NUMBER` (`<id>=<mps>,…`) over the default
 * `BROADCAST_MPS`, capped at WhatsApp's top tier (1,000).
 */
export function messagesPerSecondOf(defaultMps: number, byNumber: string): (phoneNumberId: string) => number {
  const table = new Map(
    byNumber
      .split(',')
      .map((pair) => pair.split('=').map((x) => x.trim()))
      .filter((kv): kv is [string, string] => kv.length === 2 && kv[0] !== '')
      .map(([id, mps]) => [id, Math.min(1000, Number(mps))] as const)
      .filter(([, mps]) => mps > 0),
  );
  return (phoneNumberId) => table.get(phoneNumberId) ?? defaultMps;
}

/**
 * The suppression lists of the businesses, in the table. `wabaOf` looks up a number's WABA where
 * the function can (the API and the broadcasts function, which send); without it, the inbound
 * function keeps a stop under the WABA its envelope names.
 */
export function suppressionsOf(doc: DynamoDBDocumentClient = documentClient(), wabaOf?: (phoneNumberId: string) => Promise<string | undefined>): Suppressions {
  const config = loadConfig(['TABLE_NAME']);
  return new Suppressions({ store: new DynamoDbSuppressions(doc, config.TABLE_NAME), now: Date.now, ...(wabaOf && { wabaOf }) });
}

/** What broadcasts and their status feedback share, from the environment (`wabaOf`: see `suppressionsOf`). */
export function broadcastPacingDeps(doc: DynamoDBDocumentClient = documentClient(), wabaOf?: (phoneNumberId: string) => Promise<string | undefined>): BroadcastPacingDeps {
  const config = loadConfig(['TABLE_NAME', 'BROADCAST_SENDS_QUEUE_URL', 'BROADCAST_MPS', 'BROADCAST_MPS_BY_NUMBER', 'BROADCAST_STOP_KEYWORDS', 'BROADCAST_MESSAGING_TIER']);
  const store = new DynamoDbBroadcasts(doc, config.TABLE_NAME);
  return {
    store,
    pacer: store,
    pairs: store,
    suppressions: suppressionsOf(doc, wabaOf),
    // Meta's reported limit for a number's WABA over the configured one (see BroadcastPacingDeps.tier).
    tier: { limit: config.BROADCAST_MESSAGING_TIER === 'UNLIMITED' ? Number.POSITIVE_INFINITY : config.BROADCAST_MESSAGING_TIER, gate: store, limits: store },
    stopKeywords: config.BROADCAST_STOP_KEYWORDS.split(',').map((k) => k.trim()).filter((k) => k !== ''),
    queue: new SqsBroadcastQueue(sqsClient(), config.BROADCAST_SENDS_QUEUE_URL),
    messagesPerSecond: messagesPerSecondOf(config.BROADCAST_MPS, config.BROADCAST_MPS_BY_NUMBER),
    now: Date.now,
  };
}

/** Broadcast dependencies but `sleep`; `sender` defaults to a new one. */
export function broadcastDeps(doc: DynamoDBDocumentClient = documentClient(), sender: MessageSender = messageSender(doc)): Omit<BroadcastDeps, 'sleep'> {
  const config = loadConfig(['TABLE_NAME']);
  // Broadcasts know their number: its WABA's list is looked up through the send path.
  return { ...broadcastPacingDeps(doc, (id) => sender.wabaOf(id)), sender, queries: new DynamoDbQueries(doc, config.TABLE_NAME), lists: recipientLists() };
}
