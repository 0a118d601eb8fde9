/**
 * Test harness for the sandbox WABA: fauxqs (S3 + SNS + SQS) in-process with a topic, a queue
 * subscribed to it and a media bucket; sandboxes on port 0 publishing to that topic; the real
 * SocialMessagingClient pointed at them.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startAwsEmulator } from '../../local/servers.ts';
import { createSandbox, parseSandboxConfig } from '../../local/sandbox/index.ts';
import type { EumEnvelope, WebhookEntry } from '../../local/sandbox/webhooks.ts';
import type { Sandbox, SandboxConfig, StatusDelays } from '../../local/sandbox/index.ts';

export const REGION = 'us-east-1';
export const ACCOUNT_ID = '111122223333';
const CREDENTIALS = { accessKeyId: 'sandbox-test', secretAccessKey: 'sandbox-test' };

export interface Emulator {
  endpoint: string;
  topicArn: string;
  queueUrl: string;
  bucket: string;
  sns: SNSClient;
  sqs: SQSClient;
  s3: S3Client;
  stop(): Promise<void>;
}

export async function startEmulator(): Promise<Emulator> {
  const emu = await startAwsEmulator();
  const { topicArn } = emu.server.createTopic('eum-events');
  const { queueUrl } = emu.server.createQueue('eum-events-queue');
  emu.server.subscribe({ topic: 'eum-events', queue: 'eum-events-queue' });
  const bucket = 'sandbox-media';
  emu.server.createBucket(bucket);
  const common = { region: REGION, endpoint: emu.endpoint, credentials: CREDENTIALS };
  const sns = new SNSClient(common);
  const sqs = new SQSClient(common);
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  return {
    endpoint: emu.endpoint,
    topicArn,
    queueUrl,
    bucket,
    sns,
    sqs,
    s3,
    async stop() {
      sns.destroy();
      sqs.destroy();
      s3.destroy();
      await emu.stop();
    },
  };
}

/** One message as it arrived on the queue, unwrapped layer by layer. */
export interface Received {
  /** The SNS notification (SQS body). */
  sns: { Type: string; TopicArn: string; Message: string; MessageId: string };
  /** The EUM envelope (SNS Message). */
  envelope: EumEnvelope;
  /** The Meta webhook entry (parsed `whatsAppWebhookEntry`). */
  entry: WebhookEntry;
  /** `entry.changes[0].value`. */
  value: Record<string, any>;
}

export interface TestSandbox {
  sandbox: Sandbox;
  url: string;
  config: SandboxConfig;
  sm: SocialMessagingClient;
  /** JSON request to the sandbox; returns status and parsed body. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function startSandbox(
  emu: Emulator,
  opts: { config?: unknown; seed?: number; delays?: StatusDelays; clock?: () => number } = {},
): Promise<TestSandbox> {
  const config = parseSandboxConfig(opts.config ?? {});
  const sandbox = createSandbox({
    config,
    sns: emu.sns,
    topicArn: emu.topicArn,
    s3: emu.s3,
    region: REGION,
    accountId: ACCOUNT_ID,
    seed: opts.seed ?? 7,
    statusDelaysMs: opts.delays ?? { sent: 5, delivered: 10, read: 15 },
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  const running = await sandbox.listen(0);
  const sm = new SocialMessagingClient({ region: REGION, endpoint: running.url, credentials: CREDENTIALS, maxAttempts: 1 });
  return {
    sandbox,
    url: running.url,
    config,
    sm,
    async call(method, path, body) {
      const res = await fetch(`${running.url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async close() {
      sm.destroy();
      await running.close();
    },
  };
}

/** The emulator and sandbox of a test file, there from its `beforeAll` on. */
export interface SandboxSuite {
  readonly emu: Emulator;
  readonly sb: TestSandbox;
}

/**
 * Registers a test file's hooks around one emulator and one sandbox whose clock reads `startMs`
 * when the file loads and then runs in real time. After each test: chaos off, then
 * `afterEachTest`, then everything published is drained so that no event reaches the next test.
 * Call it at the top level of the file.
 */
export function useSandboxSuite(
  startMs: number,
  opts: { afterEachTest?: (sb: TestSandbox) => Promise<unknown> } = {},
): SandboxSuite {
  const realStart = Date.now();
  let emu: Emulator | undefined;
  let sb: TestSandbox | undefined;
  const started = () => {
    if (!emu || !sb) throw new Error('the sandbox suite starts in beforeAll');
    return { emu, sb };
  };

  beforeAll(async () => {
    emu = await startEmulator();
    sb = await startSandbox(emu, { clock: () => startMs + (Date.now() - realStart) });
  });

  afterEach(async () => {
    const { emu, sb } = started();
    await sb.call('DELETE', '/sandbox/chaos');
    await opts.afterEachTest?.(sb);
    await drain(emu, sb.sandbox);
  });

  afterAll(async () => {
    await sb?.close();
    await emu?.stop();
  });

  return {
    get emu() {
      return started().emu;
    },
    get sb() {
      return started().sb;
    },
  };
}

/** Waits until the sandbox has published everything it scheduled, then takes all queued messages. */
export async function drain(emu: Emulator, sandbox?: Sandbox): Promise<Received[]> {
  if (sandbox) await sandbox.idle();
  const out: Received[] = [];
  for (;;) {
    const res = await emu.sqs.send(new ReceiveMessageCommand({ QueueUrl: emu.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    const messages = res.Messages ?? [];
    if (messages.length === 0) return out;
    for (const m of messages) {
      const sns = JSON.parse(m.Body!);
      const envelope = JSON.parse(sns.Message) as EumEnvelope;
      const entry = JSON.parse(envelope.whatsAppWebhookEntry) as WebhookEntry;
      out.push({ sns, envelope, entry, value: entry.changes[0]!.value });
    }
    await emu.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: emu.queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
  }
}

/** The statuses[] elements of received events, flattened, in arrival order. */
export function statusesOf(received: Received[]): Record<string, any>[] {
  return received.flatMap((r) => (r.value.statuses as Record<string, any>[] | undefined) ?? []);
}

/** Status words End User Messaging Social publishes itself, written here as AWS's page lists them. */
export const AWS_GENERATED_STATUSES: ReadonlySet<string> = new Set(['accepted', 'Message retries exhausted, dropping message.']);

/** Like `statusesOf`, without the statuses AWS generates itself: what WhatsApp reported. */
export function whatsAppStatusesOf(received: Received[]): Record<string, any>[] {
  return statusesOf(received).filter((s) => !AWS_GENERATED_STATUSES.has(s.status));
}

/**
 * The `whatsAppStatusesOf` one send, by its AWS message id. SQS keeps no order between messages,
 * only the sandbox's per-message publication order holds, so tests with several sends split them.
 */
export function whatsAppStatusesFor(received: Received[], awsMessageId: string | undefined): Record<string, any>[] {
  return whatsAppStatusesOf(received.filter((r) => r.envelope.messageId === awsMessageId));
}

/** A Meta JSON message as the SDK's `message` blob. */
export function blob(message: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message));
}
