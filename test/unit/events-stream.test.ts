/**
 * The table's stream on DynamoDB Local → the stream reader → the `events` handler, with the real
 * store writing statuses and the real read side merging them: what a consumer is told about a
 * message's statuses, whatever order they arrive in and however the stream batches them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { DynamoDbOutbound } from '../../shared/adapters/dynamodb-outbound.ts';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import { eventId, type DomainEvent } from '../../shared/domain/events.ts';
import { messageIdFromAwsMessageId } from '../../shared/domain/ids.ts';
import type { BusinessNumber } from '../../shared/domain/types.ts';
import { makeHandler } from '../../lambdas/events/handler.ts';
import { startStreamPoller, type StreamPoller } from '../../local/stream-poller.ts';
import { eventually } from '../integration/support/target.ts';
import { freshTable } from '../support/dynamodb.ts';

const business: BusinessNumber = { phoneNumberId: 'phone-number-id-0123456789abcdef0123456789abcdef', metaPhoneNumberId: '100' };
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const dirs: string[] = [];
const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const s of stops) await s();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let n = 0;
/** A fresh table, a send accepted by AWS, and the stream read into the events handler. */
async function setUp(opts: { batchSize?: number; sent?: boolean } = {}) {
  const { client, doc, tableName } = await freshTable();
  const outbound = new DynamoDbOutbound(doc, tableName);
  const store = new DynamoDbStore(doc, tableName);
  const queries = new DynamoDbQueries(doc, tableName);
  const id = `msg_${(++n).toString(16).padStart(32, 'a')}`;
  const record = {
    id,
    phoneNumberId: business.phoneNumberId,
    contactId: '14155550100',
    contact: { waId: '14155550100' },
    type: 'text',
    content: { body: 'hello' },
    timestampMs: T0,
    requestHash: 'h',
    attemptId: 'a1',
  };
  await outbound.begin(record, T0);
  const markSent = () => outbound.markSent(record, `aws-${n}`, T0);
  if (opts.sent !== false) await markSent();
  const seen: DomainEvent[] = [];
  const streams = new DynamoDBStreamsClient({ endpoint: inject('dynamodbEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const dir = mkdtempSync(join(tmpdir(), 'wb-stream-'));
  dirs.push(dir);
  const start = async (): Promise<StreamPoller> => {
    const poller = await startStreamPoller({
      dynamodb: client,
      streams,
      tableName,
      checkpointFile: join(dir, 'checkpoints.json'),
      idleMs: 20,
      ...(opts.batchSize && { spec: { batchSize: opts.batchSize } }),
      handler: makeHandler({
        messages: queries,
        publisher: { publish: async (events) => (seen.push(...events), { failed: [] }) },
        unpublished: { park: async () => {}, list: async () => [], remove: async () => {} },
        log: { warn: () => {} },
      }),
    });
    stops.push(() => poller.stop());
    return poller;
  };
  const status = (status: string, second: number, extra: { viaAws?: boolean } = {}) =>
    store.recordStatus({
      wamid: `wamid.${n}`,
      status,
      business,
      recipientId: '14155550100',
      timestampMs: T0 + second * 1000,
      ...(extra.viaAws ? { awsMessageId: `aws-${n}` } : { messageId: id }),
    });
  const statusEvents = () => {
    const byId = new Map(seen.filter((e) => e.type === 'message.status' && e.subject === id).map((e) => [e.id, e]));
    return [...byId.values()].sort((a, b) => a.sequence.localeCompare(b.sequence));
  };
  return { id, wamid: `wamid.${n}`, awsItemId: messageIdFromAwsMessageId(`aws-${n}`), queries, start, status, statusEvents, seen, markSent };
}

describe('message.status from the stream, on DynamoDB Local', () => {
  it('read arriving before delivered: the consumer is still told delivered, once, as the merged view lists it', async () => {
    const t = await setUp();
    await t.status('sent', 1);
    await t.status('read', 3);
    await t.status('delivered', 2);
    await t.start();

    const message = (await t.queries.getMessage(t.id))!;
    expect(message.statuses.map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
    const events = await eventually(async () => {
      const e = t.statusEvents();
      return e.length >= 3 ? e : undefined;
    }, 'three status events');
    expect(events.map((e) => (e.data as { status: string }).status)).toEqual(['sent', 'delivered', 'read']);
    expect(events.map((e) => e.id)).toEqual(['sent', 'delivered', 'read'].map((s) => eventId(t.id, 'message.status', s)));
    const delivered = events[1]!;
    expect(delivered.time).toBe(new Date(T0 + 2000).toISOString());
    expect((delivered.data as { statuses: Array<{ status: string }> }).statuses.map((s) => s.status)).toEqual(['sent', 'delivered']);
  });

  it("AWS's own accepted (on its own item) and Meta's statuses, all in one batch: one event per status of the merged view", async () => {
    const t = await setUp();
    await t.status('sent', 1);
    await t.status('delivered', 2);
    await t.status('read', 3);
    await t.status('accepted', 0, { viaAws: true });
    await t.start();

    const message = (await t.queries.getMessage(t.id))!;
    expect(message.statuses.map((s) => s.status)).toEqual(['accepted', 'sent', 'delivered', 'read']);
    const events = await eventually(async () => {
      const e = t.statusEvents();
      return e.length >= 4 ? e : undefined;
    }, 'four status events');
    expect(events.map((e) => (e.data as { status: string }).status)).toEqual(['accepted', 'sent', 'delivered', 'read']);
  });

  it("AWS's accepted before any of Meta's statuses (the record has no wamid yet): told under the id the send answered", async () => {
    const t = await setUp();
    await t.status('accepted', 0, { viaAws: true });
    await t.start();

    const [accepted] = await eventually(async () => {
      const e = t.statusEvents();
      return e.length >= 1 ? e : undefined;
    }, 'the accepted event');
    expect(accepted).toMatchObject({ id: eventId(t.id, 'message.status', 'accepted'), subject: t.id, data: { id: t.id, status: 'accepted' } });
    // GET /v1/messages/{id} answers that id, and by wamid the same Message.
    expect((await t.queries.getMessage(t.id))!.status).toBe('accepted');
    expect((await t.queries.getMessage(t.wamid))!.id).toBe(t.id);
    expect(t.seen.filter((e) => e.subject === t.awsItemId)).toEqual([]);
  });

  it("AWS's accepted stored before the send record gets AWS's send id: told when it does, under the send's id", async () => {
    const t = await setUp({ sent: false });
    await t.status('accepted', 0, { viaAws: true });
    await t.markSent();
    await t.start();

    const [accepted] = await eventually(async () => {
      const e = t.statusEvents();
      return e.length >= 1 ? e : undefined;
    }, 'the accepted event');
    expect(accepted).toMatchObject({ id: eventId(t.id, 'message.status', 'accepted'), subject: t.id, data: { id: t.id, status: 'accepted' } });
    expect(t.seen.filter((e) => e.subject === t.awsItemId)).toEqual([]);
  });

  it('statuses one per batch, in any order, give the same events as all in one batch', async () => {
    const t = await setUp({ batchSize: 1 });
    await t.status('delivered', 2);
    await t.status('sent', 1);
    await t.status('read', 3);
    await t.start();
    const events = await eventually(async () => {
      const e = t.statusEvents();
      return e.length >= 3 ? e : undefined;
    }, 'three status events');
    expect(events.map((e) => e.id)).toEqual(['sent', 'delivered', 'read'].map((s) => eventId(t.id, 'message.status', s)));
  });
});
