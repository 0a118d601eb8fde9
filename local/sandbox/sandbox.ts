/**
 * The sandbox WABA: one HTTP server (plain `node:http`) that stands in for AWS End User
 * Messaging Social, Meta and the WhatsApp users when running locally.
 *
 * - `/v1/whatsapp/*`: the socialmessaging REST routes (see `aws-api.ts`).
 * - `/sandbox/*`: control routes for people and tests:
 *   `POST /sandbox/inbound` (a user sends a message), `GET /sandbox/outbox?to=` (what the business
 *   sent), `POST|GET|DELETE /sandbox/chaos`, `POST|GET /sandbox/clock` (move sandbox time
 *   forward), `GET /sandbox/phone-numbers` (the runtime.json list).
 *
 * Every event is published to `topicArn` as the EUM envelope AWS would publish.
 */
import { UniqueUsersWindow } from './limits.ts';
import { LIMIT_CONTROL_ROUTES } from './limit-control.ts';
import { randomInt, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PublishCommand } from '@aws-sdk/client-sns';
import { z } from 'zod';
import { phoneDigits } from '../../shared/domain/ids.ts';
import { AWS_ROUTES } from './aws-api.ts';
import { AwsApiError } from './aws-errors.ts';
import { phoneNumberArn, phoneNumbersForRuntime } from './config.ts';
import type { SandboxPhoneNumber } from './config.ts';
import { BodyTooLargeError, ControlError, readBody, sendControlError, sendJson, sleep } from './http.ts';
import { keepAliveServerOptions } from '../keep-alive.ts';
import { observeBody, recordEvent } from './events.ts';
import { simulateInbound } from './inbound.ts';
import { startTopicObserver } from './observer.ts';
import { VIEW_ROUTES, type ControlHandler } from './views.ts';
import type { InboundResult } from './inbound.ts';
import { createRng } from './rng.ts';
import { initialTemplates, TEMPLATE_CONTROL_ROUTES } from './templates.ts';
import { NO_CHAOS } from './types.ts';
import type { KnownUser, SandboxCore, SandboxOptions, SandboxState, StatusDelays } from './types.ts';
import type { EumEnvelope } from './webhooks.ts';

export const DEFAULT_STATUS_DELAYS_MS: Readonly<StatusDelays> = { sent: 50, delivered: 150, read: 300 };

/** Largest request body accepted: a 2,048,000-byte message is ≈2.7 MB once base64-encoded. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface RunningSandbox {
  port: number;
  url: string;
  close(): Promise<void>;
}

export interface Sandbox {
  /** The request listener (for `http.createServer(sandbox.handle)`). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Listens on `port` (0 = any free port) and `host` (default 127.0.0.1). */
  listen(port: number, host?: string): Promise<RunningSandbox>;
  state: SandboxState;
  /** What `POST /sandbox/inbound` does, without HTTP. */
  inbound(body: unknown): Promise<InboundResult>;
  /** Resolves once every scheduled status event has been published. */
  idle(): Promise<void>;
  /** Cancels the status events not yet published. */
  stop(): void;
  /** Stops reading the event topic (see `observe`); `RunningSandbox.close()` does it too. */
  stopObserving(): Promise<void>;
}

const ChaosSchema = z.strictObject({
  duplicateRate: z.number().min(0).max(1).default(0),
  reorder: z.boolean().default(false),
  delayMs: z.int().min(0).max(60_000).default(0),
  failRate: z.number().min(0).max(1).default(0),
  throttleRate: z.number().min(0).max(1).default(0),
  dropRate: z.number().min(0).max(1).default(0),
  /** Reseeds the RNG behind chaos decisions. */
  seed: z.int().optional(),
});

const ClockSchema = z.strictObject({ advanceMs: z.int().min(0) });

export function createSandbox(opts: SandboxOptions): Sandbox {
  const clock = opts.clock ?? Date.now;
  const users = new Map<string, KnownUser>();
  for (const u of opts.config.users) users.set(u.phone, { ...u });

  const state: SandboxState = {
    config: opts.config,
    outbox: [],
    media: new Map(),
    lastInboundMs: new Map(),
    users,
    inbound: new Map(),
    events: [],
    templates: initialTemplates(opts.config),
    chaos: { ...NO_CHAOS },
    clockOffsetMs: 0,
    now: () => clock() + state.clockOffsetMs,
  };

  /** Timers not yet fired, with what to do when `stop()` cancels them. */
  const timers = new Map<NodeJS.Timeout, (() => void) | undefined>();
  let pending = 0;
  let waiters: (() => void)[] = [];
  const settle = () => {
    if (pending > 0) return;
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const log = opts.log ?? ((line: string) => console.error(`sandbox: ${line}`));

  const core: SandboxCore = {
    opts,
    state,
    delays: opts.statusDelaysMs ?? DEFAULT_STATUS_DELAYS_MS,
    rng: createRng(opts.seed ?? randomInt(2 ** 31)),
    sendTimes: { byNumber: new Map(), byPair: new Map(), uniqueUsers: new UniqueUsersWindow() },
    conversations: new Map(),
    findNumber: (ref) => findNumber(opts, ref),
    async publish(envelope: EumEnvelope, duplicate: boolean) {
      const Message = JSON.stringify(envelope);
      // With an observer, the list shows the topic as every consumer sees it (this one included).
      if (!observer) recordEvent(core, envelope);
      await opts.sns.send(new PublishCommand({ TopicArn: opts.topicArn, Message }));
      if (duplicate) await opts.sns.send(new PublishCommand({ TopicArn: opts.topicArn, Message }));
    },
    later(ms, task, cancelled) {
      pending++;
      const timer = setTimeout(() => {
        timers.delete(timer);
        task()
          .catch((err: unknown) => log(`publishing a status event failed: ${(err as Error).name}: ${(err as Error).message}`))
          .finally(() => {
            pending--;
            settle();
          });
      }, ms);
      timers.set(timer, cancelled);
    },
    log,
    catchUp: () => observer?.catchUp() ?? Promise.resolve(),
  };
  const observer = opts.observe
    ? startTopicObserver({ ...opts.observe, onBody: (body) => observeBody(core, body), log })
    : undefined;

  const stop = () => {
    const cancelled = [...timers];
    timers.clear();
    pending -= cancelled.length;
    for (const [timer, onCancel] of cancelled) {
      clearTimeout(timer);
      onCancel?.();
    }
    settle();
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    route(core, req, res).catch((err: unknown) => {
      log(`request failed: ${(err as Error).name}`);
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'internal_error', message: 'The sandbox failed on this request.' } });
      else res.end();
    });
  };

  return {
    handle,
    state,
    inbound: (body) => simulateInbound(core, body),
    idle: () => (pending === 0 ? Promise.resolve() : new Promise<void>((done) => waiters.push(done))),
    stop,
    stopObserving: () => observer?.stop() ?? Promise.resolve(),
    async listen(port, host = '127.0.0.1') {
      // Idle connections outlive the SDK's idle sockets: a send is never reset by the sandbox
      // closing the socket it was written on (that was a false send_in_doubt under bursts).
      const server = createServer(keepAliveServerOptions, handle);
      await new Promise<void>((done, fail) => {
        server.once('error', fail);
        server.listen(port, host, () => {
          server.off('error', fail);
          done();
        });
      });
      const actual = (server.address() as AddressInfo).port;
      return {
        port: actual,
        url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}`,
        async close() {
          stop();
          await observer?.stop();
          server.closeAllConnections();
          await new Promise<void>((done) => server.close(() => done()));
        },
      };
    },
  };
}

/** A business number by AWS id, ARN, Meta phone number id or display number. */
function findNumber(opts: SandboxOptions, ref: string): SandboxPhoneNumber | undefined {
  const digits = phoneDigits(ref);
  return opts.config.phoneNumbers.find(
    (n) =>
      n.phoneNumberId === ref ||
      phoneNumberArn(n.phoneNumberId, opts.region, opts.accountId) === ref ||
      (/^\+?[0-9 ()-]+$/.test(ref) && (n.metaPhoneNumberId === digits || n.displayPhoneNumber === digits)),
  );
}

async function route(core: SandboxCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
  const method = (req.method ?? 'GET').toUpperCase();
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (path.startsWith('/v1/')) return awsRoute(core, method, path, url.searchParams, req, res);
  return controlRoute(core, method, path, url.searchParams, req, res);
}

// ---------------------------------------------------------------------------------------------
// socialmessaging API

async function awsRoute(
  core: SandboxCore,
  method: string,
  path: string,
  query: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const requestId = randomUUID();
  try {
    const handler = AWS_ROUTES[`${method} ${path}`];
    if (!handler) throw new AwsApiError('UnknownOperationException', `No operation ${method} ${path} in the sandbox.`);
    const raw = await readBody(req, MAX_BODY_BYTES);
    let body: Record<string, unknown> = {};
    if (raw.length > 0) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new AwsApiError('SerializationException', 'The request body is not valid JSON.');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new AwsApiError('SerializationException', 'The request body must be a JSON object.');
      }
      body = parsed as Record<string, unknown>;
    }
    const { chaos } = core.state;
    if (chaos.delayMs > 0) await sleep(chaos.delayMs);
    if (core.rng.chance(chaos.throttleRate)) throw new AwsApiError('ThrottledRequestException', 'Rate exceeded');
    const out = await handler(core, { query, body });
    sendJson(res, 200, out, { 'x-amzn-requestid': requestId });
  } catch (err) {
    let error: AwsApiError;
    if (err instanceof AwsApiError) error = err;
    else if (err instanceof BodyTooLargeError) error = new AwsApiError('ValidationException', 'The request body is too large.');
    else {
      core.log(`${method} ${path} failed: ${(err as Error).name}`);
      error = new AwsApiError('InternalServiceException', 'The sandbox failed on this request.');
    }
    sendJson(res, error.status, { message: error.message }, { 'x-amzn-errortype': error.errorType, 'x-amzn-requestid': requestId });
  }
}

// ---------------------------------------------------------------------------------------------
// Control routes

const CONTROL_ROUTES: Readonly<Record<string, Readonly<Record<string, ControlHandler>>>> = {
  '/sandbox/inbound': {
    POST: async (core, _q, body) => {
      try {
        return { status: 201, body: await simulateInbound(core, body) };
      } catch (err) {
        if (err instanceof ControlError) throw err;
        throw new ControlError(502, 'publish_failed', `Publishing the inbound event failed: ${(err as Error).name}.`);
      }
    },
  },
  '/sandbox/outbox': {
    GET: async (core, query) => {
      const raw = query.get('to');
      const to = raw === null ? undefined : /^\+?[0-9 ()-]+$/.test(raw) ? phoneDigits(raw) : raw;
      const entries = core.state.outbox.filter((e) => to === undefined || e.to === to);
      return { status: 200, body: entries.map((e) => ({ ...e, statuses: [...e.statuses] })) };
    },
  },
  '/sandbox/chaos': {
    GET: async (core) => ({ status: 200, body: core.state.chaos }),
    POST: async (core, _q, body) => {
      const parsed = ChaosSchema.safeParse(body ?? {});
      if (!parsed.success) {
        throw new ControlError(400, 'invalid_request', 'The chaos settings are not valid.', parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
      }
      const { seed, ...chaos } = parsed.data;
      if (seed !== undefined) core.rng = createRng(seed);
      core.state.chaos = chaos;
      return { status: 200, body: chaos };
    },
    DELETE: async (core) => {
      core.state.chaos = { ...NO_CHAOS };
      return { status: 200, body: core.state.chaos };
    },
  },
  '/sandbox/clock': {
    GET: async (core) => ({ status: 200, body: clockBody(core) }),
    POST: async (core, _q, body) => {
      const parsed = ClockSchema.safeParse(body ?? {});
      if (!parsed.success) throw new ControlError(400, 'invalid_request', 'Give {"advanceMs": <non-negative integer>}; sandbox time only moves forward.');
      core.state.clockOffsetMs += parsed.data.advanceMs;
      return { status: 200, body: clockBody(core) };
    },
  },
  '/sandbox/phone-numbers': {
    GET: async (core) => ({
      status: 200,
      body: phoneNumbersForRuntime(core.state.config, core.opts.region, core.opts.accountId),
    }),
  },
  ...VIEW_ROUTES,
  ...TEMPLATE_CONTROL_ROUTES,
  ...LIMIT_CONTROL_ROUTES,
};

function clockBody(core: SandboxCore) {
  return { now: new Date(core.state.now()).toISOString(), offsetMs: core.state.clockOffsetMs };
}

async function controlRoute(
  core: SandboxCore,
  method: string,
  path: string,
  query: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const routes = CONTROL_ROUTES[path];
    if (!routes) throw new ControlError(404, 'not_found', `No route ${path} in the sandbox.`);
    const handler = routes[method];
    if (!handler) throw new ControlError(405, 'method_not_allowed', `${path} accepts ${Object.keys(routes).join(', ')}.`);
    let body: unknown;
    const raw = await readBody(req, MAX_BODY_BYTES);
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new ControlError(400, 'invalid_json', 'The request body is not valid JSON.');
      }
    }
    const answer = await handler(core, query, body);
    sendJson(res, answer.status, answer.body);
  } catch (err) {
    if (err instanceof ControlError) return sendControlError(res, err);
    if (err instanceof BodyTooLargeError) return sendControlError(res, new ControlError(413, 'body_too_large', 'The request body is too large.'));
    throw err;
  }
}
