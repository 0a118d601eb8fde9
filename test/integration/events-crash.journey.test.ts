/**
 * `kill -9` mid-load: the local runtime (`npm start -- --webhook …`, a child process with its own
 * DynamoDB Local) is killed with SIGKILL while users write, then started again on the same data.
 * Every message the sandbox accepted is told to the webhook as `message.received`, and after dedupe
 * by event id each one is told once: the stream's checkpoint, the events topic's queues and the
 * table all survive the crash, and whatever was in flight is told again with the same id.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Webhook } from 'standardwebhooks';
import { afterAll, expect, it } from 'vitest';
import { freePort } from '../../local/servers.ts';
import { eventId } from '../../shared/domain/events.ts';
import { eventually } from './support/target.ts';

const local = !process.env.WB_API_URL;
const dataDir = mkdtempSync(join(tmpdir(), 'wb-crash-'));
const children: ChildProcess[] = [];
let stderrAll = '';
const stderrOf = () => stderrAll;
let server: Server | undefined;

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) killGroup(c, 'SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
  server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The runtime and everything it started (DynamoDB Local) form one process group: a crash takes them all. */
const killGroup = (c: ChildProcess, signal: NodeJS.Signals) => {
  try {
    process.kill(-c.pid!, signal);
  } catch {
    // already gone
  }
};

interface Info {
  apiUrl: string;
  sandboxUrl: string;
  phoneNumbers: Array<{ phoneNumberId: string }>;
  webhook: { id: string; secret: string };
  pid: number;
  awsEndpointUrl: string;
  queues: Record<string, { url: string; dlqUrl: string }>;
}

async function start(ports: Record<string, number>, hookUrl: string, fresh: boolean): Promise<{ child: ChildProcess; info: Info }> {
  const runtimeFile = join(dataDir, 'runtime.json');
  rmSync(runtimeFile, { force: true });
  const child = spawn(process.execPath, ['local/start.ts', '--data-dir', dataDir, '--webhook', hookUrl, ...(fresh ? ['--fresh'] : [])], {
    cwd: join(import.meta.dirname, '../..'),
    env: { ...process.env, PORT: String(ports.api), SANDBOX_PORT: String(ports.sandbox), AWS_PORT: String(ports.aws), DYNAMODB_PORT: String(ports.dynamodb), POWERTOOLS_LOG_LEVEL: 'SILENT' },
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => ((stderr += d.toString()), (stderrAll += d.toString())));
  const info = await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`the runtime exited (${child.exitCode}): ${stderr}`);
      if (!existsSync(runtimeFile)) return undefined;
      const parsed = JSON.parse(readFileSync(runtimeFile, 'utf8')) as Info;
      return parsed.pid === child.pid ? parsed : undefined;
    },
    'the runtime to be ready',
    120_000,
  );
  return { child, info };
}

it.runIf(local)('kill -9 of the runtime mid-load loses no event and, after dedupe by id, duplicates none', async () => {
  // The receiving app: every delivery verified, kept by event id.
  let secret = '';
  const deliveries: Array<{ id: string; wamid: string; data: string }> = [];
  let refused = 0;
  const hookPort = await freePort();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        new Webhook(secret).verify(body, req.headers as Record<string, string>);
      } catch {
        refused++;
        res.writeHead(401).end();
        return;
      }
      const event = JSON.parse(body) as { id: string; type: string; data: { wamid: string } };
      if (event.type === 'message.received') deliveries.push({ id: event.id, wamid: event.data.wamid, data: JSON.stringify(event.data) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server!.listen(hookPort, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${hookPort}/hook`;
  const ports = { api: await freePort(), sandbox: await freePort(), aws: await freePort(), dynamodb: await freePort() };

  let { child, info } = await start(ports, hookUrl, true);
  // Signed with the current and the previous secret after the restart's rotation: the first one verifies throughout.
  secret = info.webhook.secret;
  const to = info.phoneNumbers[0]!.phoneNumberId;

  const accepted = new Set<string>();
  let next = 0;
  const TOTAL = 60;
  /** Users write, four at a time; a write the sandbox did not accept (it is down) is written again. */
  const writer = async () => {
    while (next < TOTAL) {
      const i = next++;
      for (;;) {
        try {
          const res = await fetch(`${info.sandboxUrl}/sandbox/inbound`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ from: `1650777${String(i).padStart(4, '0')}`, to, type: 'text', text: { body: `crash ${i}` } }),
          });
          if (res.status === 201) {
            accepted.add(((await res.json()) as { wamid: string }).wamid);
            break;
          }
        } catch {
          // the runtime is down: try again once it is back
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  const writing = Promise.all(Array.from({ length: 4 }, writer));

  // Mid-load: some messages told, more still coming.
  await eventually(async () => (deliveries.length >= 10 ? true : undefined), 'the first deliveries', 60_000);
  killGroup(child, 'SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const toldBeforeCrash = new Set(deliveries.map((d) => d.id)).size;
  expect(toldBeforeCrash).toBeLessThan(TOTAL);

  ({ child, info } = await start(ports, hookUrl, false));
  await writing;
  expect(accepted.size).toBe(TOTAL);

  // Every accepted message told; after dedupe by id, once each, and an id always carries the same data.
  const missing = () => {
    const wamids = new Set(deliveries.map((d) => d.wamid));
    return [...accepted].filter((w) => !wamids.has(w));
  };
  const told = await eventually(async () => (missing().length ? undefined : deliveries), 'every accepted message told', 120_000).catch(async (err: Error) => {
    // Say where the untold ones are: stored (the events path lost them) or not (the inbound path did).
    const stored = await Promise.all(missing().map(async (w) => (await fetch(`${info.apiUrl}/v1/messages/${w}`)).json() as Promise<{ id?: string }>));
    const log = (await (await fetch(`${info.apiUrl}/v1/webhooks/${info.webhook.id}/deliveries?limit=100`)).json()) as { items: Array<{ eventId: string }> };
    const ids = stored.map((m) => (m.id ? eventId(m.id, 'message.received', '') : '-'));
    const sqs = new SQSClient({ endpoint: info.awsEndpointUrl, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
    const queues = await Promise.all(
      Object.entries(info.queues).flatMap(([name, q]) =>
        [q.url, q.dlqUrl].map(async (url) => `${name}${url === q.dlqUrl ? ' DLQ' : ''}: ${JSON.stringify((await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))).Attributes)}`),
      ),
    );
    throw new Error(`${err.message}: queues ${queues.join('; ')}; ${missing().length} untold, stored ${stored.map((m) => m.id ?? 'no').join(',')}, in the delivery log ${ids.map((i) => log.items.some((d) => d.eventId === i)).join(',')}; runtime log: ${stderrOf().slice(-3000)}`);
  });
  const idsOf = new Map<string, Set<string>>();
  const dataOf = new Map<string, string>();
  for (const d of told) {
    idsOf.set(d.wamid, (idsOf.get(d.wamid) ?? new Set()).add(d.id));
    expect(dataOf.get(d.id) ?? d.data).toBe(d.data);
    dataOf.set(d.id, d.data);
  }
  expect([...idsOf.keys()].sort()).toEqual([...accepted].sort());
  expect([...idsOf.values()].every((ids) => ids.size === 1)).toBe(true);
  expect(refused).toBe(0);
}, 400_000);
