import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDbWebhooks } from '../../shared/adapters/dynamodb-webhooks.ts';
import { HttpWebhookTransport } from '../../shared/adapters/http-webhooks.ts';
import { LocalSecretCipher } from '../../shared/adapters/webhook-secrets.ts';
import { fanOut, replayParked, runJobs, type DeliveryDeps } from '../../shared/domain/deliver-webhooks.ts';
import type { DomainEvent } from '../../shared/domain/events.ts';
import { checkWebhookUrl, isRefusedAddress, RETRY_DELAYS_SECONDS, signatureHeaders, type DeliveryJob } from '../../shared/domain/webhooks.ts';
import { makeHandler } from '../../lambdas/api/handler.ts';
import { makeHandler as makeWebhooksHandler } from '../../lambdas/webhooks/handler.ts';
import { BACKEND_ID_ENV, METRICS } from '../../shared/metric-names.ts';
import { emfLines, valueOf } from '../support/emf.ts';
import { sqsEvent } from '../support/events.ts';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { call } from '../support/api.ts';
import { freshTable } from '../support/dynamodb.ts';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
/** An event the webhook handler's schema accepts whole (the SQS body it reads). */
const quarantined = (n: number): DomainEvent => ({
  specversion: '1.0',
  id: `evt_${String(n).padStart(32, '0')}`,
  source: '/whatsapp-backend/quarantine',
  type: 'event.quarantined',
  time: new Date(T0).toISOString(),
  subject: `q${n}`,
  datacontenttype: 'application/json',
  sequence: '0000',
  data: { id: `q${n}`, receivedAt: new Date(T0).toISOString(), reason: 'bad' },
});
const event = (n: number, type: DomainEvent['type'] = 'message.received'): DomainEvent =>
  ({ specversion: '1.0', id: `evt_${String(n).padStart(32, '0')}`, source: '/whatsapp-backend', type, time: new Date(T0).toISOString(), subject: `msg_${n}`, datacontenttype: 'application/json', sequence: '0000', data: { id: `msg_${n}` } }) as unknown as DomainEvent;

/** A retry queue that holds jobs in memory until the test runs them (the clock is the test's). */
class HeldRetries {
  jobs: DeliveryJob[] = [];
  async schedule(jobs: readonly DeliveryJob[]) {
    this.jobs.push(...jobs);
  }
  take() {
    return this.jobs.splice(0);
  }
}

let store: DynamoDbWebhooks;
let tableName: string;
let doc: Awaited<ReturnType<typeof freshTable>>['doc'];
const cipher = new LocalSecretCipher(randomBytes(32).toString('base64'));
const publicResolve = async () => ['93.184.216.34'];

beforeAll(async () => {
  ({ doc, tableName } = await freshTable());
  store = new DynamoDbWebhooks(doc, tableName);
});

/** An API handler wired to the table, the local cipher, a held retry queue and a fixed clock. */
function api(opts: { allowLoopback?: boolean; resolve?: (h: string) => Promise<string[]>; retries?: HeldRetries; now?: () => number } = {}) {
  return makeHandler({
    queries: new DynamoDbQueries(doc, tableName),
    now: opts.now ?? (() => T0),
    webhooks: () => ({
      webhooks: store,
      secrets: cipher,
      retries: opts.retries ?? new HeldRetries(),
      urlPolicy: { allowLoopback: opts.allowLoopback ?? false, resolve: opts.resolve ?? publicResolve },
      now: opts.now ?? (() => T0),
    }),
  });
}

describe('webhook signing', () => {
  it('signs as Standard Webhooks says: the standardwebhooks package verifies it, and refuses a changed body', () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const body = JSON.stringify(event(1));
    const headers = signatureHeaders([secret], 'evt_1', Math.floor(Date.now() / 1000), body);
    const wh = new StandardWebhook(secret);
    expect(wh.verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => wh.verify(body.replace('msg_1', 'msg_2'), headers)).toThrow();
    // During a rotation both secrets sign; a receiver with either verifies.
    const next = `whsec_${randomBytes(24).toString('base64')}`;
    const both = signatureHeaders([next, secret], 'evt_1', Math.floor(Date.now() / 1000), body);
    expect(new StandardWebhook(secret).verify(body, both)).toBeTruthy();
    expect(new StandardWebhook(next).verify(body, both)).toBeTruthy();
  });
});

describe('webhook URLs (SSRF)', () => {
  it.each([
    ['http://example.com/hook', /https/],
    ['https://10.1.2.3/hook', /private/],
    ['https://127.0.0.1/hook', /private/],
    ['https://[::1]/hook', /private/],
    ['https://169.254.169.254/latest', /private/],
    ['https://[fd00::1]/x', /private/],
    ['https://user:pw@example.com/', /credentials/],
    ['not a url', /not a URL/],
  ])('refuses %s deployed, without sending anything', async (url, why) => {
    await expect(checkWebhookUrl(url, { allowLoopback: false, resolve: publicResolve })).rejects.toThrow(why);
  });

  it('refuses a host name that resolves to a private address, and accepts one that resolves publicly', async () => {
    await expect(checkWebhookUrl('https://internal.example.com/x', { allowLoopback: false, resolve: async () => ['93.184.216.34', '192.168.1.5'] })).rejects.toThrow(/private/);
    await expect(checkWebhookUrl('https://hooks.example.com/x', { allowLoopback: false, resolve: publicResolve })).resolves.toBeInstanceOf(URL);
  });

  it('knows mapped and special addresses', () => {
    for (const a of ['::ffff:127.0.0.1', '100.64.0.1', '0.0.0.0', 'fe80::1', '224.0.0.1']) expect(isRefusedAddress(a), a).toBe(true);
    for (const a of ['8.8.8.8', '2606:4700:4700::1111']) expect(isRefusedAddress(a), a).toBe(false);
  });

  it('the deployed transport refuses loopback at connection time (its own DNS lookup), so nothing is sent', async () => {
    let hits = 0;
    const server = createServer((_, res) => (hits++, res.end('ok')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const transport = new HttpWebhookTransport({ allowLoopback: false });
    await expect(transport.post(`http://127.0.0.1:${port}/`, {}, '{}')).rejects.toThrow(/https/);
    // localhost resolves to loopback: refused inside the lookup (TLS never starts, nothing reaches the server).
    await expect(transport.post(`https://localhost:${port}/`, {}, '{}')).rejects.toThrow(/private, loopback/);
    expect(hits).toBe(0);
    // Locally loopback is allowed.
    await expect(new HttpWebhookTransport({ allowLoopback: true }).post(`http://127.0.0.1:${port}/`, {}, '{}')).resolves.toEqual({ status: 200 });
    expect(hits).toBe(1);
    server.close();
  });
});

describe('webhook routes', () => {
  it('registers, shows, lists, rotates and deletes a webhook; the secret is answered only on create and rotate, stored encrypted', async () => {
    const h = api();
    const created = await call(h, 'POST', '/v1/webhooks', { body: { url: 'https://hooks.example.com/wa', events: ['message.received', 'message.status'], description: 'crm' } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.stringMatching(/^wh_/), url: 'https://hooks.example.com/wa', events: ['message.received', 'message.status'], description: 'crm', secret: expect.stringMatching(/^whsec_/), createdAt: new Date(T0).toISOString() });
    const id = created.body.id;
    const stored = await store.get(id);
    expect(stored!.secretCiphertext).not.toContain(created.body.secret.slice(6));
    expect(await cipher.decrypt(stored!.secretCiphertext, id)).toBe(created.body.secret);

    const shown = await call(h, 'GET', `/v1/webhooks/${id}`);
    expect(shown.body).not.toHaveProperty('secret');
    expect(JSON.stringify((await call(h, 'GET', '/v1/webhooks')).body)).not.toContain('whsec_');

    const rotated = await call(h, 'POST', `/v1/webhooks/${id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.body.secret);

    expect((await call(h, 'DELETE', `/v1/webhooks/${id}`)).status).toBe(204);
    expect((await call(h, 'GET', `/v1/webhooks/${id}`)).body.error.code).toBe('webhook_not_found');
    expect((await call(h, 'DELETE', `/v1/webhooks/${id}`)).status).toBe(404);
  });

  it('pages the delivery log with a cursor, newest first, each attempt once; a cursor of another webhook is a 400', async () => {
    const h = api();
    const a = (await call(h, 'POST', '/v1/webhooks', { body: { url: 'https://a.example.com/hook' } })).body.id as string;
    const b = (await call(h, 'POST', '/v1/webhooks', { body: { url: 'https://b.example.com/hook' } })).body.id as string;
    const at = (n: number) => new Date(T0 + n * 1000).toISOString();
    await store.recordDeliveries(Array.from({ length: 5 }, (_, n) => ({ webhookId: a, eventId: `evt_${n}`, eventType: 'message.received', attempt: 1, at: at(n), outcome: 'delivered' as const, httpStatus: 204 })));
    await store.recordDeliveries([{ webhookId: b, eventId: 'evt_b', eventType: 'message.received', attempt: 1, at: at(9), outcome: 'delivered', httpStatus: 204 }]);
    const seen: string[] = [];
    let cursor: string | null = null;
    let bCursor = '';
    do {
      const page: { status: number; body: any } = await call(h, 'GET', `/v1/webhooks/${a}/deliveries?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((d: { eventId: string }) => d.eventId));
      cursor = page.body.nextCursor;
      if (cursor) bCursor = cursor;
    } while (cursor);
    expect(seen).toEqual(['evt_4', 'evt_3', 'evt_2', 'evt_1', 'evt_0']);
    const wrong = await call(h, 'GET', `/v1/webhooks/${b}/deliveries?cursor=${bCursor}`);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.details.path).toBe('cursor');
  });

  it('answers 400 naming body.url for a refused URL, and for an unknown event type', async () => {
    const h = api();
    const bad = await call(h, 'POST', '/v1/webhooks', { body: { url: 'https://10.0.0.8/hook' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'validation_error', details: { path: 'body.url' } });
    const type = await call(h, 'POST', '/v1/webhooks', { body: { url: 'https://hooks.example.com/x', events: ['message.nope'] } });
    expect(type.status).toBe(400);
    expect(type.body.error.details.path).toBe('body.events.0');
    // Locally, loopback over http is fine.
    expect((await call(api({ allowLoopback: true }), 'POST', '/v1/webhooks', { body: { url: 'http://127.0.0.1:9000/hook' } })).status).toBe(201);
  });
});

describe('webhook delivery', () => {
  /** Deliveries with a scripted transport: `answer(url, attempt)` gives the status. */
  async function setup(urls: string[], answer: (url: string) => number, start = T0) {
    const { doc: d, tableName: t } = await freshTable();
    const webhooks = new DynamoDbWebhooks(d, t);
    const ids: string[] = [];
    const secrets: string[] = [];
    for (const url of urls) {
      const id = `wh_${randomBytes(8).toString('hex')}`;
      const secret = `whsec_${randomBytes(24).toString('base64')}`;
      await webhooks.create({ id, url, events: ['*'], description: null, createdAt: new Date(T0).toISOString(), secretCiphertext: await cipher.encrypt(secret, id) });
      ids.push(id);
      secrets.push(secret);
    }
    const sent: Array<{ url: string; headers: Record<string, string>; body: string }> = [];
    const retries = new HeldRetries();
    let now = start;
    const deps: DeliveryDeps = {
      webhooks,
      secrets: cipher,
      retries,
      now: () => now,
      transport: { post: async (url, headers, body) => (sent.push({ url, headers, body }), { status: answer(url) }) },
    };
    return { deps, webhooks, ids, secrets, sent, retries, setNow: (ms: number) => (now = ms) };
  }

  it('counts every attempt of a batch by outcome, in one metric line per outcome', async () => {
    // Prepare
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    vi.stubEnv(BACKEND_ID_ENV, 'Test/WhatsAppBackend');
    const s = await setup(['https://ok.example.com/', 'https://down.example.com/'], (url) => (url.includes('down') ? 503 : 204), Date.now());
    const handler = makeWebhooksHandler(s.deps);
    const job = (hook: number, n: number, attempts = 0): DeliveryJob => ({ webhookId: s.ids[hook]!, event: event(n), attempts, dueAtMs: 0 });
    const jobs = [job(0, 1), job(0, 2), job(1, 1), job(1, 2), job(1, 3, RETRY_DELAYS_SECONDS.length)];
    let answer: unknown;

    // Act
    const lines = await emfLines(async () => (answer = await handler(sqsEvent(jobs.map((j) => JSON.stringify(j))))));
    vi.unstubAllEnvs();

    // Assess
    expect(answer).toEqual({ batchItemFailures: [] });
    const name = METRICS.webhookDeliveries.name;
    expect(valueOf(lines, name)).toBe(5);
    expect(valueOf(lines, name, { Outcome: 'delivered' })).toBe(2);
    expect(valueOf(lines, name, { Outcome: 'failed' })).toBe(2);
    expect(valueOf(lines, name, { Outcome: 'parked' })).toBe(1);
  });

  it('sends one signed POST per (event, endpoint); a failing endpoint is retried alone', async () => {
    // Signed now: the verifier refuses timestamps more than 5 minutes off its own clock.
    const start = Date.now();
    const s = await setup(['https://ok.example.com/', 'https://down.example.com/'], (url) => (url.includes('down') ? 503 : 204), start);
    await fanOut([event(1), event(2)], s.deps);
    expect(s.sent).toHaveLength(4);
    const ok = s.sent.filter((x) => x.url.includes('ok'));
    for (const d of ok) expect(new StandardWebhook(s.secrets[0]!).verify(d.body, d.headers)).toMatchObject({ id: d.headers['webhook-id'] });
    expect(ok.map((d) => d.headers['webhook-id']).sort()).toEqual([event(1).id, event(2).id]);
    expect(s.retries.jobs.map((j) => j.webhookId)).toEqual([s.ids[1], s.ids[1]]);

    s.setNow(start + RETRY_DELAYS_SECONDS[0] * 1000);
    s.sent.length = 0;
    await runJobs(s.retries.take(), s.deps);
    expect(s.sent.map((x) => x.url)).toEqual(['https://down.example.com/', 'https://down.example.com/']);
    const log = (await s.webhooks.listDeliveries(s.ids[1]!, 10)).items;
    expect(log[0]).toMatchObject({ outcome: 'failed', attempt: 2, httpStatus: 503, nextAttemptAt: new Date(start + (RETRY_DELAYS_SECONDS[0] + RETRY_DELAYS_SECONDS[1]) * 1000).toISOString() });
    expect((await s.webhooks.listDeliveries(s.ids[0]!, 10)).items.map((d) => d.outcome)).toEqual(['delivered', 'delivered']);
  });

  it('backs off for more than 24 hours, then parks the job; replay delivers it again', async () => {
    let up = false;
    const s = await setup(['https://flaky.example.com/'], () => (up ? 200 : 500));
    await fanOut([event(7)], s.deps);
    const attemptsAt: number[] = [T0];
    for (;;) {
      const [job] = s.retries.take();
      if (!job) break;
      // Not due yet: it waits again, untried.
      s.setNow(job.dueAtMs - 1000);
      s.sent.length = 0;
      await runJobs([job], s.deps);
      expect(s.sent).toHaveLength(0);
      const [again] = s.retries.take();
      s.setNow(again!.dueAtMs);
      await runJobs([again!], s.deps);
      attemptsAt.push(again!.dueAtMs);
    }
    expect(attemptsAt).toHaveLength(RETRY_DELAYS_SECONDS.length + 1);
    expect(attemptsAt.at(-1)! - T0).toBeGreaterThanOrEqual(24 * 3600 * 1000);
    const parked = await s.webhooks.parked(s.ids[0]!, 10);
    expect(parked.map((j) => j.event.id)).toEqual([event(7).id]);
    expect((await s.webhooks.listDeliveries(s.ids[0]!, 1)).items[0]).toMatchObject({ outcome: 'parked', attempt: RETRY_DELAYS_SECONDS.length + 1 });

    up = true;
    expect(await replayParked(s.ids[0]!, s.deps)).toBe(1);
    expect(await s.webhooks.parked(s.ids[0]!, 10)).toEqual([]);
    s.sent.length = 0;
    await runJobs(s.retries.take(), s.deps);
    expect(s.sent.map((x) => x.headers['webhook-id'])).toEqual([event(7).id]);
  });

  it('a deleted webhook gets nothing more, its queued jobs included', async () => {
    const s = await setup(['https://gone.example.com/'], () => 500);
    await fanOut([event(3)], s.deps);
    await s.webhooks.delete(s.ids[0]!);
    s.setNow(T0 + 3600_000);
    s.sent.length = 0;
    await runJobs(s.retries.take(), s.deps);
    await fanOut([event(4)], s.deps);
    expect(s.sent).toEqual([]);
    expect(s.retries.jobs).toEqual([]);
  });

  it('a retry queue that refuses the failed jobs: they are parked, the record is not given again, and the endpoint that took the event is not sent to again', async () => {
    const s = await setup(['https://ok.example.com/', 'https://down.example.com/'], (url) => (url.includes('down') ? 503 : 204), Date.now());
    const refusing = { schedule: async () => Promise.reject(Object.assign(new Error('queue down'), { name: 'QueueUnavailable' })) };
    const told: Array<{ webhookId: string; outcome: string; nextAttemptAt?: string }> = [];
    const handler = makeWebhooksHandler({ ...s.deps, retries: refusing, log: { warn: () => {} }, onDelivery: (d) => told.push(d) });
    const out = await handler(sqsEvent([JSON.stringify(quarantined(5)), JSON.stringify(quarantined(6))]));
    expect(out.batchItemFailures).toEqual([]);
    expect(s.sent.filter((x) => x.url.includes('ok'))).toHaveLength(2);
    expect((await s.webhooks.parked(s.ids[1]!, 10)).map((j) => j.event.id).sort()).toEqual([quarantined(5).id, quarantined(6).id].sort());
    expect(await s.webhooks.parked(s.ids[0]!, 10)).toEqual([]);
    // Told and logged as parked, with no next attempt: nothing will try them until a replay.
    const log = (await s.webhooks.listDeliveries(s.ids[1]!, 10)).items;
    expect(log.map((d) => d.outcome)).toEqual(['parked', 'parked']);
    for (const d of log) expect(d).not.toHaveProperty('nextAttemptAt');
    expect(told.filter((d) => d.webhookId === s.ids[1]).map((d) => [d.outcome, d.nextAttemptAt])).toEqual([
      ['parked', undefined],
      ['parked', undefined],
    ]);
  });

  it('only the record of a job kept nowhere (queue and table refusing) comes again; a record that is neither event nor job is reported for the DLQ', async () => {
    const s = await setup(['https://down.example.com/'], () => 503, Date.now());
    const refusing = { schedule: async () => Promise.reject(new Error('queue down')) };
    const webhooks = Object.assign(Object.create(s.webhooks) as typeof s.webhooks, { park: async () => Promise.reject(new Error('table down')) });
    const handler = makeWebhooksHandler({ ...s.deps, webhooks, retries: refusing, log: { warn: () => {} } });
    // A retry-queue batch: one due job that fails again, one job for a deleted webhook (dropped), and a malformed body.
    const due: DeliveryJob = { webhookId: s.ids[0]!, event: quarantined(8), attempts: 1, dueAtMs: Date.now() - 1 };
    const gone: DeliveryJob = { webhookId: 'wh_0123456789abcdef0123456789abcdef', event: quarantined(9), attempts: 1, dueAtMs: Date.now() - 1 };
    const records = sqsEvent([JSON.stringify(due), JSON.stringify(gone), '{"not":"a job"}']);
    const out = await handler(records);
    expect(out.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([records.Records[0]!.messageId, records.Records[2]!.messageId].sort());
  });

  it('delivers only the types a webhook subscribed to', async () => {
    const s = await setup([], () => 200);
    const id = 'wh_statusonly';
    await s.webhooks.create({ id, url: 'https://s.example.com/', events: ['message.status'], description: null, createdAt: new Date(T0).toISOString(), secretCiphertext: await cipher.encrypt('whsec_AAAA', id) });
    await fanOut([event(1, 'message.received'), event(2, 'message.status')], s.deps);
    expect(s.sent.map((x) => JSON.parse(x.body).type)).toEqual(['message.status']);
  });
});
