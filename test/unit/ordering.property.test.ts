/**
 * At-least-once, out of order: any permutation of a set of events, with any duplicates, must end in
 * the same stored state, and the same API view, as the events applied once in order. Statuses of
 * one outbound message come both with our id (Meta's, echoing biz_opaque_callback_data) and with
 * only the AWS send id in the envelope (AWS's own: accepted, retries exhausted), beside a send
 * record written before any of them and completed (`sent`, with its AWS id) at any point among
 * them. Runs against DynamoDB Local.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOutbound } from '../../shared/adapters/dynamodb-outbound.ts';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { DynamoDbStore, keys } from '../../shared/adapters/dynamodb-store.ts';
import { messageIdFromAwsMessageId, messageIdFromWamid, messageIdOfSendStatuses } from '../../shared/domain/ids.ts';
import type { Message } from '../../shared/domain/resources.ts';
import { currentStatus } from '../../shared/domain/status.ts';
import type { InboundMessage, StatusUpdate } from '../../shared/domain/types.ts';
import type { OutboundRecord } from '../../shared/ports/outbound-store.ts';
import { freshTable } from '../support/dynamodb.ts';
import { DEFAULT_RETENTION_DAYS } from '../../shared/resource-spec.ts';

const PERMUTATIONS_PER_SET = 3;
const business = { phoneNumberId: 'phone-number-id-5f811eaa4c81499384c496b909afbb1a', metaPhoneNumberId: '729155140271006', wabaId: '1' };
const STATUSES = ['accepted', 'sent', 'delivered', 'read', 'played', 'failed', 'retries_exhausted'] as const;

/** One outbound message of the set: its ids, whether the send path made a record, its statuses. */
interface Outbound {
  wamid: string;
  id: string;
  awsId: string;
  /** The recipient: one conversation per set. */
  to: string;
  record: boolean;
  statuses: string[];
}

type Ev =
  | { kind: 'inbound'; m: InboundMessage }
  | { kind: 'status'; s: StatusUpdate }
  /** The send completing once AWS answered: the record's half of the send path's markSent. */
  | { kind: 'sent'; o: Outbound };

type Table = {
  store: DynamoDbStore;
  queries: DynamoDbQueries;
  doc: Awaited<ReturnType<typeof freshTable>>['doc'];
  tableName: string;
};
let tables: Table[];
beforeAll(async () => {
  tables = await Promise.all(
    Array.from({ length: PERMUTATIONS_PER_SET + 1 }, async () => {
      const t = await freshTable();
      return { ...t, store: new DynamoDbStore(t.doc, t.tableName), queries: new DynamoDbQueries(t.doc, t.tableName) };
    }),
  );
});

let run = 0;

/**
 * A set of distinct events: inbound messages from two users, and statuses of a few outbound
 * messages, each status carrying our id (callback), only the AWS send id (AWS's own), or neither.
 */
const eventSet = fc
  .record({
    inbound: fc.array(
      fc.record({ user: fc.constantFrom('a', 'b'), second: fc.integer({ min: 0, max: 5 }), name: fc.constantFrom('Ana', 'Bo', 'Cy') }),
      { maxLength: 5 },
    ),
    outbound: fc.array(
      fc.record({
        record: fc.boolean(),
        statuses: fc.subarray([...STATUSES], { minLength: 1 }),
        sources: fc.array(fc.constantFrom('callback', 'aws', 'none'), { minLength: STATUSES.length, maxLength: STATUSES.length }),
        // Whether statuses with our id also carry the AWS send id in their envelope.
        envelopeIdOnCallback: fc.boolean(),
      }),
      { maxLength: 3 },
    ),
  })
  .map(({ inbound, outbound }) => {
    const r = ++run;
    const events: Ev[] = [];
    const sends: Outbound[] = [];
    inbound.forEach((i, n) => {
      const wamid = `wamid.IN${r}x${n}`;
      const contactId = `1555${r}${i.user === 'a' ? 1 : 2}`;
      events.push({
        kind: 'inbound',
        m: {
          id: messageIdFromWamid(wamid),
          wamid,
          business,
          contact: { waId: contactId, name: i.name },
          contactId,
          type: 'text',
          content: { body: `m${n}` },
          timestampMs: (1_750_000_000 + i.second) * 1000,
        },
      });
    });
    outbound.forEach((o, n) => {
      const send: Outbound = {
        wamid: `wamid.OUT${r}x${n}`,
        id: `msg_${r.toString(16).padStart(28, '0')}${n.toString(16).padStart(4, '0')}`,
        awsId: `aws-${r}-${n}`,
        to: `1666${r}`,
        record: o.record,
        statuses: o.statuses,
      };
      sends.push(send);
      if (send.record) events.push({ kind: 'sent', o: send });
      o.statuses.forEach((status, k) => {
        // A send of ours always gets its statuses with one id or the other.
        const source = send.record && o.sources[k] === 'none' ? 'aws' : o.sources[k];
        events.push({
          kind: 'status',
          s: {
            wamid: send.wamid,
            status,
            business,
            recipientId: send.to,
            timestampMs: (1_750_000_100 + k) * 1000,
            ...(source === 'callback' && { messageId: send.id, callbackData: 'cb' }),
            ...((source === 'aws' || (source === 'callback' && o.envelopeIdOnCallback)) && { awsMessageId: send.awsId }),
            ...(status === 'failed' && { errors: [{ code: 131049, title: 'not delivered' }] }),
          },
        });
      });
    });
    return { events, sends };
  });

/** The set, shuffled, with some events delivered more than once. */
const deliveries = (events: Ev[]) =>
  fc
    .array(fc.nat({ max: Math.max(0, events.length - 1) }), { maxLength: events.length })
    .chain((dups) => fc.shuffledSubarray([...events, ...dups.map((d) => events[d]!)].filter(Boolean), { minLength: events.length + dups.length }))
    .chain((seq) => fc.tuple(fc.constant(seq), fc.boolean()));

const sentAt = '2025-06-15T15:08:00.000Z';

/** The send path's own record of an outbound message (the adapter the send use case uses). */
const recordOf = (o: Outbound): OutboundRecord => ({
  id: o.id,
  attemptId: 'attempt-1',
  phoneNumberId: business.phoneNumberId,
  contactId: o.to,
  contact: { waId: o.to },
  type: 'text',
  content: { body: o.id },
  timestampMs: Date.parse(sentAt),
  requestHash: 'h',
});

/** Written before AWS is called (state `sending`). */
const begin = (t: Table, o: Outbound) => new DynamoDbOutbound(t.doc, t.tableName).begin(recordOf(o), Date.parse(sentAt));

/** `sending` → `sent` with the AWS id once AWS answered; a repeat is a no-op. */
const markSent = (t: Table, o: Outbound) => new DynamoDbOutbound(t.doc, t.tableName).markSent(recordOf(o), o.awsId, Date.parse(sentAt));

async function apply(t: Table, seq: Ev[], concurrent: boolean) {
  const one = (e: Ev) => (e.kind === 'inbound' ? t.store.recordInbound(e.m) : e.kind === 'status' ? t.store.recordStatus(e.s) : markSent(t, e.o));
  if (concurrent) await Promise.all(seq.map(one));
  else for (const e of seq) await one(e);
}

function keysTouched(events: Ev[], sends: Outbound[]) {
  const all = [
    ...events.flatMap((e) => (e.kind === 'inbound' ? [keys.message(e.m.id), keys.conversation(e.m.business.phoneNumberId, e.m.contactId)] : [])),
    ...sends.flatMap((o) => [keys.message(o.id), keys.message(messageIdOfSendStatuses(o.id)), keys.message(messageIdFromAwsMessageId(o.awsId)), keys.message(messageIdFromWamid(o.wamid)), keys.conversation(business.phoneNumberId, o.to)]),
  ];
  return [...new Map(all.map((k) => [`${k.PK}|${k.SK}`, k])).values()];
}

/**
 * The stored items, each status-only item's `ttl` checked and set apart: it is the first arrived
 * status's time + the retention, so the order of arrival picks it among the item's status times.
 */
async function snapshot(t: Table, ks: Array<Record<string, string>>) {
  const items = await Promise.all(ks.map(async (Key) => (await t.doc.send(new GetCommand({ TableName: t.tableName, Key, ConsistentRead: true }))).Item));
  return items.map((item) => {
    if (item?.entity === 'conversation') {
      // The slots remembering the last messages counted (`r0`…) are bookkeeping of the write plan:
      // which messages reached them depends on the order of arrival; every other attribute does not.
      return Object.fromEntries(Object.entries(item).filter(([k]) => !/^r\d+$/.test(k)));
    }
    if (!item || item.entity !== 'message' || item.type !== undefined) return item;
    const { ttl, ...rest } = item;
    const times = Object.entries(item)
      .filter(([k]) => k.startsWith('st:'))
      .map(([, v]) => Math.floor(Date.parse((v as { timestamp: string }).timestamp) / 1000) + DEFAULT_RETENTION_DAYS * 86_400);
    expect(times).toContain(ttl);
    return rest;
  });
}

/** What the API shows of each outbound message: by wamid, by our id, and in its conversation. */
async function views(t: Table, sends: Outbound[]) {
  const listed = sends.length
    ? (await t.queries.listMessages({ phoneNumberId: business.phoneNumberId, contactId: sends[0]!.to, limit: 100 })).items
    : [];
  return Promise.all(
    sends.map(async (o) => ({
      byWamid: await t.queries.getMessage(o.wamid),
      byId: await t.queries.getMessage(o.id),
      listed: listed.find((m) => m.id === o.id),
    })),
  );
}

describe('ordering and duplicates', () => {
  it('ends in the same stored state and the same API view for any permutation with duplicates', async () => {
    await fc.assert(
      fc.asyncProperty(
        eventSet.chain((set) => fc.tuple(fc.constant(set), fc.array(deliveries(set.events), { minLength: PERMUTATIONS_PER_SET, maxLength: PERMUTATIONS_PER_SET }))),
        async ([{ events, sends }, perms]) => {
          const [canonical, ...others] = tables;
          for (const t of tables) for (const o of sends) if (o.record) await begin(t, o);
          await apply(canonical!, events, false);
          const ks = keysTouched(events, sends);
          const expected = await snapshot(canonical!, ks);
          const expectedViews = await views(canonical!, sends);

          // Every status of a message shows on it, however it was filed; the send's record leads.
          expectedViews.forEach((v, i) => {
            const o = sends[i]!;
            const shown = [v.byWamid, ...(o.record ? [v.byId, v.listed] : [])] as Message[];
            for (const m of shown) {
              expect(m.statuses.map((s) => s.status).sort()).toEqual([...o.statuses].sort());
              expect(m.status).toBe(currentStatus(o.statuses));
            }
            if (o.record) {
              expect(v.listed).toEqual(v.byId);
              expect(v.byId).toMatchObject({ id: o.id, awsMessageId: o.awsId, wamid: o.wamid });
            }
          });

          for (const [i, [seq, concurrent]] of perms.entries()) {
            await apply(others[i]!, seq, concurrent);
            expect(await snapshot(others[i]!, ks)).toEqual(expected);
            expect(await views(others[i]!, sends)).toEqual(expectedViews);
          }
        },
      ),
      { numRuns: 100 },
    );
  }, 240_000);
});
