/**
 * IAM proven against the code: a journey on the local runtime (every function's handler, the
 * sandbox WABA, DynamoDB Local and the S3/SNS/SQS emulator) records each AWS command each
 * function's code sends; the stack synthesized for the same phone numbers must allow each one to
 * that function's role, on that resource. And the other way: every action a role allows is either
 * sent by the code on that resource or listed below with its reason.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as apiHandler } from '../../lambdas/api/handler.ts';
import { handler as broadcastsHandler } from '../../lambdas/broadcasts/handler.ts';
import { handler as eventsHandler } from '../../lambdas/events/handler.ts';
import { handler as inboundHandler } from '../../lambdas/inbound/handler.ts';
import { handler as mediaHandler } from '../../lambdas/media/handler.ts';
import { handler as webhooksHandler } from '../../lambdas/webhooks/handler.ts';
import { startRuntime, type Runtime } from '../../local/runtime.ts';
import { sampleMedia } from '../../local/sandbox/index.ts';
import { documentClient } from '../../shared/adapters/aws-clients.ts';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import { synthesize } from '../cdk/support.ts';
import { allowing, needsOf, globMatches, templateFunction, type Need, type Statement, type TemplateFunction } from '../support/iam-check.ts';
import { installSdkRecorder, recordedAs, recordedCommands } from '../support/sdk-recorder.ts';
import { eumFixture, snsNotification } from '../support/events.ts';
import { eventually } from './support/target.ts';

installSdkRecorder();

/** The functions of the stack, by the description each has in the template. */
const FUNCTIONS: Record<string, RegExp> = {
  api: /WhatsApp backend HTTP API/,
  inbound: /Stores WhatsApp events/,
  media: /Copies inbound WhatsApp media/,
  events: /Publishes the table's changes/,
  webhooks: /Delivers domain events/,
  broadcasts: /Sends broadcast messages/,
};

/** The keys that encrypt what the functions read and write (every one but the webhook secrets' key). */
const RESOURCE_KEYS = ['Arn(*MessageStoreKey*)', 'Arn(*MediaStoreKey*)', 'Arn(*EventIngestQueueKey*)', 'Arn(*JobsKey*)', 'Arn(*DeliveryKey*)', 'Arn(*RetryKey*)', 'Arn(*TopicKey*)'];
/** What an event source mapping does with the function's role on the queue it drains. */
const MAPPING_ACTIONS = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'];

/**
 * What a role may do that the journey's code does not send, and why. `fn` limits an entry to one
 * function, `resource` (IAM wildcards, on the resolved template value) to some resources.
 */
const NOT_SENT_BY_THE_CODE: ReadonlyArray<{ fn?: string; actions: string[]; resources?: string[]; reason: string }> = [
  { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], reason: "The function's own log group: Lambda writes the function's output there with the role." },
  { actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], reason: 'Active tracing: Lambda and the X-Ray SDK send segments with the role.' },
  {
    actions: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey', 'kms:Encrypt', 'kms:ReEncrypt*'],
    resources: RESOURCE_KEYS,
    reason: 'KMS for encrypted resources: DynamoDB, S3, SQS and SNS use the key of the table, bucket, queue or topic with the caller\'s role.',
  },
  { fn: 'inbound', actions: MAPPING_ACTIONS, resources: ['Arn(*EventIngestQueue*)'], reason: 'The event source mapping of the inbound queue.' },
  { fn: 'media', actions: MAPPING_ACTIONS, resources: ['Arn(*JobsQueue*)'], reason: 'The event source mapping of the media job queue.' },
  { fn: 'broadcasts', actions: MAPPING_ACTIONS, resources: ['Arn(*BroadcastsJobsQueue*)'], reason: 'The event source mapping of the broadcast send queue.' },
  {
    fn: 'broadcasts',
    actions: ['dynamodb:DeleteItem', 'dynamodb:Query'],
    resources: ['Arn(*Table*)', 'Arn(*Table*)/index/GSI1'],
    reason: "The send path's refusals, which the journey's one accepted send does not reach: a send record nothing was accepted for is deleted, and a template the catalog lacks in that language is looked up in its others (test/unit/send-store-failures.test.ts, test/integration/templates.journey.test.ts).",
  },
  {
    fn: 'inbound',
    actions: ['sqs:SendMessage'],
    resources: ['Arn(*BroadcastsJobsQueue*)'],
    reason: 'A failed status 130429 or 131056 of a broadcast message queues its recipient again; the journey\'s broadcast is not throttled (test/unit/broadcast-pacing.test.ts).',
  },
  { fn: 'webhooks', actions: MAPPING_ACTIONS, resources: ['Arn(*DeliveryQueue*)', 'Arn(*RetryQueue*)'], reason: 'The event source mappings of the delivery and retry queues.' },
  {
    fn: 'events',
    actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
    resources: ['StreamArn(*Table*)', '*'],
    reason: "The event source mapping of the table's stream (ListStreams has no resource-level permission).",
  },
  {
    fn: 'events',
    actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
    resources: ['Arn(*StreamFailures*)'],
    reason: "The stream mapping's on-failure destination: Lambda sends the failed batch's description there with the role.",
  },
  {
    actions: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
    resources: ['Arn(*JobsQueue*)', 'Arn(*RetryQueue*)'],
    reason: "aws-cdk-lib's grantSendMessages grants them beside sqs:SendMessage; the code sends by URL.",
  },
  {
    fn: 'api',
    actions: ['s3:PutObject'],
    resources: ['Arn(*MediaStoreBucket*)/outbound/*', 'Arn(*MediaStoreBucket*)/broadcasts/*'],
    reason: 'Presigned upload URLs (POST /v1/media, POST /v1/broadcasts/uploads) are signed with the role: S3 checks the PUT against it.',
  },
  {
    fn: 'api',
    actions: ['s3:GetObject'],
    resources: ['Arn(*MediaStoreBucket*)/inbound/*'],
    reason: 'Presigned download URLs (GET /v1/messages/{id}/media) are signed with the role: S3 checks the GET against it.',
  },
  { actions: ['s3:ListBucket'], resources: ['Arn(*MediaStoreBucket*)'], reason: 'Without it S3 answers 403 instead of 404 for a missing object (an upload not made yet), limited to the prefix by a condition.' },
  {
    fn: 'media',
    actions: ['s3:PutObject'],
    resources: ['Arn(*MediaStoreBucket*)/inbound/*'],
    reason: 'GetWhatsAppMessageMedia writes the file into the bucket itself (destinationS3File); AWS does not document whether with the caller\'s credentials, so the role may.',
  },
  { fn: 'api', actions: ['kms:Encrypt'], resources: ['Arn(*SecretsKey*)'], reason: 'Deployed, webhook secrets are encrypted with KMS (KmsSecretCipher); the local runtime uses a local key instead.' },
  { fn: 'webhooks', actions: ['kms:Decrypt'], resources: ['Arn(*SecretsKey*)'], reason: 'Deployed, webhook secrets are decrypted with KMS to sign deliveries; the local runtime uses a local key instead.' },
  {
    fn: 'api',
    actions: ['sqs:SendMessage'],
    resources: ['Arn(*RetryQueue*)'],
    reason: 'POST /v1/webhooks/{id}/replay puts parked deliveries back in line; deliveries park only after a day of retries (test/unit/webhooks.test.ts replays them).',
  },
  {
    fn: 'webhooks',
    actions: ['dynamodb:GetItem'],
    resources: ['Arn(*Table*)'],
    reason: 'A retried delivery looks its webhook up; the first retry is due only after the first backoff (test/unit/webhooks.test.ts runs them).',
  },
  {
    fn: 'events',
    actions: ['dynamodb:BatchWriteItem', 'dynamodb:Query'],
    resources: ['Arn(*Table*)', 'Arn(*Table*)/index/GSI1'],
    reason: 'Events that SNS refused after the retries are parked in the table and listed to replay (test/unit/events-publishing.test.ts).',
  },
  {
    fn: 'events',
    actions: ['dynamodb:Query'],
    resources: ['Arn(*Table*)/index/GSI2'],
    reason: "A status stored before its send record, or without our id, is a status-only item: the merged Message reads every item of its wamid (test/unit/events-stream.test.ts); the journey's statuses all carry our id.",
  },
];

/** Phone-number ARNs as one: a grant covers every configured number alike, and the journey uses some. */
const anyPhoneNumber = (resource: string) => resource.replace(/:phone-number-id\/[0-9a-f]+$/, ':phone-number-id/*');

let runtime: Runtime;
let dataDir: string;
/** Local value (table name, queue URL, bucket, topic ARN …) → the environment variable that held it. */
let localEnv: Map<string, string>;
let receiver: Server;
let receiverUrl: string;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(req.url === '/down' ? 503 : 204).end());
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  dataDir = mkdtempSync(join(tmpdir(), 'wb-iam-'));
  runtime = await startRuntime({
    dataDir,
    fresh: true,
    ports: { api: 0, sandbox: 0, aws: 0, dynamodb: 0 },
    logger: { info: () => {}, warn: () => {}, error: () => {} },
    handlers: {
      queues: {
        'inbound-events': recordedAs('inbound', inboundHandler),
        media: recordedAs('media', mediaHandler),
        'webhook-delivery': recordedAs('webhooks', webhooksHandler),
        'webhook-retry': recordedAs('webhooks', webhooksHandler),
        'broadcast-sends': recordedAs('broadcasts', broadcastsHandler),
      },
      api: recordedAs('api', apiHandler),
      stream: recordedAs('events', eventsHandler),
    },
  });
  localEnv = new Map(Object.entries(process.env).flatMap(([name, value]) => (value && /^[A-Z][A-Z0-9_]+$/.test(name) ? [[value, name] as [string, string]] : [])));
}, 120_000);

afterAll(async () => {
  await runtime?.stop();
  receiver?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${runtime.info.apiUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
};
const sandbox = async (path: string, body: unknown) =>
  (await fetch(`${runtime.info.sandboxUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Promise<any>;

/** Drives every function through what it does: the commands it sends are recorded on the way. */
async function journey(): Promise<void> {
  const pn = runtime.info.phoneNumbers[0]!.phoneNumberId;
  const user = '16505559001';
  // Webhooks: one that answers, one that fails (its attempt goes to the retry queue).
  const up = await api('POST', '/v1/webhooks', { url: `${receiverUrl}/up` });
  expect(up.status).toBe(201);
  expect((await api('POST', '/v1/webhooks', { url: `${receiverUrl}/down`, events: ['message.received'] })).status).toBe(201);
  expect((await api('POST', `/v1/webhooks/${up.body.id}/rotate-secret`)).status).toBe(200);

  // Inbound text and image: stored, published as events, delivered; the image copied to S3.
  const text = await sandbox('/sandbox/inbound', { from: user, to: pn, type: 'text', text: { body: 'hello' } });
  const image = await sandbox('/sandbox/inbound', { from: user, to: pn, type: 'image', image: { caption: 'receipt' } });
  const stored = await eventually(async () => {
    const res = await api('GET', `/v1/messages/${image.wamid}`);
    return res.body?.media?.state === 'stored' ? res.body : undefined;
  }, 'the image stored', 60_000);
  expect((await api('GET', `/v1/messages/${stored.id}/media`)).status).toBe(200);
  await eventually(async () => {
    const hooks = (await api('GET', '/v1/webhooks')).body.items as Array<{ id: string }>;
    const logs = await Promise.all(hooks.map(async (h) => (await api('GET', `/v1/webhooks/${h.id}/deliveries`)).body.items as Array<{ outcome: string }>));
    return logs.every((l) => l.length > 0) ? true : undefined;
  }, 'a delivery attempt to each webhook', 60_000);

  // Replies: a text, a read receipt, an uploaded document.
  const textMessage = (await api('GET', `/v1/messages/${text.wamid}`)).body;
  expect((await api('POST', '/v1/messages', { from: pn, to: user, type: 'text', text: { body: 'hi' } })).status).toBe(202);
  // From the display number: the API learns the numbers' display numbers from AWS.
  const display = runtime.info.phoneNumbers[0]!.displayPhoneNumber;
  expect((await api('POST', '/v1/messages', { from: display, to: user, type: 'text', text: { body: 'hi again' } })).status).toBe(202);
  expect((await api('POST', `/v1/messages/${textMessage.id}/read`)).status).toBe(200);
  const pdf = sampleMedia('document');
  const started = await api('POST', '/v1/media', { from: pn, contentType: 'application/pdf', filename: 'a.pdf', size: pdf.bytes.length });
  expect(started.status).toBe(201);
  expect((await fetch(started.body.uploadUrl, { method: 'PUT', headers: started.body.headers, body: pdf.bytes })).status).toBe(200);
  const done = await api('POST', `/v1/media/${started.body.uploadId}/complete`);
  expect(done.status).toBe(200);
  expect((await api('POST', '/v1/messages', { from: pn, to: user, type: 'document', document: { id: done.body.mediaId } })).status).toBe(202);

  // Reads, and a quarantined image event replayed through the API (it stores and enqueues a copy).
  expect((await api('GET', '/v1/conversations')).status).toBe(200);
  expect((await api('GET', `/v1/conversations/${pn}/${user}/messages`)).status).toBe(200);
  const doc = documentClient();
  const raw = snsNotification(eumFixture('inbound-image'));
  await new DynamoDbStore(doc, runtime.info.tableName).quarantine({ raw, reason: 'refused before a fix', receivedAtMs: Date.now() });
  const [quarantined] = (await api('GET', '/v1/quarantine')).body.items as Array<{ id: string }>;
  expect((await api('POST', `/v1/quarantine/${quarantined!.id}/replay`)).status).toBe(200);
  // Templates: one created from a definition and deleted, one copied from Meta's template library.
  const notice = { name: 'iam_notice', language: 'en_US', category: 'UTILITY', components: [{ type: 'BODY', text: 'Your visit is on {{1}}.', example: { body_text: [['Monday']] } }] };
  expect((await api('POST', '/v1/templates', notice)).status).toBe(201);
  expect((await api('DELETE', '/v1/templates/iam_notice')).status).toBe(200);
  expect((await api('POST', '/v1/templates', { library: { name: 'iam_delivery', libraryTemplateName: 'delivery_update_1', category: 'UTILITY', language: 'en_US' } })).status).toBe(201);

  // A broadcast of Meta's hello_world template (the catalog the runtime synced at start checks it),
  // to an uploaded list (the API checks it in the media bucket, the broadcast function reads it).
  const list = '16505559002\n';
  const ticket = await api('POST', '/v1/broadcasts/uploads', { size: list.length });
  expect(ticket.status).toBe(201);
  expect((await fetch(ticket.body.uploadUrl, { method: 'PUT', headers: ticket.body.headers, body: list })).status).toBe(200);
  const broadcast = await api('POST', '/v1/broadcasts', { from: pn, template: { name: 'hello_world', language: { code: 'en_US' } }, recipientsUpload: ticket.body.uploadId });
  expect(broadcast.status).toBe(202);
  // Completed, and its message read: the inbound function counted its statuses on the broadcast.
  await eventually(async () => {
    const b = (await api('GET', `/v1/broadcasts/${broadcast.body.id}`)).body;
    return b.state === 'completed' && b.statuses?.read === 1 ? true : undefined;
  }, 'the broadcast completed and read', 60_000);
  await api('DELETE', `/v1/webhooks/${up.body.id}`);
}

/** Each function of the template, with its role's statements. */
function templateFunctions(): Record<string, TemplateFunction> {
  const { template } = synthesize({ phoneNumberIds: runtime.info.phoneNumbers.map((p) => p.phoneNumberId), wabaId: runtime.info.phoneNumbers[0]!.wabaId });
  const resources = template.toJSON().Resources as Record<string, any>;
  return Object.fromEntries(
    Object.entries(FUNCTIONS).map(([name, description]) => {
      const ids = Object.keys(resources).filter((id) => resources[id].Type === 'AWS::Lambda::Function' && description.test(resources[id].Properties.Description ?? ''));
      expect(ids, name).toHaveLength(1);
      return [name, templateFunction(resources, ids[0]!)];
    }),
  );
}

/** Every command's IAM requests that no statement of its function's role allows. */
function notAllowed(fns: Record<string, TemplateFunction>, statementsOf: (fn: string) => readonly Statement[]): string[] {
  return recordedCommands().flatMap((cmd) =>
    needsOf(cmd, fns[cmd.fn]!, localEnv)
      .filter((need) => !allowing(statementsOf(cmd.fn), need))
      .map((need) => `${cmd.fn}: ${need.action} on ${need.resource} (${cmd.service} ${cmd.operation})`),
  );
}

describe('IAM against the code', () => {
  let fns: Record<string, TemplateFunction>;
  let needs: Map<string, Need[]>;

  beforeAll(async () => {
    await journey();
    fns = templateFunctions();
    needs = new Map(Object.keys(FUNCTIONS).map((fn) => [fn, recordedCommands().filter((c) => c.fn === fn).flatMap((c) => needsOf(c, fns[fn]!, localEnv))]));
  }, 240_000);

  it('records the commands of every function, each of the kinds the functions are there for', () => {
    const sent = new Set([...needs].flatMap(([fn, list]) => list.map((n) => `${fn} ${n.action}`)));
    for (const expected of [
      'api social-messaging:SendWhatsAppMessage',
      'api social-messaging:PostWhatsAppMessageMedia',
      'api dynamodb:PutItem',
      'api sqs:SendMessage',
      'inbound dynamodb:PutItem',
      'media social-messaging:GetWhatsAppMessageMedia',
      'media dynamodb:UpdateItem',
      'events sns:Publish',
      'webhooks sqs:SendMessage',
    ]) {
      expect(sent, expected).toContain(expected);
    }
  });

  it("finds every command allowed by its function's role, on its resource", () => {
    expect(notAllowed(fns, (fn) => fns[fn]!.statements)).toEqual([]);
  });

  it('would fail if a grant were removed', () => {
    // Without the statement that lets the API send WhatsApp messages, its sends are refused.
    const withoutSend = (fn: string) => fns[fn]!.statements.filter((s) => !(fn === 'api' && s.actions.includes('social-messaging:SendWhatsAppMessage')));
    expect(notAllowed(fns, withoutSend)).toContainEqual(expect.stringMatching(/^api: social-messaging:SendWhatsAppMessage on arn:aws:social-messaging:/));
  });

  it('finds nothing a role allows that the code does not send, beyond the listed reasons', () => {
    const unexplained: string[] = [];
    for (const [fn, { statements }] of Object.entries(fns)) {
      for (const s of statements) {
        for (const action of s.actions) {
          for (const resource of s.resources) {
            const sent = needs.get(fn)!.some((n) => globMatches(action, n.action) && globMatches(anyPhoneNumber(resource), anyPhoneNumber(n.resource)));
            const listed = NOT_SENT_BY_THE_CODE.some(
              (e) =>
                (e.fn === undefined || e.fn === fn) &&
                e.actions.some((a) => globMatches(a, action)) &&
                (e.resources === undefined || e.resources.some((r) => globMatches(r, resource))),
            );
            if (!sent && !listed) unexplained.push(`${fn}: ${action} on ${resource}`);
          }
        }
      }
    }
    expect(unexplained).toEqual([]);
  });
});
