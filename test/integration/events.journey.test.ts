/**
 * Events journeys on the local runtime: the table's stream → events handler → events topic →
 * delivery queue → signed webhook POSTs, and the echo bot closing the loop. Local only: it reads
 * the runtime's own topic and receives deliveries on loopback.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { HTTP, type CloudEvent } from 'cloudevents';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoBot } from '../../examples/echo-bot/bot.ts';
import { startRuntime, type Runtime } from '../../local/runtime.ts';
import { freePort } from '../../local/servers.ts';
import { DomainEventSchema } from '../../shared/domain/event-schemas.ts';
import { eventually, journeyHandlerSource } from './support/target.ts';

const local = !process.env.WB_API_URL;
const quiet = { info: () => {}, warn: () => {}, error: (m: string, e?: unknown) => console.error(m, e) };

let runtime: Runtime;
let dataDir: string;
const closers: Array<() => unknown> = [];

/** A receiver that records every delivery whose signature verifies, read with the cloudevents package. */
async function recorder(secret: () => string, port: number) {
  const received: Array<{ webhookId: string; event: CloudEvent<any> }> = [];
  let refused = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        new Webhook(secret()).verify(body, req.headers as Record<string, string>);
      } catch {
        refused++;
        res.writeHead(401).end();
        return;
      }
      const event = HTTP.toEvent({ headers: req.headers as Record<string, string>, body }) as CloudEvent<any>;
      received.push({ webhookId: String(req.headers['webhook-id']), event });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  closers.push(() => server.close());
  return { received, refused: () => refused };
}

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${runtime.info.apiUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as any };
}

const userWrites = async (from: string, text: string) => {
  const pn = runtime.info.phoneNumbers[0]!.phoneNumberId;
  const res = await fetch(`${runtime.info.sandboxUrl}/sandbox/inbound`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from, to: pn, type: 'text', text: { body: text } }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { wamid: string }).wamid;
};

beforeAll(async () => {
  if (!local) return;
  dataDir = mkdtempSync(join(tmpdir(), 'wb-events-'));
  runtime = await startRuntime({ dataDir, fresh: true, ports: { api: 0, sandbox: 0, aws: 0, dynamodb: 0 }, logger: quiet, handlerSource: journeyHandlerSource() });
}, 120_000);

afterAll(async () => {
  for (const c of closers) await c();
  await runtime?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe.runIf(local)('events out to the business app', () => {
  it('a user writes, the echo bot answers, and its reply reaches read: every event signed, each id once after dedupe', async () => {
    // Prepare: a recording endpoint and the echo bot, registered through the API as a user would.
    const recordPort = await freePort();
    let recordSecret = '';
    const rec = await recorder(() => recordSecret, recordPort);
    const made = await api('POST', '/v1/webhooks', { url: `http://127.0.0.1:${recordPort}/events`, description: 'recorder' });
    expect(made.status).toBe(201);
    recordSecret = made.body.secret;
    const botPort = await freePort();
    const bot = await api('POST', '/v1/webhooks', { url: `http://127.0.0.1:${botPort}/hook`, events: ['message.received', 'message.status'] });
    const botLines: string[] = [];
    const botServer = await startEchoBot({ apiUrl: runtime.info.apiUrl, secret: bot.body.secret, port: botPort, log: (l) => botLines.push(l) });
    closers.push(() => botServer.close());

    // Act
    const user = runtime.info.sampleUserPhone!;
    const wamid = await userWrites(user, 'ping');

    // Assess: the reply (the bot's message.created) goes to read.
    const reply = await eventually(async () => {
      const created = rec.received.find((r) => r.event.type === 'message.created' && (r.event.data as any).content?.body === 'echo: ping');
      if (!created) return undefined;
      const id = (created.event.data as any).id as string;
      return rec.received.some((r) => r.event.type === 'message.status' && r.event.subject === id && (r.event.data as any).status === 'read') ? id : undefined;
    }, 'the reply reaching read', 30_000);
    expect(botLines).toContainEqual(expect.stringMatching(new RegExp(`^status ${reply} read$`)));

    const received = rec.received.find((r) => r.event.type === 'message.received')!.event;
    expect(received).toMatchObject({ specversion: '1.0', source: expect.stringContaining('/whatsapp-backend'), datacontenttype: 'application/json' });
    expect(received.data).toMatchObject({ wamid, direction: 'inbound', status: 'received', content: { body: 'ping' } });
    expect(received.data).toEqual((await api('GET', `/v1/messages/${received.subject}`)).body);

    // Every delivery is a valid event whose id is the webhook-id; the same id is always the same event.
    const byId = new Map<string, string>();
    for (const { webhookId, event } of rec.received) {
      expect(webhookId).toBe(event.id);
      const plain = JSON.parse(JSON.stringify(event));
      DomainEventSchema.parse(plain);
      const seen = byId.get(event.id);
      if (seen) expect(JSON.stringify(plain.data)).toBe(seen);
      byId.set(event.id, JSON.stringify(plain.data));
    }
    // One message.status per status the reply's merged view lists (delivered included), in sequence order.
    const listed = ((await api('GET', `/v1/messages/${reply}`)).body.statuses as Array<{ status: string }>).map((s) => s.status);
    expect(listed).toEqual(expect.arrayContaining(['sent', 'delivered', 'read']));
    const order = await eventually(async () => {
      const events = rec.received.map((r) => r.event).filter((e) => e.type === 'message.status' && e.subject === reply);
      const unique = [...new Map(events.map((e) => [e.id, e])).values()];
      return unique.length >= listed.length ? unique.sort((a, b) => String(a.sequence).localeCompare(String(b.sequence))).map((e) => (e.data as any).status) : undefined;
    }, "one status event per status of the reply's merged view");
    expect([...order].sort()).toEqual([...listed].sort());
    await eventually(async () => botLines.includes(`status ${reply} delivered`) || undefined, 'the echo bot seeing its reply delivered');
    expect(rec.refused()).toBe(0);

    // The endpoint's deliveries are listed.
    const deliveries = await api('GET', `/v1/webhooks/${made.body.id}/deliveries`);
    expect(deliveries.body.items.length).toBeGreaterThanOrEqual(byId.size);
    expect(deliveries.body.items.every((d: { outcome: string }) => d.outcome === 'delivered')).toBe(true);
  }, 60_000);

  it('publishes to the events topic with type and phoneNumberId attributes, for a filtered subscription of your own', async () => {
    const endpoint = runtime.info.awsEndpointUrl;
    const cfg = { endpoint, region: runtime.info.region, credentials: { accessKeyId: 'it', secretAccessKey: 'it' } };
    const sqs = new SQSClient(cfg);
    const sns = new SNSClient(cfg);
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'my-app-received' }))).QueueUrl!;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await sns.send(
      new SubscribeCommand({
        TopicArn: runtime.info.eventsTopicArn,
        Protocol: 'sqs',
        Endpoint: arn,
        Attributes: { RawMessageDelivery: 'true', FilterPolicy: JSON.stringify({ type: ['message.received'] }) },
      }),
    );
    const wamid = await userWrites('14155550777', 'to my queue');

    const got = await eventually(async () => {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], WaitTimeSeconds: 1 }));
      return out.Messages?.find((m) => JSON.parse(m.Body!).data.wamid === wamid);
    }, 'the event in my queue');
    const event = DomainEventSchema.parse(JSON.parse(got.Body!));
    expect(event.type).toBe('message.received');
    expect(got.MessageAttributes?.type?.StringValue).toBe('message.received');
    expect(got.MessageAttributes?.phoneNumberId?.StringValue).toBe(runtime.info.phoneNumbers[0]!.phoneNumberId);
    sqs.destroy();
    sns.destroy();
  }, 60_000);

  it('a restart resumes the stream from its checkpoint: what was told is not told again, what comes after is told', async () => {
    const port = await freePort();
    let secret = '';
    const rec = await recorder(() => secret, port);
    secret = (await api('POST', '/v1/webhooks', { url: `http://127.0.0.1:${port}/r`, events: ['message.received'] })).body.secret;
    const before = await userWrites('14155550901', 'before');
    await eventually(async () => rec.received.find((r) => (r.event.data as any).wamid === before), 'the first message');

    // Stop and start on the same data: the stream reader resumes from .local/stream-checkpoints.json.
    const ports = { api: Number(new URL(runtime.info.apiUrl).port), sandbox: Number(new URL(runtime.info.sandboxUrl!).port), aws: Number(new URL(runtime.info.awsEndpointUrl).port), dynamodb: Number(new URL(runtime.info.dynamodbEndpointUrl).port) };
    await runtime.stop();
    runtime = await startRuntime({ dataDir, fresh: false, ports, logger: quiet, handlerSource: journeyHandlerSource() });
    const after = await userWrites('14155550902', 'after');

    await eventually(async () => rec.received.find((r) => (r.event.data as any).wamid === after), 'the message after the restart', 90_000);
    const ids = rec.received.map((r) => r.event.id);
    // Nothing told again: the first message's event arrived once.
    expect(ids.filter((id) => id === rec.received.find((r) => (r.event.data as any).wamid === before)!.event.id)).toHaveLength(1);
  }, 240_000);
});
