/**
 * Fuzz: every route of the API with random path parameters, query strings, headers and bodies,
 * against DynamoDB Local, the S3 emulator and the sandbox WABA. Never a 5xx; every refusal in the
 * JSON error shape; no SendWhatsAppMessage for a request the API refused. FUZZ_API sets the count
 * (`npm run fuzz`: 100,000).
 */
import { isTransientFailure } from '../../shared/adapters/transient-errors.ts';
import { randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHandler } from '../../lambdas/api/handler.ts';
import { allRoutes } from '../../lambdas/api/routes/index.ts';
import { DynamoDbOutbound } from '../../shared/adapters/dynamodb-outbound.ts';
import { encodeCursor } from '../../shared/adapters/dynamodb-queries.ts';
import { SocialMessagingGateway } from '../../shared/adapters/socialmessaging-gateway.ts';
import { DynamoDbWebhooks } from '../../shared/adapters/dynamodb-webhooks.ts';
import { DynamoDbTemplates } from '../../shared/adapters/dynamodb-templates.ts';
import { SocialMessagingTemplates } from '../../shared/adapters/socialmessaging-templates.ts';
import { TemplateCatalog } from '../../shared/domain/templates.ts';
import { DynamoDbSuppressions } from '../../shared/adapters/dynamodb-suppressions.ts';
import { Suppressions } from '../../shared/domain/suppressions.ts';
import { businessOfRequest } from '../../lambdas/api/routes/suppressions.ts';
import { DynamoDbBroadcasts } from '../../shared/adapters/dynamodb-broadcasts.ts';
import { Broadcasts } from '../../shared/domain/broadcasts.ts';
import { LocalSecretCipher } from '../../shared/adapters/webhook-secrets.ts';
import type { DeliveryJob } from '../../shared/domain/webhooks.ts';
import { MessageSender } from '../../shared/domain/send-message.ts';
import { messageIdFromWamid } from '../../shared/domain/ids.ts';
import { call, type ApiHandler } from '../support/api.ts';
import { editBody } from '../support/body-edits.ts';
import { FUZZ_SEED, fuzzCount, hostileValue, PROTOTYPE_NAMES, timeoutFor } from '../support/fuzz.ts';
import { startMediaBench, type MediaBench } from '../support/media.ts';
import { loadSandboxConfig } from '../../local/sandbox/index.ts';
import { outboundFixtures } from '../support/send.ts';

const COUNT = fuzzCount('FUZZ_API', 300);

let bench: MediaBench;
const sandboxUser = loadSandboxConfig().users.find((u) => u.onWhatsApp)!.phone;
let api: ApiHandler;
const heldJobs: DeliveryJob[] = [];

beforeAll(async () => {
  bench = await startMediaBench();
  const templates = new DynamoDbTemplates(bench.doc, bench.resources.tableName);
  const sender = new MessageSender({
    templates,
    gateway: new SocialMessagingGateway(bench.socialMessaging, { sendClient: bench.socialMessaging, sleep: async () => {} }),
    store: new DynamoDbOutbound(bench.doc, bench.resources.tableName),
    messages: bench.queries,
    phoneNumberIds: bench.phoneNumberIds,
    metaApiVersion: 'v24.0',
    now: Date.now,
  });
  // The user wrote a moment ago: the 24-hour window is open, so a valid body is really sent.
  const waId = sandboxUser.replace(/\D/g, '');
  await bench.store.recordInbound({
    id: messageIdFromWamid('wamid.FUZZ'),
    wamid: 'wamid.FUZZ',
    business: { phoneNumberId: bench.phoneNumberIds[0]!, metaPhoneNumberId: '1' },
    contact: { waId },
    contactId: waId,
    type: 'text',
    content: { body: 'hi' },
    timestampMs: Date.now(),
  });
  api = makeHandler({
    queries: bench.queries,
    now: Date.now,
    sender: () => sender,
    media: () => ({ records: bench.records, storage: bench.storage, whatsapp: bench.whatsapp, resolvePhoneNumber: bench.resolvePhoneNumber, now: Date.now }),
    // Webhooks in the table; a replay's jobs are held, not delivered, and a URL never resolves to a
    // place traffic could go (the policy refuses loopback, and names resolve to a documentation address).
    // Broadcasts in the table; their jobs are held, not sent.
    broadcasts: () => {
      const store = new DynamoDbBroadcasts(bench.doc, bench.resources.tableName);
      return new Broadcasts({ store, pacer: store, pairs: store, queue: { enqueue: async () => {} }, sender, queries: bench.queries, messagesPerSecond: () => 80, now: Date.now, sleep: async () => {} });
    },
    // The suppression lists in the table.
    suppressions: () => ({
      suppressions: new Suppressions({ store: new DynamoDbSuppressions(bench.doc, bench.resources.tableName), now: Date.now }),
      business: businessOfRequest(sender),
    }),
    // The template catalog in the table, synced from the sandbox WABA.
    templates: () => ({
      store: templates,
      catalog: new TemplateCatalog({ source: new SocialMessagingTemplates(bench.socialMessaging), store: templates, now: Date.now }),
      wabas: () => sender.wabas(),
    }),
    webhooks: () => ({
      webhooks: new DynamoDbWebhooks(bench.doc, bench.resources.tableName),
      secrets: new LocalSecretCipher(randomBytes(32).toString('base64')),
      retries: { schedule: async (jobs: readonly DeliveryJob[]) => void heldJobs.push(...jobs) },
      urlPolicy: { allowLoopback: false, resolve: async () => ['192.0.2.1'] },
      now: Date.now,
    }),
    // Quarantine replay on the same table (no media queue: a replayed image's copy job is not sent).
    replay: () => ({ store: bench.store, isTransient: isTransientFailure, now: Date.now }),
  });
}, 120_000);
afterAll(() => bench?.stop());

const ROUTES = allRoutes({} as never).map((r) => ({ method: r.method, path: r.path }));

/** Codes with which the API refuses a request itself, before anything is sent. */
const OWN_REFUSALS = new Set(['validation_error', 'invalid_json', 'bad_request', 'payload_too_large', 'method_not_allowed', 'route_not_found']);

const segment = fc.oneof(
  fc.constantFrom('msg_0123456789abcdef0123456789abcdef', 'upl_0123456789abcdef0123456789abcdef', 'wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUFE', '16505551234', '+1 650-555-1234'),
  fc.constantFrom('%20', '%0A', '%09', '%0D%0A', '%00', '%E0%A4%A', '%', '%%', '..', '.', '%2F', '%2e%2e', '%C0%AF', '%ED%A0%80', '%F0%9F%98%80'),
  fc.constantFrom(...PROTOTYPE_NAMES),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 20 }).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, ''))),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => 'a'.repeat(n)),
);

const cursor = fc.oneof(
  fc.constantFrom(
    encodeCursor({ PK: 'QUAR#x', SK: 'QUAR', GSI1PK: 'QUARANTINE', GSI1SK: 'x' }),
    encodeCursor({ PK: 'CONV#a#b', SK: 'CONV', GSI2PK: 'CONVS', GSI2SK: 'x' }),
    encodeCursor({ PK: 'MSG#x', SK: 'MSG', GSI1PK: 'CONV#a#b', GSI1SK: 'x' }),
    encodeCursor({ PK: '', SK: '', GSI1PK: '', GSI1SK: '' }),
    encodeCursor({ PK: 1, SK: 'x', GSI1PK: 'x', GSI1SK: 'x' } as never),
    'e30',
    '!!!',
  ),
  fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v) ?? '').toString('base64url')),
  fc.string({ maxLength: 30 }),
);

const queryValue = fc.oneof(
  fc.constantFrom('1', '100', '101', '0', '-1', '1e999', 'NaN', '', ' ', '1.5', '0x10', '20abc'),
  cursor,
  fc.constantFrom(...PROTOTYPE_NAMES),
  fc.string({ maxLength: 30 }),
);
const query = fc.dictionary(fc.oneof(fc.constantFrom('limit', 'cursor', 'phoneNumberId', ...PROTOTYPE_NAMES), fc.string({ maxLength: 8 })), queryValue, { maxKeys: 4 });

/** Header values HTTP can carry: visible ASCII. */
const headerValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 }),
  fc.constantFrom('', 'application/json', 'text/plain', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', 'x'.repeat(300)),
);
const headers = fc.dictionary(
  fc.oneof(fc.constantFrom('Idempotency-Key', 'content-type', 'accept', 'x-amz-date', ...PROTOTYPE_NAMES), fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/)),
  headerValue,
  { maxKeys: 4 },
);

const FIXTURES = Object.values(outboundFixtures());
const FROM = '\u0000FROM';
const TO = '\u0000TO';
/** An outbound fixture sent from a number of the sandbox WABA to a user of it, with 0–3 hostile edits. */
const fixtureBody = fc
  .tuple(
    fc.nat({ max: FIXTURES.length - 1 }),
    fc.oneof(fc.constant([]), fc.array(fc.tuple(fc.nat(), hostileValue(5000), fc.option(fc.constantFrom(...PROTOTYPE_NAMES, 'extra'), { nil: undefined })), { maxLength: 3 })),
  )
  .map(([i, edits]) => {
    const fixture = { ...structuredClone(FIXTURES[i]!), from: FROM, to: TO };
    return JSON.stringify(edits.reduce((b, e) => editBody(b, e), fixture as Record<string, unknown>)) ?? 'null';
  });

const body = fc.oneof(
  { weight: 3, arbitrary: fixtureBody },
  { weight: 1, arbitrary: fc.record({ from: fc.constantFrom('phone-number-id-x', ''), contentType: fc.string({ maxLength: 20 }), size: fc.oneof(fc.integer(), fc.double()) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.constantFrom('', '{', 'null', '[]', '{"__proto__":{"x":1}}', '{"typingIndicator":"yes"}', '"\\ud800"', '{"a":1e999}', 'x'.repeat(70_000)) },
);

const request = fc.record({
  route: fc.nat({ max: ROUTES.length - 1 }),
  method: fc.option(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'), { freq: 5, nil: undefined }),
  segments: fc.array(segment, { minLength: 3, maxLength: 3 }),
  query,
  headers,
  body: fc.option(body, { freq: 4, nil: undefined }),
});

describe('fuzzed API requests', () => {
  it(
    `answers ${COUNT} random requests (seed ${FUZZ_SEED + 7}) with no 5xx, errors in the JSON shape, and sends nothing it refused`,
    async () => {
      const tally: Record<string, number> = {};
      const problems: string[] = [];
      const CHUNK = 1000;
      for (let done = 0, chunk = 0; done < COUNT; chunk++) {
        const n = Math.min(CHUNK, COUNT - done);
        for (const r of fc.sample(request, { seed: FUZZ_SEED + 7 + chunk, numRuns: n })) {
          const route = ROUTES[r.route]!;
          let i = 0;
          const path = route.path.replace(/\{\w+\}/g, () => r.segments[i++]!);
          const qs = new URLSearchParams(Object.entries(r.query).map(([k, v]) => [k, String(v)] as [string, string])).toString();
          const method = r.method ?? route.method;
          const sendsBefore = bench.callsOf('SendWhatsAppMessage').length;
          const res = await call(api, method, `${path}${qs ? `?${qs}` : ''}`, {
            headers: { ...r.headers, ...(method === 'POST' && !r.headers['Idempotency-Key'] && { 'Idempotency-Key': randomUUID() }) },
            ...(r.body !== undefined && { body: r.body.replaceAll('\\u0000FROM', bench.phoneNumberIds[0]!).replaceAll('\\u0000TO', sandboxUser) }),
          }).catch((err: Error) => ({ status: 0, body: { thrown: err.message }, headers: {} }));
          const sent = bench.callsOf('SendWhatsAppMessage').length - sendsBefore;
          tally[res.status] = (tally[res.status] ?? 0) + 1;
          if (sent > 0) tally.sends = (tally.sends ?? 0) + sent;
          const where = `${method} ${path.slice(0, 80)}${qs ? `?${qs.slice(0, 60)}` : ''} → ${res.status}`;
          if (res.status === 0 || res.status >= 500) problems.push(`${where} headers ${JSON.stringify(r.headers).slice(0, 200)}: ${JSON.stringify(res.body).slice(0, 200)}`);
          else if (res.status >= 400) {
            const e = res.body?.error;
            const shaped = Object.keys(res.body ?? {}).join() === 'error' && typeof e?.code === 'string' && typeof e?.message === 'string';
            if (!shaped) problems.push(`${where} not in the error shape: ${JSON.stringify(res.body).slice(0, 200)}`);
            if (OWN_REFUSALS.has(e?.code) && sent > 0) problems.push(`${where} refused (${e.code}) yet sent`);
          }
          if (problems.length >= 10) break;
        }
        if (problems.length >= 10) break;
        done += n;
      }
      console.info(`fuzz API: ${COUNT} requests (seed ${FUZZ_SEED + 7}): statuses ${JSON.stringify(tally)}`);
      expect(problems).toEqual([]);
    },
    timeoutFor(COUNT, 40) + 60_000,
  );
});
