/**
 * Where the integration journeys run. By default a local runtime started here (the same handlers,
 * DynamoDB Local, the S3/SNS/SQS emulator and the sandbox WABA). With `WB_API_URL` set, a deployed
 * stack: its API (SigV4-signed requests), its event topic (`WB_EVENT_TOPIC_ARN`), and a sandbox WABA
 * run here that publishes real envelopes to that topic (`WB_SANDBOX_CONFIG` names the business
 * numbers the stack was deployed with). The journeys are the same code for both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { afterAll, beforeAll } from 'vitest';
import { executeApiSigner } from '../../../scripts/sigv4.ts';
import { startRuntime, type Runtime, type RuntimePhoneNumber } from '../../../local/runtime.ts';
import { createSandbox, loadSandboxConfig, phoneNumbersForRuntime } from '../../../local/sandbox/index.ts';
import { record } from './transcript.ts';

export interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

export interface Target {
  kind: 'local' | 'deployed';
  phoneNumbers: RuntimePhoneNumber[];
  /** Calls the backend's HTTP API. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  /** Calls the sandbox WABA's control routes. */
  sandbox(method: string, path: string, body?: unknown): Promise<Reply>;
  /** Publishes a raw SNS message to the event topic, as End User Messaging Social does. */
  publish(message: string): Promise<void>;
  /** Restarts the local runtime on the same data (local only). */
  restart?(): Promise<void>;
  stop(): Promise<void>;
}

async function request(url: string, method: string, body?: unknown, headers: Record<string, string> = {}, sign?: (r: Request) => Promise<Request>): Promise<Reply> {
  let req = new Request(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  if (sign) req = await sign(req);
  const res = await fetch(req);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** `request` on the API or the sandbox, written to the transcript when one is recorded. */
async function recorded(target: 'api' | 'sandbox', base: string | null, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, sign?: (r: Request) => Promise<Request>): Promise<Reply> {
  const reply = await request(`${base}${path}`, method, body, headers, sign);
  record(target, method, path, body, headers, reply.status, reply.headers, reply.body);
  return reply;
}

/** `WB_HANDLERS=bundled`: the journeys run on the bundles `npm run bundle` builds (CI does it once). */
export const journeyHandlerSource = (): 'sources' | 'bundled' => (process.env.WB_HANDLERS === 'bundled' ? 'bundled' : 'sources');

const quiet = { info: () => {}, warn: () => {}, error: (m: string, e?: unknown) => console.error(m, e) };

async function localTarget(sandboxConfigPath?: string): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-it-'));
  const handlerSource = journeyHandlerSource();
  const config = sandboxConfigPath !== undefined ? { sandboxConfigPath } : {};
  let runtime: Runtime = await startRuntime({ dataDir, fresh: true, ports: { api: 0, sandbox: 0, aws: 0, dynamodb: 0 }, logger: quiet, handlerSource, ...config });
  // A restart keeps the ports: the handler modules keep their SDK clients, as a warm Lambda would.
  const ports = () => {
    const port = (u: string | null) => Number(new URL(u!).port);
    return { api: port(runtime.info.apiUrl), sandbox: port(runtime.info.sandboxUrl), aws: port(runtime.info.awsEndpointUrl), dynamodb: port(runtime.info.dynamodbEndpointUrl) };
  };
  const sns = () => new SNSClient({ endpoint: runtime.info.awsEndpointUrl, region: runtime.info.region, credentials: { accessKeyId: 'it', secretAccessKey: 'it' } });
  return {
    kind: 'local',
    get phoneNumbers() {
      return runtime.info.phoneNumbers;
    },
    api: (method, path, body, headers) => recorded('api', runtime.info.apiUrl, method, path, body, headers),
    sandbox: (method, path, body) => recorded('sandbox', runtime.info.sandboxUrl, method, path, body),
    async publish(message) {
      await sns().send(new PublishCommand({ TopicArn: runtime.info.eventTopicArn, Message: message }));
    },
    async restart() {
      const p = ports();
      await runtime.stop();
      runtime = await startRuntime({ dataDir, fresh: false, ports: p, logger: quiet, handlerSource, ...config });
    },
    async stop() {
      await runtime.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function deployedTarget(): Promise<Target> {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const apiUrl = process.env.WB_API_URL!.replace(/\/$/, '');
  const topicArn = process.env.WB_EVENT_TOPIC_ARN;
  if (!topicArn) throw new Error('WB_EVENT_TOPIC_ARN must be set with WB_API_URL');
  const sign = executeApiSigner(region);
  const sns = new SNSClient({ region });
  const accountId = topicArn.split(':')[4]!;
  const config = loadSandboxConfig(process.env.WB_SANDBOX_CONFIG);
  const sandbox = createSandbox({ config, sns, s3: new S3Client({ region }), topicArn, region, accountId });
  const running = await sandbox.listen(0);
  return {
    kind: 'deployed',
    phoneNumbers: phoneNumbersForRuntime(config, region, accountId),
    api: (method, path, body, headers) => recorded('api', apiUrl, method, path, body, headers, sign),
    sandbox: (method, path, body) => recorded('sandbox', running.url.replace(/\/$/, ''), method, path, body),
    async publish(message) {
      await sns.send(new PublishCommand({ TopicArn: topicArn, Message: message }));
    },
    async stop() {
      sandbox.stop();
      await running.close();
    },
  };
}

/** `sandboxConfigPath`: the local sandbox's config (a deployed target takes `WB_SANDBOX_CONFIG`). */
export function startTarget(sandboxConfigPath?: string): Promise<Target> {
  return process.env.WB_API_URL ? deployedTarget() : localTarget(sandboxConfigPath);
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs` with the last answer. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The target of a journey file: started before its tests, stopped after. With `localOnly`, nothing
 * starts when a deployed stack is configured (those journeys need the local sandbox's outbox).
 */
export function useTarget(opts: { localOnly?: boolean; sandboxConfigPath?: string } = {}): { readonly current: Target; readonly enabled: boolean } {
  const enabled = !(opts.localOnly && process.env.WB_API_URL);
  let target: Target | undefined;
  beforeAll(async () => {
    if (enabled) target = await startTarget(opts.sandboxConfigPath);
  }, 120_000);
  afterAll(async () => {
    await target?.stop();
  });
  return {
    enabled,
    get current() {
      if (!target) throw new Error('the target is not started');
      return target;
    },
  };
}
