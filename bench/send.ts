/**
 * Send API benchmark (`POST /v1/messages`), measured side by side in one run:
 * - wall and CPU time per send of the whole API handler (router, validation, MessageSender,
 *   DynamoDB Local, SendWhatsAppMessage) against a bare SendWhatsAppMessage call to the same stub,
 *   sequentially and at a small concurrency, in interleaved rounds after a warm-up; between the
 *   two, the text send's adapter calls alone, which tells the SDK's share from our code's;
 * - DynamoDB requests per send (reads and writes apart) and SendWhatsAppMessage calls per send, for
 *   a text in an open window, a template, replays with the same Idempotency-Key and a refusal
 *   because the window is closed.
 *
 * The stub that answers SendWhatsAppMessage runs in a child process and DynamoDB Local in its own
 * JVM, so the CPU time counted is this process's only: the SDK clients and our code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendWhatsAppMessageCommand, type SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../shared/adapters/aws-clients.ts';
import { DynamoDbOutbound } from '../shared/adapters/dynamodb-outbound.ts';
import { DynamoDbQueries } from '../shared/adapters/dynamodb-queries.ts';
import { DynamoDbStore } from '../shared/adapters/dynamodb-store.ts';
import { socialMessagingClient, socialMessagingSendClient, SocialMessagingGateway } from '../shared/adapters/socialmessaging-gateway.ts';
import { encodeCallbackData } from '../shared/domain/callback.ts';
import { messageIdFromWamid, newMessageId } from '../shared/domain/ids.ts';
import { MessageSender } from '../shared/domain/send-message.ts';
import { parseSendMessageRequest, toMetaMessage } from '../shared/whatsapp/outbound.ts';
import { makeHandler } from '../lambdas/api/handler.ts';
import { ensureTable } from '../local/provision.ts';
import { startDynamoDb } from '../local/servers.ts';
import { call, type ApiHandler } from '../test/support/api.ts';

const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' };
const PN = 'phone-number-id-0123456789abcdef0123456789abcdef';
const META_API_VERSION = 'v24.0';
const context = { functionName: 'api', awsRequestId: 'bench', getRemainingTimeInMillis: () => 29_000 } as unknown as Context;

/** An outbound fixture (the body of `POST /v1/messages`). */
const fixture = (name: string): Record<string, any> =>
  JSON.parse(readFileSync(new URL(`../test/fixtures/outbound/${name}.json`, import.meta.url), 'utf8'));

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand', 'BatchWriteItemCommand']);
const READS = new Set(['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand', 'TransactGetItemsCommand']);

export interface SendTiming {
  sends: number;
  /** Elapsed time of a round divided by its sends (at concurrency > 1: the time per send of the throughput); median round. */
  wallUs: number;
  /** This process's CPU time (user + system) of a round divided by its sends; median round. */
  cpuUs: number;
  /** Latency of one send. */
  p50Ms: number;
  p99Ms: number;
}

export interface SendTimingRow {
  concurrency: number;
  bare: SendTiming;
  /** The text send's store and gateway calls alone (GetItem, PutItem, SendWhatsAppMessage, TransactWriteItems), without the API. */
  io: SendTiming;
  text: SendTiming;
  template: SendTiming;
}

export interface SendRequests {
  /** DynamoDB requests per send; a conditional write that fails counts as a write. */
  reads: number;
  writes: number;
  /** SendWhatsAppMessage calls per send. */
  sendCalls: number;
  /** HTTP status the API answered. */
  status: number;
}

export interface SendBenchResult {
  timing: SendTimingRow[];
  requests: {
    text: SendRequests;
    template: SendRequests;
    replayText: SendRequests;
    replayTemplate: SendRequests;
    windowClosed: SendRequests;
    windowClosedKeyed: SendRequests;
  };
}

const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

/** Runs `send(lane)` `n` times, `concurrency` at a time (lane = 0 … concurrency-1). */
async function measure(n: number, concurrency: number, send: (lane: number) => Promise<void>) {
  const latencies: number[] = [];
  let next = 0;
  const cpu0 = cpuMicros();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      while (next < n) {
        next++;
        const t = performance.now();
        await send(lane);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { wallMs: performance.now() - t0, cpuUs: cpuMicros() - cpu0, latencies };
}

const median = (xs: number[]) => {
  const s = xs.toSorted((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The rounds of one kind: per send, the median round (a round hit by a stall of the machine does not count). */
function accumulator() {
  const wallUs: number[] = [];
  const cpuUs: number[] = [];
  const latencies: number[] = [];
  return {
    add(r: Awaited<ReturnType<typeof measure>>) {
      wallUs.push((r.wallMs * 1000) / r.latencies.length);
      cpuUs.push(r.cpuUs / r.latencies.length);
      latencies.push(...r.latencies);
    },
    result(): SendTiming {
      const sorted = latencies.toSorted((a, b) => a - b);
      return {
        sends: latencies.length,
        wallUs: median(wallUs),
        cpuUs: median(cpuUs),
        p50Ms: percentile(sorted, 0.5),
        p99Ms: percentile(sorted, 0.99),
      };
    },
  };
}

/** A server in a child process that accepts every SendWhatsAppMessage at once. */
async function startStub(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const script = `
    const http = require('node:http');
    const { randomUUID } = require('node:crypto');
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const ok = req.method === 'POST' && req.url === '/v1/whatsapp/send';
        const body = ok ? JSON.stringify({ messageId: randomUUID() }) : '{"message":"not found"}';
        res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
    server.keepAliveTimeout = 60000;
    server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
  `;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const port = await new Promise<number>((done, fail) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) done(Number(out.trim()));
    });
    child.once('exit', (code) => fail(new Error(`the SendWhatsAppMessage stub exited (${code}) before listening`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null) {
        child.kill();
        await exited;
      }
    },
  };
}

/** Counts an SDK client's requests by command name. */
function countRequests(client: DynamoDBClient | SocialMessagingClient): Map<string, number> {
  const counts = new Map<string, number>();
  (client.middlewareStack as DynamoDBClient['middlewareStack']).add(
    (next, ctx) => async (args) => {
      const name = ctx.commandName as string;
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'benchCountRequests' },
  );
  return counts;
}

/** The proxy event API Gateway would send for this request (built once, handed to the handler as is). */
async function proxyEvent(body: unknown, headers: Record<string, string> = {}): Promise<APIGatewayProxyEvent> {
  let event: APIGatewayProxyEvent | undefined;
  await call(
    async (e) => {
      event = e;
      return { statusCode: 204, body: '' };
    },
    'POST',
    '/v1/messages',
    { body, headers },
  );
  return event!;
}

/** `sends` per round and `rounds` per kind and concurrency; `concurrency` is the wide setting (1 is always measured). */
export async function benchSend(opts: { sends?: number; rounds?: number; concurrency?: number } = {}): Promise<SendBenchResult> {
  const sends = opts.sends ?? 50;
  const rounds = opts.rounds ?? 8;
  const wide = opts.concurrency ?? 8;

  const [stub, ddb] = await Promise.all([startStub(), startDynamoDb()]);
  const dynamodb = new DynamoDBClient({ endpoint: ddb.endpoint, region: REGION, credentials: CREDENTIALS });
  const bareClient = socialMessagingClient({ endpoint: stub.endpoint, region: REGION, credentials: CREDENTIALS });
  // Sends go through a client without SDK retries, as in the Lambda.
  const apiClient = socialMessagingSendClient({ endpoint: stub.endpoint, region: REGION, credentials: CREDENTIALS });
  try {
    const ddbCounts = countRequests(dynamodb);
    const smCounts = countRequests(apiClient);
    const tableName = `bench-send-${randomUUID().slice(0, 8)}`;
    await ensureTable(dynamodb, tableName);
    const doc = documentClient(dynamodb);
    const queries = new DynamoDbQueries(doc, tableName);
    const sender = new MessageSender({
      gateway: new SocialMessagingGateway(apiClient),
      store: new DynamoDbOutbound(doc, tableName),
      messages: queries,
      phoneNumberIds: [PN],
      metaApiVersion: META_API_VERSION,
      now: Date.now,
    });
    const api: ApiHandler = makeHandler({ queries, now: Date.now, sender: () => sender });
    const inbound = new DynamoDbStore(doc, tableName);
    const userWrites = async (contactId: string, atMs: number) => {
      const wamid = `wamid.BENCH${randomUUID().replaceAll('-', '')}`;
      await inbound.recordInbound({
        id: messageIdFromWamid(wamid),
        wamid,
        business: { phoneNumberId: PN, metaPhoneNumberId: '106540352242922' },
        contact: { waId: contactId },
        contactId,
        type: 'text',
        content: { body: 'hi' },
        timestampMs: atMs,
      });
    };

    const text = fixture('text');
    const template = fixture('template');
    const to = (body: Record<string, any>, contactId: string) => ({ ...body, from: PN, to: `+${contactId}` });

    // One contact per concurrent lane, each with an open window: a bot answering several users.
    const lanes = Array.from({ length: wide }, (_, i) => `1650555${String(1000 + i)}`);
    for (const c of lanes) await userWrites(c, Date.now());
    const textEvents = await Promise.all(lanes.map((c) => proxyEvent(to(text, c))));
    const templateEvents = await Promise.all(lanes.map((c) => proxyEvent(to(template, c))));

    // Every call sends the Meta message the API sends for the same text.
    const metaText = lanes.map((c) => {
      const p = parseSendMessageRequest(to(text, c));
      if (!p.ok) throw new Error('the text fixture does not parse');
      return toMetaMessage(p.value, encodeCallbackData(newMessageId()));
    });
    const bare = async (lane: number) => {
      const out = await bareClient.send(
        new SendWhatsAppMessageCommand({
          originationPhoneNumberId: PN,
          message: new TextEncoder().encode(JSON.stringify(metaText[lane])),
          metaApiVersion: META_API_VERSION,
        }),
      );
      if (!out.messageId) throw new Error('the stub gave no messageId');
    };
    // The same I/O as a text send, through the same adapters, without the router and the use case.
    const outbound = new DynamoDbOutbound(doc, tableName);
    const gateway = new SocialMessagingGateway(apiClient);
    const io = async (lane: number) => {
      const contactId = lanes[lane]!;
      await outbound.lastInboundAt(PN, contactId);
      const record = {
        id: newMessageId(),
        phoneNumberId: PN,
        contactId,
        contact: { waId: contactId },
        type: 'text',
        content: text.text,
        timestampMs: Date.now(),
        requestHash: 'bench',
        attemptId: randomUUID(),
      };
      if (!(await outbound.begin(record, Date.now())).created) throw new Error('the record was not created');
      const out = await gateway.sendMessage({ phoneNumberId: PN, message: metaText[lane]!, metaApiVersion: META_API_VERSION });
      await outbound.markSent(record, out.awsMessageId, Date.now());
    };
    const full = (events: APIGatewayProxyEvent[]) => async (lane: number) => {
      const res = await api(events[lane]!, context);
      if (res.statusCode !== 202) throw new Error(`POST /v1/messages answered ${res.statusCode}: ${res.body}`);
    };

    // Warm-up: modules, JIT, connections, DynamoDB Local's own warm-up.
    for (let i = 0; i < 2; i++) {
      await measure(100, wide, bare);
      await measure(100, wide, io);
      await measure(100, wide, full(textEvents));
      await measure(100, wide, full(templateEvents));
    }

    const timing: SendTimingRow[] = [];
    for (const concurrency of [1, wide]) {
      const acc = { bare: accumulator(), io: accumulator(), text: accumulator(), template: accumulator() };
      const kinds = [
        [acc.bare, bare],
        [acc.io, io],
        [acc.text, full(textEvents)],
        [acc.template, full(templateEvents)],
      ] as const;
      // Short rounds, each kind in turn and the order rotated, so that drift of the machine falls on all alike.
      for (let r = 0; r < rounds; r++) {
        for (let k = 0; k < kinds.length; k++) {
          const [into, send] = kinds[(r + k) % kinds.length]!;
          into.add(await measure(sends, concurrency, send));
        }
      }
      timing.push({ concurrency, bare: acc.bare.result(), io: acc.io.result(), text: acc.text.result(), template: acc.template.result() });
    }

    // Every timed send went through to the end: no record left short of `sent`.
    const unfinished = await doc.send(
      new ScanCommand({
        TableName: tableName,
        ConsistentRead: true,
        Select: 'COUNT',
        FilterExpression: 'direction = :o AND sendState <> :sent',
        ExpressionAttributeValues: { ':o': 'outbound', ':sent': 'sent' },
      }),
    );
    if (unfinished.Count !== 0) throw new Error(`${unfinished.Count} timed sends were not recorded as sent`);

    const REPEAT = 20;
    const perSend = async (expected: number, events: () => Promise<APIGatewayProxyEvent>): Promise<SendRequests> => {
      const prepared = await Promise.all(Array.from({ length: REPEAT }, events));
      ddbCounts.clear();
      smCounts.clear();
      let status = 0;
      for (const e of prepared) {
        const res = await api(e, context);
        if (res.statusCode !== expected) throw new Error(`expected ${expected}, the API answered ${res.statusCode}: ${res.body}`);
        status = res.statusCode;
      }
      let reads = 0;
      let writes = 0;
      for (const [name, n] of ddbCounts) {
        if (READS.has(name)) reads += n;
        else if (WRITES.has(name)) writes += n;
        else throw new Error(`unexpected DynamoDB request ${name}`);
      }
      return { reads: reads / REPEAT, writes: writes / REPEAT, sendCalls: (smCounts.get('SendWhatsAppMessageCommand') ?? 0) / REPEAT, status };
    };

    const open = '16505552000';
    const closed = '16505552001';
    await userWrites(open, Date.now());
    await userWrites(closed, Date.now() - 25 * 3600 * 1000);
    const textReq = await perSend(202, () => proxyEvent(to(text, open)));
    const templateReq = await perSend(202, () => proxyEvent(to(template, open)));
    const keyedText = await proxyEvent(to(text, open), { 'idempotency-key': randomUUID() });
    const keyedTemplate = await proxyEvent(to(template, open), { 'idempotency-key': randomUUID() });
    for (const e of [keyedText, keyedTemplate]) if ((await api(e, context)).statusCode !== 202) throw new Error('keyed first send failed');
    const replayText = await perSend(202, async () => keyedText);
    const replayTemplate = await perSend(202, async () => keyedTemplate);
    const windowClosed = await perSend(409, () => proxyEvent(to(text, closed)));
    const windowClosedKeyed = await perSend(409, () => proxyEvent(to(text, closed), { 'idempotency-key': randomUUID() }));

    return {
      timing,
      requests: { text: textReq, template: templateReq, replayText, replayTemplate, windowClosed, windowClosedKeyed },
    };
  } finally {
    for (const c of [dynamodb, bareClient, apiClient]) c.destroy();
    await Promise.all([stub.stop(), ddb.stop()]);
  }
}

export function printSendBench(r: SendBenchResult): void {
  const f = (n: number, d = 0) => n.toFixed(d);
  const table: Record<string, Record<string, string>> = {};
  for (const row of r.timing) {
    const kinds = [
      ['bare SendWhatsAppMessage', row.bare],
      ['I/O only: a text send\'s adapter calls', row.io],
      ['API handler, text in window', row.text],
      ['API handler, template', row.template],
    ] as const;
    for (const [label, t] of kinds) {
      table[`c=${row.concurrency} ${label}`] = {
        sends: String(t.sends),
        'wall µs/send': f(t.wallUs),
        'CPU µs/send': f(t.cpuUs),
        'p50 ms': f(t.p50Ms, 2),
        'p99 ms': f(t.p99Ms, 2),
        'x bare wall': f(t.wallUs / row.bare.wallUs, 2),
        'x bare CPU': f(t.cpuUs / row.bare.cpuUs, 2),
      };
    }
  }
  console.log('\n== Send API: POST /v1/messages vs a bare SendWhatsAppMessage (same stub, same run) ==');
  console.table(table);
  console.log(
    'c = requests in flight. Wall = elapsed / sends, CPU = CPU time / sends, each the median of interleaved rounds; p50/p99 = latency of one send over all rounds. CPU = this process only (the stub and DynamoDB Local run in other processes). ' +
      'The handler runs on DynamoDB Local: its wall time includes the local JVM sharing the same cores.',
  );
  const q = r.requests;
  const rows = {
    'text in an open window': q.text,
    template: q.template,
    'replay, same Idempotency-Key (text)': q.replayText,
    'replay, same Idempotency-Key (template)': q.replayTemplate,
    'window closed (refused)': q.windowClosed,
    'window closed, with Idempotency-Key (refused)': q.windowClosedKeyed,
  };
  console.table(
    Object.fromEntries(
      Object.entries(rows).map(([k, v]) => [k, { HTTP: v.status, 'DynamoDB reads': v.reads, 'DynamoDB writes': v.writes, SendWhatsAppMessage: v.sendCalls }]),
    ),
  );
  console.log('Per send. A conditional write that fails (a replay finding the record) counts as a write.');
}
