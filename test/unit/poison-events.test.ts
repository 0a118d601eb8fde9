import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeHandler } from '../../lambdas/inbound/handler.ts';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import { isTransientFailure } from '../../shared/adapters/transient-errors.ts';
import { parseEventBody } from '../../shared/domain/parse-event.ts';
import { freshTable } from '../support/dynamodb.ts';
import { entryOf, eumFixture, snsNotification, sqsEvent, withEntry } from '../support/events.ts';

const context = { functionName: 'inbound', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

let doc: Awaited<ReturnType<typeof freshTable>>['doc'];
let tableName: string;
let store: DynamoDbStore;

beforeEach(async () => {
  ({ doc, tableName } = await freshTable());
  store = new DynamoDbStore(doc, tableName);
});

const scan = async () => (await doc.send(new ScanCommand({ TableName: tableName }))).Items ?? [];

const PROTOTYPE_NAMES = ['constructor', 'toString', '__proto__', 'valueOf', 'hasOwnProperty', '__defineGetter__'];

/** The text fixture with its message edited by `edit`. */
function editedMessage(fixture: string, edit: (msg: Record<string, any>) => void): Record<string, unknown> {
  const env = eumFixture(fixture);
  const entry = entryOf(env);
  edit(entry.changes[0].value.messages[0]);
  return withEntry(env, entry);
}

describe('poison envelopes end in quarantine, never thrown', () => {
  it.each(PROTOTYPE_NAMES)('keeps a message whose type is %s as an unknown type', async (name) => {
    const env = editedMessage('inbound-text', (m) => {
      m.type = name;
    });
    const parsed = parseEventBody(JSON.stringify(env), Date.now());
    expect(parsed).toMatchObject({ kind: 'ok', problems: [] });
    const handler = makeHandler({ store });

    const response = await handler(sqsEvent([snsNotification(env)]), context);

    expect(response.batchItemFailures).toEqual([]);
    const [message] = (await scan()).filter((i) => i.entity === 'message');
    expect(message).toMatchObject({ type: name, direction: 'inbound' });
    expect(message!.content ?? null).toBeNull();
  });

  it.each(PROTOTYPE_NAMES)('keeps an interactive reply whose type is %s verbatim', async (name) => {
    const env = editedMessage('inbound-interactive-button-reply', (m) => {
      m.interactive.type = name;
    });

    const response = await makeHandler({ store })(sqsEvent([snsNotification(env)]), context);

    expect(response.batchItemFailures).toEqual([]);
    const [message] = (await scan()).filter((i) => i.entity === 'message');
    expect(message!.content).toMatchObject({ type: name });
  });

  it.each(['99999999999999', '1e400', String(Number.MAX_SAFE_INTEGER) + '000'])(
    'quarantines a message whose timestamp %s no date can hold, naming the field',
    async (timestamp) => {
      const env = editedMessage('inbound-text', (m) => {
        m.timestamp = timestamp;
      });

      const response = await makeHandler({ store })(sqsEvent([snsNotification(env)]), context);

      expect(response.batchItemFailures).toEqual([]);
      const items = await scan();
      expect(items.filter((i) => i.entity === 'message')).toEqual([]);
      const [q] = items.filter((i) => i.entity === 'quarantine');
      expect(q!.reason).toMatch(/messages\.0: timestamp/);
    },
  );

  it('quarantines a status whose timestamp no date can hold and stores its neighbours', async () => {
    const env = eumFixture('multi-change');
    const entry = entryOf(env);
    entry.changes[1].value.statuses[0].timestamp = '99999999999999';

    const response = await makeHandler({ store })(sqsEvent([snsNotification(withEntry(env, entry))]), context);

    expect(response.batchItemFailures).toEqual([]);
    const items = await scan();
    expect(items.filter((i) => i.entity === 'message')).toHaveLength(3); // two messages + the good status
    expect(items.find((i) => i.entity === 'quarantine')!.reason).toMatch(/statuses\.0: timestamp: out of the range/);
  });

  it('keeps the digits of integers beyond 2^53 in an account event, stored as strings', async () => {
    const env = eumFixture('template-status-update');
    const text = (env.whatsAppWebhookEntry as string).replace('1689556908129832', '16895569081298321234');
    env.whatsAppWebhookEntry = text.replace('"reason":"NONE"', '"reason":"NONE","big":1e300,"fine":12');

    const response = await makeHandler({ store })(sqsEvent([snsNotification(env)]), context);

    expect(response.batchItemFailures).toEqual([]);
    const [event] = (await scan()).filter((i) => i.entity === 'accountEvent');
    expect(event!.value).toMatchObject({ message_template_id: '16895569081298321234', big: '1e300', fine: 12 });
  });

  it('stores a text and an account event whose strings and keys hold lone surrogates, each replaced with U+FFFD', async () => {
    // JSON can escape half a surrogate pair (`\ud800`); UTF-8 cannot hold it, and DynamoDB refused
    // such a string with an InternalFailure that looked transient, so the event went round to the DLQ.
    const text = editedMessage('inbound-text', (m) => {
      m.text.body = 'a\ud800b\udfffc';
    });
    const account = eumFixture('template-status-update');
    account.whatsAppWebhookEntry = (account.whatsAppWebhookEntry as string).replace('"reason":"NONE"', '"reason":"NONE","k\\udc00":"v\\ud83d"');

    const response = await makeHandler({ store })(sqsEvent([snsNotification(text), snsNotification(account)]), context);

    expect(response.batchItemFailures).toEqual([]);
    const items = await scan();
    expect(items.filter((i) => i.entity === 'quarantine')).toEqual([]);
    const stored = JSON.stringify(items);
    expect(stored).toContain('a\ufffdb\ufffdc');
    const [event] = items.filter((i) => i.entity === 'accountEvent');
    expect(event!.value).toMatchObject({ 'k\ufffd': 'v\ufffd' });
  });

  it('quarantines what the DynamoDB marshaller refuses, as a permanent failure', async () => {
    const refusing = new DynamoDbStore(doc, tableName);
    refusing.recordAccountEvent = async () => {
      throw new Error('Number 1.7976931348623157e+308 is greater than Number.MAX_SAFE_INTEGER. Use BigInt.');
    };

    const response = await makeHandler({ store: refusing })(sqsEvent([snsNotification(eumFixture('template-status-update'))]), context);

    expect(response.batchItemFailures).toEqual([]);
    const [q] = (await scan()).filter((i) => i.entity === 'quarantine');
    expect(q!.reason).toMatch(/greater than Number\.MAX_SAFE_INTEGER/);
  });
});

describe('isTransientFailure', () => {
  const named = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(name), { name, ...extra });

  it.each([
    ['throttling', named('ThrottlingException')],
    ['throughput exceeded', named('ProvisionedThroughputExceededException')],
    ['a 5xx answer', named('SomethingNew', { $metadata: { httpStatusCode: 503 } })],
    ['an SDK-retryable error', named('Whatever', { $retryable: { throttling: false } })],
    ['a timeout', named('TimeoutError')],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['fetch failing on the network', new TypeError('fetch failed', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) })],
    ['a transaction conflict', named('TransactionCanceledException', { CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }] })],
  ])('retries %s', (_, err) => {
    expect(isTransientFailure(err)).toBe(true);
  });

  it.each([
    ['a marshalling error', new Error('Number 1e300 is greater than Number.MAX_SAFE_INTEGER')],
    ['a validation error', named('ValidationException', { $metadata: { httpStatusCode: 400 } })],
    ['a type error', new TypeError('x is not a function')],
    ['a refused item in a transaction', named('TransactionCanceledException', { CancellationReasons: [{ Code: 'ValidationError' }, { Code: 'TransactionConflict' }] })],
    ['a thrown string', 'boom'],
  ])('does not retry %s', (_, err) => {
    expect(isTransientFailure(err)).toBe(false);
  });
});

describe('a batch processor per invocation', () => {
  it('keeps the failures of two batches handled at once apart', async () => {
    // Batch A: a good record and one whose store write is throttled, late. Batch B: good records only.
    const throttled = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
    const slowFailing: DynamoDbStore = Object.create(store);
    slowFailing.recordInbound = async (m) => {
      await new Promise((r) => setTimeout(r, 100));
      if (m.wamid === 'wamid.THROTTLED') throw throttled;
      return store.recordInbound(m);
    };
    const handler = makeHandler({ store: slowFailing });
    const a = sqsEvent([
      snsNotification(editedMessage('inbound-text', (m) => (m.id = 'wamid.A1'))),
      snsNotification(editedMessage('inbound-text', (m) => (m.id = 'wamid.THROTTLED'))),
    ]);
    const b = sqsEvent([
      snsNotification(editedMessage('inbound-text', (m) => (m.id = 'wamid.B1'))),
      snsNotification(editedMessage('inbound-text', (m) => (m.id = 'wamid.B2'))),
    ]);

    const [ra, rb] = await Promise.all([handler(a, context), handler(b, context)]);

    expect(ra.batchItemFailures).toEqual([{ itemIdentifier: a.Records[1]!.messageId }]);
    expect(rb.batchItemFailures).toEqual([]);
    const stored = (await scan()).filter((i) => i.entity === 'message').map((i) => i.wamid);
    expect(stored.sort()).toEqual(['wamid.A1', 'wamid.B1', 'wamid.B2']);
  });
});

describe('quarantined raw bodies', () => {
  it('cuts a body of multi-byte characters by its bytes, so the item fits DynamoDB', async () => {
    const raw = `{"x":"${'€'.repeat(200_000)}"}`; // 600 KB of UTF-8

    await store.quarantine({ raw, reason: 'too big', receivedAtMs: Date.now() });

    const [q] = (await scan()).filter((i) => i.entity === 'quarantine');
    expect(q).toMatchObject({ rawTruncated: true, rawLength: raw.length });
    expect(Buffer.byteLength(q!.raw)).toBeLessThanOrEqual(300_000);
    expect(raw.startsWith(q!.raw)).toBe(true);
  });
});
