/**
 * Lists spread over several index keys (dynamodb-keys.ts `LISTS`) keep their contract: newest
 * first, every item once across pages, cursors of another list refused. Against DynamoDB Local,
 * with enough items that every shard holds some and pages cut across shards.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import { DynamoDbUnpublishedEvents } from '../../shared/adapters/dynamodb-unpublished.ts';
import { keys, LISTS } from '../../shared/adapters/dynamodb-keys.ts';
import type { DomainEvent } from '../../shared/domain/events.ts';
import type { InboundMessage } from '../../shared/domain/types.ts';
import { parseEventBody } from '../../shared/domain/parse-event.ts';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { backfillKeys } from '../../scripts/backfill-keys.ts';
import { DynamoDbWebhooks } from '../../shared/adapters/dynamodb-webhooks.ts';
import { freshTable } from '../support/dynamodb.ts';
import { eumFixture, snsNotification } from '../support/events.ts';

const PN_A = 'phone-number-id-aaaa';
const PN_B = 'phone-number-id-bbbb';
const T0 = Date.parse('2026-05-01T00:00:00.000Z');

let store: DynamoDbStore;
let queries: DynamoDbQueries;
let doc: Awaited<ReturnType<typeof freshTable>>['doc'];
let tableName: string;

function inbound(pn: string, contactId: string, seconds: number, n: number): InboundMessage {
  const r = parseEventBody(snsNotification(eumFixture('inbound-text')), Date.now());
  if (r.kind !== 'ok') throw new Error(r.reason);
  const m = r.parsed.messages[0]!;
  const wamid = `wamid.SHARD${pn}${contactId}${n}`;
  return {
    ...m,
    wamid,
    id: `msg_${n.toString(16).padStart(32, '0')}`,
    business: { ...m.business, phoneNumberId: pn },
    contactId,
    contact: { waId: contactId },
    timestampMs: T0 + seconds * 1000,
  };
}

/** Every page of a list, following its cursors. */
async function allPages<T>(page: (cursor?: string) => Promise<{ items: T[]; nextCursor: string | null }>): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | undefined;
  do {
    const p = await page(cursor);
    pages.push(p.items);
    cursor = p.nextCursor ?? undefined;
  } while (cursor);
  return pages;
}

// 70 conversations on A and 30 on B, each written once; then 20 of A's written again, later,
// so that their places in the list move.
const CONTACTS_A = Array.from({ length: 70 }, (_, i) => `1555100${String(i).padStart(4, '0')}`);
const CONTACTS_B = Array.from({ length: 30 }, (_, i) => `1555200${String(i).padStart(4, '0')}`);

beforeAll(async () => {
  ({ doc, tableName } = await freshTable());
  store = new DynamoDbStore(doc, tableName);
  queries = new DynamoDbQueries(doc, tableName, { phoneNumberIds: [PN_A, PN_B] });
  let n = 0;
  // Times interleave the two numbers; shuffled writes, so no shard is filled in order.
  const inOrder = [
    ...CONTACTS_A.map((c, i) => () => store.recordInbound(inbound(PN_A, c, 2 * i, ++n))),
    ...CONTACTS_B.map((c, i) => () => store.recordInbound(inbound(PN_B, c, 2 * i + 1, ++n))),
  ];
  // 37 and 100 are coprime: i → 37·i mod 100 visits every write once, out of time order.
  const writes = inOrder.map((_, i) => inOrder[(37 * i) % inOrder.length]!);
  for (let i = 0; i < writes.length; i += 20) await Promise.all(writes.slice(i, i + 20).map((w) => w()));
  await Promise.all(CONTACTS_A.slice(0, 20).map((c, i) => store.recordInbound(inbound(PN_A, c, 1000 + i, ++n))));
  for (let i = 0; i < 45; i++) await store.quarantine({ raw: `not an event ${i}`, reason: 'bad', receivedAtMs: T0 + i * 1000 });
}, 120_000);

describe('conversations spread over shards', () => {
  it('every shard of a busy list holds some: the list is not under one key', async () => {
    const shards = new Set(CONTACTS_A.map((c) => keys.conversationsOf(PN_A, c)));
    expect(shards.size).toBe(LISTS.conversationsOfNumber.shards);
  });

  it.each([
    ['of one number', PN_A, CONTACTS_A.length],
    ['of every number', undefined, CONTACTS_A.length + CONTACTS_B.length],
  ])('lists the conversations %s newest first, each once, across pages of 7', async (_, phoneNumberId, total) => {
    const pages = await allPages((cursor) => queries.listConversations({ phoneNumberId, limit: 7, cursor, nowMs: T0 }));
    const items = pages.flat();
    expect(pages.slice(0, -1).every((p) => p.length === 7)).toBe(true);
    expect(items).toHaveLength(total);
    expect(new Set(items.map((c) => `${c.phoneNumberId}/${c.contactId}`)).size).toBe(total);
    const times = items.map((c) => c.lastMessageAt ?? '');
    expect([...times].sort().reverse()).toEqual(times);
    // The 20 conversations written again lead, latest first.
    expect(items.slice(0, 20).map((c) => c.contactId)).toEqual(CONTACTS_A.slice(0, 20).reverse());
  });

  it('refuses the cursor of another list', async () => {
    const ofA = await queries.listConversations({ phoneNumberId: PN_A, limit: 3, nowMs: T0 });
    const ofAll = await queries.listConversations({ limit: 3, nowMs: T0 });
    await expect(queries.listConversations({ limit: 3, cursor: ofA.nextCursor!, nowMs: T0 })).rejects.toMatchObject({ details: { path: 'cursor' } });
    await expect(queries.listConversations({ phoneNumberId: PN_B, limit: 3, cursor: ofA.nextCursor!, nowMs: T0 })).rejects.toMatchObject({ details: { path: 'cursor' } });
    await expect(queries.listQuarantine({ limit: 3, cursor: ofAll.nextCursor! })).rejects.toMatchObject({ details: { path: 'cursor' } });
  });
});

describe('quarantine and parked events spread over shards', () => {
  it('lists the quarantine newest first, each once, across pages of 10', async () => {
    const items = (await allPages((cursor) => queries.listQuarantine({ limit: 10, cursor }))).flat();
    expect(items).toHaveLength(45);
    const times = items.map((q) => q.receivedAt);
    expect(times).toEqual(Array.from({ length: 45 }, (_, i) => new Date(T0 + (44 - i) * 1000).toISOString()));
  });

  it('gives back parked events oldest first from every shard', async () => {
    const parked = new DynamoDbUnpublishedEvents(doc, tableName, () => T0);
    const events = Array.from({ length: 40 }, (_, i) => ({
      id: `evt_${String(i).padStart(4, '0')}`,
      type: 'message.received',
      time: new Date(T0 + i * 1000).toISOString(),
    })) as unknown as DomainEvent[];
    await parked.park(events, 'topic down');
    expect(new Set(events.map((e) => keys.unpublished(e.id))).size).toBeGreaterThan(events.length / 2);
    expect((await parked.list(15)).map((e) => e.id)).toEqual(events.slice(0, 15).map((e) => e.id));
  });
});

describe('an existing table: items under the keys of before', () => {
  it('are moved to their shards by the backfill, once, and the lists show them', async () => {
    const t = await freshTable();
    const at = (i: number) => new Date(T0 + i * 1000).toISOString();
    const old = [
      ...[0, 1, 2].map((i) => ({
        PK: `CONV#${PN_A}#1555300000${i}`, SK: 'CONV', entity: 'conversation', phoneNumberId: PN_A, contactId: `1555300000${i}`,
        lastMessageKey: `${at(i)}#wamid.OLD${i}`, lastMessageAt: at(i), messageCount: 1,
        GSI1PK: `CONVS#${PN_A}`, GSI1SK: `${at(i)}#wamid.OLD${i}`, GSI2PK: 'CONVS', GSI2SK: `${at(i)}#wamid.OLD${i}`,
      })),
      { PK: 'QUAR#abc', SK: 'QUAR', entity: 'quarantine', id: 'abc', raw: 'x', reason: 'bad', receivedAt: at(5), GSI1PK: 'QUARANTINE', GSI1SK: `${at(5)}#abc` },
      { PK: 'ACCT#waba', SK: `f#${at(6)}#def`, entity: 'accountEvent', GSI1PK: 'ACCOUNT_EVENTS', GSI1SK: `${at(6)}#def` },
      { PK: 'UNPUB#evt_1', SK: 'EVENT', entity: 'unpublishedEvent', eventId: 'evt_1', eventJson: JSON.stringify({ id: 'evt_1' }), GSI1PK: 'UNPUBLISHED', GSI1SK: `${at(7)}#evt_1` },
      { PK: 'WEBHOOK#wh_1', SK: 'PARKED#evt_2', entity: 'webhookParked', jobJson: JSON.stringify({ webhookId: 'wh_1', event: { id: 'evt_2' } }), GSI1PK: 'WHPARKED#wh_1', GSI1SK: `${at(8)}#evt_2` },
    ];
    for (const Item of old) await t.doc.send(new PutCommand({ TableName: t.tableName, Item }));
    const q = new DynamoDbQueries(t.doc, t.tableName, { phoneNumberIds: [PN_A, PN_B] });
    expect((await q.listConversations({ phoneNumberId: PN_A, limit: 10, nowMs: T0 })).items).toEqual([]);

    expect(await backfillKeys(t.doc, t.tableName)).toBe(old.length);
    expect(await backfillKeys(t.doc, t.tableName)).toBe(0);

    const ids = (items: Array<{ contactId: string }>) => items.map((c) => c.contactId);
    expect(ids((await q.listConversations({ phoneNumberId: PN_A, limit: 10, nowMs: T0 })).items)).toEqual(['15553000002', '15553000001', '15553000000']);
    expect(ids((await q.listConversations({ limit: 10, nowMs: T0 })).items)).toHaveLength(3);
    expect((await q.listQuarantine({ limit: 10 })).items.map((i) => i.id)).toEqual(['abc']);
    expect((await new DynamoDbUnpublishedEvents(t.doc, t.tableName).list(10)).map((e) => e.id)).toEqual(['evt_1']);
    expect((await new DynamoDbWebhooks(t.doc, t.tableName).parked('wh_1', 10)).map((j) => j.event.id)).toEqual(['evt_2']);
  });
});
