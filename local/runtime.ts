/**
 * The whole backend on loopback, without AWS or Docker: DynamoDB Local and the S3/SNS/SQS emulator
 * with their data under `.local/`, the resources of `shared/resource-spec.ts`, one SQS poller per
 * queue in front of its Lambda handler, the HTTP API in front of the API handler, and the sandbox
 * WABA standing in for End User Messaging Social.
 *
 * Handlers are the deployed modules. They build their SDK clients on first use, which comes after
 * `process.env` points the SDK's standard endpoint variables at the local servers: no code path
 * knows it runs locally.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BUNDLE_DIR, FUNCTION_HANDLERS } from '../lib/bundling.ts';
import { bundleHandlers } from '../scripts/bundle.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SendMessageBatchCommand, SQSClient, type MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { FauxqsServer } from 'fauxqs';
import { handler as apiModuleHandler } from '../lambdas/api/handler.ts';
import { handler as eventsModuleHandler } from '../lambdas/events/handler.ts';
import { handler as inboundModuleHandler } from '../lambdas/inbound/handler.ts';
import { handler as mediaModuleHandler } from '../lambdas/media/handler.ts';
import { handler as broadcastsModuleHandler } from '../lambdas/broadcasts/handler.ts';
import { handler as webhooksModuleHandler, wireHandler as wireWebhooksHandler } from '../lambdas/webhooks/handler.ts';
import type { Delivery } from '../shared/domain/webhooks.ts';
import { BROADCAST_CONCURRENT_BATCHES, QUEUES, type QueueSpec } from '../shared/resource-spec.ts';
import { RecentEvents } from './console/recent-events.ts';
import { consoleRoutes } from './console/serve.ts';
import { startHttpGateway, type ApiHandler, type HttpGateway } from './http-gateway.ts';
import { startPoller, type LocalLogger, type Poller, type SqsHandler } from './poller.ts';
import { ensureTopicSubscriber, provision, type ProvisionedResources } from './provision.ts';
import { startStreamPoller, type StreamHandler, type StreamPoller, type StreamPollerOptions } from './stream-poller.ts';
import { startTopicObserver } from './sandbox/observer.ts';
import { createSandbox, loadSandboxConfig, phoneNumbersForRuntime, type RuntimePhoneNumber } from './sandbox/index.ts';
import { freePort, startAwsEmulator, startDynamoDb, type RunningServer } from './servers.ts';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '000000000000';
const HOST = '127.0.0.1';
/** The queue through which the sandbox reads the event topic (local only, not in the stack). */
export const SANDBOX_TOPIC_READER_QUEUE = 'whatsapp-backend-sandbox-topic-reader';
/** The queue through which the console reads the events topic (local only, not in the stack). */
export const CONSOLE_EVENTS_QUEUE = 'whatsapp-backend-console-events';

/** The deployed handler of each queue, by `QueueSpec.handler` (the folder under `lambdas/`). */
const QUEUE_HANDLERS: Readonly<Record<string, SqsHandler>> = {
  inbound: inboundModuleHandler,
  media: mediaModuleHandler,
  webhooks: webhooksModuleHandler,
  broadcasts: broadcastsModuleHandler,
};

/** One business number as `runtime.json` lists it (contract §1). */
export type { RuntimePhoneNumber };

/** The content of `.local/runtime.json`: the contract's fields first, then extras. */
export interface RuntimeInfo {
  apiUrl: string;
  /** null only when started with `sandbox: false`. */
  sandboxUrl: string | null;
  awsEndpointUrl: string;
  dynamodbEndpointUrl: string;
  region: string;
  eventTopicArn: string;
  /** The domain-events topic (CloudEvents); `eventTopicArn` stays the End User Messaging topic. */
  eventsTopicArn: string;
  tableName: string;
  mediaBucket: string;
  phoneNumbers: RuntimePhoneNumber[];
  /** Each number's cap in the sandbox (130429 above it), and the rate broadcasts pace at. */
  messagesPerSecond: number;
  /** Extras. */
  /** The console page: the sandbox's users and the business inbox, on the API's origin. */
  consoleUrl: string;
  queues: Record<string, { url: string; dlqUrl: string }>;
  /** The endpoint registered with `--webhook`, and its signing secret. */
  webhook?: { id: string; url: string; secret: string };
  /** A sandbox user to try things with (fictional). */
  sampleUserPhone: string | null;
  pid: number;
  startedAt: string;
  readyInMs: number;
  dataDir: string;
  /** Where the handlers come from: `lambdas/<name>/handler.ts`, or the bundles of `npm run bundle` (`--bundled`). */
  handlers: HandlerSource;
}

/** `sources`: `lambdas/<name>/handler.ts`; `bundled`: `dist/lambdas/<name>/index.mjs`, the stack's esbuild output. */
export type HandlerSource = 'sources' | 'bundled';

export interface RuntimeOptions {
  /** @default '.local' (resolved against the working directory) */
  readonly dataDir?: string;
  /**
   * Run the handlers from their sources, or from the bundles `npm run bundle` writes with the stack's
   * esbuild options (built first when missing). Handlers given in `handlers` are used either way.
   * @default 'sources'
   */
  readonly handlerSource?: HandlerSource;
  /** Wipe the persisted data first. @default false */
  readonly fresh?: boolean;
  /**
   * DynamoDB Local keeps its tables in memory, not in `dataDir`: nothing survives a stop, and it
   * serves about 1.4 times the requests a second (the broadcast bench, whose data is thrown away).
   * @default false
   */
  readonly dynamoDbInMemory?: boolean;
  /**
   * 0 picks a free port. Defaults: `PORT` or 3000, `SANDBOX_PORT` or 3001, `AWS_PORT` or 4566,
   * `DYNAMODB_PORT` or 8000.
   */
  readonly ports?: { api?: number; sandbox?: number; aws?: number; dynamodb?: number };
  /**
   * Handlers to use instead of the deployed ones of `lambdas/<name>/handler.ts` (tests). A queue
   * without an entry here is served by its module.
   */
  readonly handlers?: { queues?: Record<string, SqsHandler>; api?: ApiHandler; stream?: StreamHandler };
  /** Registers this URL as a webhook once started (`npm start -- --webhook <url>`). */
  readonly webhook?: string;
  /** Told of each webhook delivery attempt (the terminal prints a line). */
  readonly onDelivery?: (d: Delivery & { webhookId: string; url: string }) => void;
  /**
   * The sandbox's config file (its business numbers, WABAs, users, templates): e.g. a second WABA.
   * @default `local/sandbox/sandbox.config.json` (one WABA, two numbers)
   */
  readonly sandboxConfigPath?: string;
  /**
   * Each number's cap on messages a second in the sandbox (Meta's 130429 above it), and the rate
   * broadcasts pace at: over the config's `limits.messagesPerSecond` (`npm start -- --mps <n>`).
   */
  readonly messagesPerSecond?: number;
  /** Start the sandbox WABA; without it no socialmessaging endpoint is set. @default true */
  readonly sandbox?: boolean;
  /** Batches each queue processes at once. @default 2 */
  readonly pollerConcurrency?: number;
  /** Overrides of the stream mapping's settings (a bench's batching window). @default EVENTS_STREAM */
  readonly streamSpec?: StreamPollerOptions['spec'];
  /** @default a console logger */
  readonly logger?: LocalLogger;
}

export interface Runtime {
  readonly info: RuntimeInfo;
  readonly resources: ProvisionedResources;
  /** Keyed by `QueueSpec.name`. */
  readonly pollers: Record<string, Poller>;
  /** The table's stream into the `events` handler. */
  readonly streamPoller: StreamPoller;
  /** Stops everything in order and removes `runtime.json`; restores `process.env`. */
  stop(): Promise<void>;
}

export const consoleLogger: LocalLogger = {
  info: (m, extra) => console.log(`[local] ${m}${extra ? ` ${JSON.stringify(extra)}` : ''}`),
  warn: (m, extra) => console.warn(`[local] WARN ${m}${extra ? ` ${JSON.stringify(extra)}` : ''}`),
  error: (m, extra) => console.error(`[local] ERROR ${m}${extra ? ` ${JSON.stringify(extra)}` : ''}`),
};

function envPort(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${name}=${raw} is not a port`);
  return port;
}

/** `inbound-events` → `INBOUND_EVENTS_QUEUE_URL`. */
export function queueUrlEnvName(spec: QueueSpec): string {
  return `${spec.name.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}_QUEUE_URL`;
}

/** Refuses to share a data dir with another live runtime (two DynamoDB Locals on one file). */
function assertNotInUse(file: string): void {
  if (!existsSync(file)) return;
  let pid: unknown;
  try {
    pid = (JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown }).pid;
  } catch {
    return;
  }
  if (typeof pid !== 'number' || pid === process.pid) return;
  try {
    process.kill(pid, 0);
  } catch {
    return; // not running: a leftover of a crash
  }
  throw new Error(`Another local runtime (pid ${pid}) is using ${file}; stop it first`);
}

async function assertPortFree(port: number, what: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((done, fail) => {
    const probe = createNetServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      fail(err.code === 'EADDRINUSE' ? new Error(`Port ${port} for the ${what} is in use; set another one`) : err),
    );
    probe.listen(port, HOST, () => probe.close(() => done()));
  });
}

/** Sets variables and remembers the previous values. */
class EnvScope {
  private readonly saved = new Map<string, string | undefined>();
  set(name: string, value: string | undefined): void {
    if (!this.saved.has(name)) this.saved.set(name, process.env[name]);
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  restore(): void {
    for (const [name, value] of this.saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    this.saved.clear();
  }
}

/**
 * The deployed handlers build their SDK clients on first use, from `process.env`, and keep them
 * for the life of the process: a second runtime with other endpoints would talk to the first one's.
 */
let handlersBoundTo: string | undefined;

function bindModuleHandlers(): void {
  const endpoints = `${process.env.AWS_ENDPOINT_URL_DYNAMODB} ${process.env.AWS_ENDPOINT_URL_SQS}`;
  if (handlersBoundTo !== undefined && handlersBoundTo !== endpoints) {
    throw new Error('The deployed handlers already serve another local runtime in this process; use one runtime per process');
  }
  handlersBoundTo = endpoints;
}

function queueHandler(spec: QueueSpec, injected: Record<string, SqsHandler> | undefined, modules: Readonly<Record<string, SqsHandler>>): SqsHandler {
  const given = injected?.[spec.name];
  if (given) return given;
  const handler = modules[spec.handler];
  if (!handler) throw new Error(`No handler for queue ${spec.name}: lambdas/${spec.handler}/handler.ts is not wired into local/runtime.ts`);
  bindModuleHandlers();
  return handler;
}

/**
 * Batches of the webhook queues handled at once: Lambda starts five concurrent batches per SQS
 * mapping. The delivery path (no batching window, an HTTP POST per job) needs them to keep its lag
 * under a second at load; the other queues keep two (batches of up to 100 with a window keep up).
 * Each queue has one receiver feeding these slots (see poller.ts), so they add no requests.
 */
const DELIVERY_POLLERS = 5;
/** Batches the other queues handle at once. */
export const QUEUE_POLLERS = 2;

/**
 * Messages a crashed runtime (`kill -9`) was handling stay invisible until their visibility timeout
 * runs out (minutes: six times the handler's timeout). The local runtime is its queues' only
 * consumer and no handler runs before its pollers start, so whatever is in flight now belonged to a
 * process that is gone: it is sent again at once. (The emulator cannot change the visibility of a
 * message it restored from disk, so the original also comes back after its timeout: every handler
 * is idempotent, and an event's id is the same both times.)
 */
async function resendInFlight(emulator: FauxqsServer, sqs: SQSClient, queueUrls: readonly string[], logger: LocalLogger): Promise<void> {
  for (const url of queueUrls) {
    const name = url.slice(url.lastIndexOf('/') + 1);
    const inflight = emulator.inspectQueue(name)?.messages.inflight ?? [];
    for (let i = 0; i < inflight.length; i += 10) {
      const entries = inflight.slice(i, i + 10).map((m, n) => ({
        Id: String(n),
        MessageBody: m.message.body,
        ...(m.message.messageAttributes && Object.keys(m.message.messageAttributes).length && { MessageAttributes: m.message.messageAttributes as Record<string, MessageAttributeValue> }),
      }));
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
    }
    if (inflight.length) logger.warn('messages left in flight by a previous run are handled again', { queue: name, messages: inflight.length });
  }
}

/** The key that encrypts webhook secrets locally (no KMS here), made once per data directory. */
function localWebhookKey(dataDir: string): string {
  const file = join(dataDir, 'webhooks.key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/**
 * Registers `url` through the API as a user would; an endpoint registered by an earlier start gets a
 * new secret instead of a second registration.
 */
async function registerWebhook(apiUrl: string, url: string): Promise<{ id: string; url: string; secret: string }> {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as Record<string, any>;
    if (!res.ok) throw new Error(`--webhook ${url}: ${json.error?.message ?? res.status}`);
    return json;
  };
  const existing = ((await call('GET', '/v1/webhooks')).items as Array<{ id: string; url: string }>).find((w) => w.url === new URL(url).toString());
  const made = existing ? await call('POST', `/v1/webhooks/${existing.id}/rotate-secret`) : await call('POST', '/v1/webhooks', { url, description: 'npm start --webhook' });
  return { id: made.id, url: made.url, secret: made.secret };
}

interface ModuleHandlers {
  queues: Readonly<Record<string, SqsHandler>>;
  stream: StreamHandler;
  api: ApiHandler;
}

/**
 * The bundles of `npm run bundle` (built now when one is missing), imported: each exports the
 * `handler` Lambda calls.
 */
async function bundledHandlers(logger: LocalLogger): Promise<ModuleHandlers> {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const file = (name: string) => join(root, BUNDLE_DIR, name, 'index.mjs');
  if (FUNCTION_HANDLERS.some((name) => !existsSync(file(name)))) {
    logger.info('building the bundles (npm run bundle)');
    await bundleHandlers();
  }
  const load = async (name: string) => (await import(pathToFileURL(file(name)).href)).handler;
  return {
    queues: Object.fromEntries(await Promise.all([...new Set(QUEUES.map((q) => q.handler))].map(async (name) => [name, await load(name)] as const))),
    stream: await load('events'),
    api: await load('api'),
  };
}

/** `POST /v1/templates/sync` through the API, as a user would; a failure is reported, not fatal. */
async function syncTemplates(apiUrl: string, logger: LocalLogger): Promise<void> {
  try {
    const res = await fetch(`${apiUrl}/v1/templates/sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const body = (await res.json()) as { results?: { wabaId: string; templates: number }[]; error?: { message?: string } };
    if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
    for (const r of body.results ?? []) logger.info('template catalog synced', { wabaId: r.wabaId, templates: r.templates });
  } catch (err) {
    logger.warn('template catalog not synced at start-up: POST /v1/templates/sync to try again', { error: (err as Error).message });
  }
}

/** Starts the local backend; see {@link RuntimeOptions}. One runtime per process. */
export async function startRuntime(opts: RuntimeOptions = {}): Promise<Runtime> {
  const t0 = performance.now();
  const logger = opts.logger ?? consoleLogger;
  const handlerSource = opts.handlerSource ?? 'sources';
  const dataDir = resolve(opts.dataDir ?? '.local');
  const runtimeFile = join(dataDir, 'runtime.json');
  mkdirSync(dataDir, { recursive: true });
  assertNotInUse(runtimeFile);
  if (opts.fresh) {
    for (const sub of ['dynamodb', 'aws', 'sandbox', 'runtime.json', 'stream-checkpoints.json']) {
      rmSync(join(dataDir, sub), { recursive: true, force: true });
    }
  }

  const portOf = async (given: number | undefined, env: string, fallback: number) => {
    const p = given ?? envPort(env, fallback);
    return p === 0 ? freePort() : p;
  };
  const ports = {
    api: opts.ports?.api ?? envPort('PORT', 3000),
    sandbox: opts.ports?.sandbox ?? envPort('SANDBOX_PORT', 3001),
    aws: opts.ports?.aws ?? envPort('AWS_PORT', 4566),
    dynamodb: await portOf(opts.ports?.dynamodb, 'DYNAMODB_PORT', 8000),
  };
  // DynamoDB Local would fail to bind but the readiness probe could reach whatever holds the port.
  await assertPortFree(ports.dynamodb, 'DynamoDB Local (DYNAMODB_PORT)');
  await assertPortFree(ports.aws, 'S3/SNS/SQS emulator (AWS_PORT)');
  await assertPortFree(ports.api, 'HTTP API (PORT)');
  // Without the sandbox its port is not taken: a runtime without it runs beside `npm start`.
  if (opts.sandbox !== false) await assertPortFree(ports.sandbox, 'sandbox (SANDBOX_PORT)');

  const env = new EnvScope();
  const cleanups: Array<() => Promise<void>> = [];
  const runCleanups = async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        logger.warn('cleanup step failed', { error: (err as Error).message });
      }
    }
  };

  try {
    const started = await Promise.allSettled([
      startDynamoDb({ port: ports.dynamodb, ...(!opts.dynamoDbInMemory && { dataDir: join(dataDir, 'dynamodb') }) }),
      startAwsEmulator({ port: ports.aws, dataDir: join(dataDir, 'aws') }),
    ]);
    for (const r of started) if (r.status === 'fulfilled') cleanups.push(() => r.value.stop());
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const dynamo = (started[0] as PromiseFulfilledResult<RunningServer>).value;
    const aws = (started[1] as PromiseFulfilledResult<Awaited<ReturnType<typeof startAwsEmulator>>>).value;

    const clientConfig = (endpoint: string) => ({
      endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const dynamodb = new DynamoDBClient(clientConfig(dynamo.endpoint));
    const streams = new DynamoDBStreamsClient(clientConfig(dynamo.endpoint));
    const sqs = new SQSClient(clientConfig(aws.endpoint));
    const sns = new SNSClient(clientConfig(aws.endpoint));
    const s3 = new S3Client(clientConfig(aws.endpoint));
    cleanups.push(async () => {
      for (const c of [dynamodb, streams, sqs, sns, s3]) c.destroy();
    });

    const resources = await provision({ dynamodb, sqs, sns, s3, sqsEndpoint: aws.endpoint });

    // The sandbox comes first: its URL is the socialmessaging endpoint the handlers will use.
    const loaded = loadSandboxConfig(opts.sandboxConfigPath);
    const config = opts.messagesPerSecond === undefined ? loaded : { ...loaded, limits: { ...loaded.limits, messagesPerSecond: opts.messagesPerSecond } };
    const phoneNumbers = phoneNumbersForRuntime(config, LOCAL_REGION, LOCAL_ACCOUNT_ID);
    let sandboxUrl: string | null = null;
    if (opts.sandbox !== false) {
      // The sandbox reads the topic like any consumer, so it knows every user who wrote, whoever
      // published their message (a replayed capture, a test), as Meta would.
      const reader = await ensureTopicSubscriber({
        sqs,
        sns,
        topicArn: resources.topicArn,
        queueName: SANDBOX_TOPIC_READER_QUEUE,
        sqsEndpoint: aws.endpoint,
      });
      const sandbox = createSandbox({
        config,
        sns,
        s3,
        observe: { sqs, queueUrl: reader.url },
        topicArn: resources.topicArn,
        region: LOCAL_REGION,
        accountId: LOCAL_ACCOUNT_ID,
        log: (line: string) => logger.warn(line),
      });
      const listening = await sandbox.listen(ports.sandbox, HOST);
      cleanups.push(async () => {
        sandbox.stop();
        await listening.close();
      });
      sandboxUrl = listening.url;
    }

    // Everything a deployed function gets from its environment, pointed at the local servers.
    env.set('AWS_REGION', LOCAL_REGION);
    env.set('AWS_DEFAULT_REGION', LOCAL_REGION);
    env.set('AWS_ACCESS_KEY_ID', 'local');
    env.set('AWS_SECRET_ACCESS_KEY', 'local');
    env.set('AWS_SESSION_TOKEN', undefined);
    env.set('AWS_PROFILE', undefined);
    env.set('AWS_ENDPOINT_URL_DYNAMODB', dynamo.endpoint);
    env.set('AWS_ENDPOINT_URL_S3', aws.endpoint);
    env.set('AWS_ENDPOINT_URL_SNS', aws.endpoint);
    env.set('AWS_ENDPOINT_URL_SQS', aws.endpoint);
    env.set('AWS_ENDPOINT_URL_SOCIALMESSAGING', sandboxUrl ?? undefined);
    env.set('TABLE_NAME', resources.tableName);
    env.set('MEDIA_BUCKET', resources.mediaBucket);
    env.set('EVENT_TOPIC_ARN', resources.topicArn);
    env.set('EVENTS_TOPIC_ARN', resources.eventsTopicArn);
    env.set('WEBHOOKS_KEY_ID', undefined);
    env.set('WEBHOOKS_LOCAL_KEY', localWebhookKey(dataDir));
    env.set('WEBHOOKS_ALLOW_LOOPBACK', 'true');
    env.set('PHONE_NUMBER_IDS', phoneNumbers.map((p) => p.phoneNumberId).join(','));
    // Broadcasts pace each number at the sandbox's limit: their send permits keep every second within it.
    env.set('BROADCAST_MPS', String(config.limits.messagesPerSecond));
    for (const spec of QUEUES) env.set(queueUrlEnvName(spec), resources.queues[spec.name]?.url);
    cleanups.push(async () => env.restore());

    await resendInFlight(aws.server, sqs, Object.values(resources.queues).map((q) => q.url), logger);

    let webhooksWithReporter: SqsHandler | undefined;
    // After the environment is set: a bundle, like a Lambda, reads it when first called.
    const modules: ModuleHandlers =
      handlerSource === 'bundled'
        ? await bundledHandlers(logger)
        : { queues: QUEUE_HANDLERS, stream: eventsModuleHandler, api: apiModuleHandler };
    const pollers: Record<string, Poller> = {};
    const queueInfo: RuntimeInfo['queues'] = {};
    for (const spec of QUEUES) {
      const q = resources.queues[spec.name]!;
      queueInfo[spec.name] = { url: q.url, dlqUrl: q.dlqUrl };
      const poller = await startPoller({
        sqs,
        queueUrl: q.url,
        queueArn: q.arn,
        spec,
        handler:
          spec.handler === 'webhooks' && opts.onDelivery && !opts.handlers?.queues?.[spec.name] && handlerSource === 'sources'
            ? (bindModuleHandlers(), (webhooksWithReporter ??= wireWebhooksHandler({ onDelivery: opts.onDelivery })))
            : queueHandler(spec, opts.handlers?.queues, modules.queues),
        concurrency: opts.pollerConcurrency ?? (spec.handler === 'webhooks' ? DELIVERY_POLLERS : spec.handler === 'broadcasts' ? BROADCAST_CONCURRENT_BATCHES : QUEUE_POLLERS),
        logger,
      });
      pollers[spec.name] = poller;
      cleanups.push(() => poller.stop());
    }

    // The console lists the domain events as any subscriber of the events topic receives them.
    const recentEvents = new RecentEvents();
    const consoleQueue = await ensureTopicSubscriber({ sqs, sns, topicArn: resources.eventsTopicArn, queueName: CONSOLE_EVENTS_QUEUE, sqsEndpoint: aws.endpoint });
    const consoleReader = startTopicObserver({ sqs, queueUrl: consoleQueue.url, onBody: (body) => recentEvents.add(body), log: (line) => logger.warn(line) });
    cleanups.push(() => consoleReader.stop());

    let streamHandler = opts.handlers?.stream;
    if (!streamHandler) {
      bindModuleHandlers();
      streamHandler = modules.stream;
    }
    const streamPoller = await startStreamPoller({
      dynamodb,
      streams,
      tableName: resources.tableName,
      handler: streamHandler,
      checkpointFile: join(dataDir, 'stream-checkpoints.json'),
      ...(opts.streamSpec && { spec: opts.streamSpec }),
      logger,
    });
    cleanups.push(() => streamPoller.stop());

    let apiHandler = opts.handlers?.api;
    if (!apiHandler) {
      bindModuleHandlers();
      apiHandler = modules.api;
    }
    const gateway: HttpGateway = await startHttpGateway({
      port: ports.api,
      host: HOST,
      handler: apiHandler,
      logger,
      localRoutes: consoleRoutes(sandboxUrl, recentEvents),
    });
    cleanups.push(() => gateway.stop());

    const info: RuntimeInfo = {
      apiUrl: gateway.url,
      sandboxUrl,
      consoleUrl: `${gateway.url}/console`,
      awsEndpointUrl: aws.endpoint,
      dynamodbEndpointUrl: dynamo.endpoint,
      region: LOCAL_REGION,
      eventTopicArn: resources.topicArn,
      eventsTopicArn: resources.eventsTopicArn,
      tableName: resources.tableName,
      mediaBucket: resources.mediaBucket,
      phoneNumbers,
      queues: queueInfo,
      sampleUserPhone: config.users.find((u) => u.onWhatsApp)?.phone ?? null,
      messagesPerSecond: config.limits.messagesPerSecond,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      readyInMs: Math.round(performance.now() - t0),
      dataDir,
      handlers: handlerSource,
    };
    if (opts.webhook) info.webhook = await registerWebhook(gateway.url, opts.webhook);
    // The template catalog is read before anyone is told the backend is ready, as the deployed
    // stack reads it on deploy.
    if (sandboxUrl) await syncTemplates(gateway.url, logger);
    writeFileSync(runtimeFile, `${JSON.stringify(info, null, 2)}\n`);
    cleanups.push(async () => rmSync(runtimeFile, { force: true }));

    let stopped: Promise<void> | undefined;
    return {
      info,
      resources,
      pollers,
      streamPoller,
      stop: () => (stopped ??= runCleanups()),
    };
  } catch (err) {
    await runCleanups();
    throw err;
  }
}

/** The banner `npm start` prints once everything is ready. */
export function banner(info: RuntimeInfo): string {
  const lines = [
    '',
    `whatsapp-backend is running locally (ready in ${(info.readyInMs / 1000).toFixed(1)} s)`,
    '',
    `  API          ${info.apiUrl}`,
    `  Console      ${info.consoleUrl}   (open it in a browser)`,
    `  Sandbox      ${info.sandboxUrl ?? '(off)'}`,
    `  S3/SNS/SQS   ${info.awsEndpointUrl}`,
    `  DynamoDB     ${info.dynamodbEndpointUrl}`,
    `  Event topic  ${info.eventTopicArn}`,
    `  Events topic ${info.eventsTopicArn} (CloudEvents out)`,
    ...(info.webhook
      ? [`  Webhook      ${info.webhook.url} (${info.webhook.id}); its signing secret is in ${join(info.dataDir, 'runtime.json')}`]
      : []),
    `  Data         ${info.dataDir} (npm start -- --fresh starts empty)`,
    '',
    `  Business numbers (each up to ${info.messagesPerSecond} messages a second; npm start -- --mps <n> changes it):`,
    ...info.phoneNumbers.map((p) => `    +${p.displayPhoneNumber}  ${p.phoneNumberId}`),
  ];
  const number = info.phoneNumbers[0];
  const user = info.sampleUserPhone;
  if (number && user && info.sandboxUrl) {
    lines.push(
      '',
      '  Try it: a user writes to the business, then read the conversation',
      `    curl -s -X POST ${info.sandboxUrl}/sandbox/inbound -H 'content-type: application/json' \\`,
      `      -d '{"from":"${user}","to":"${number.phoneNumberId}","type":"text","text":{"body":"hi"}}'`,
      `    curl -s ${info.apiUrl}/v1/conversations/${number.phoneNumberId}/${user}/messages`,
    );
  }
  lines.push('', `  Details in ${join(info.dataDir, 'runtime.json')}. Ctrl-C stops.`, '');
  return lines.join('\n');
}
