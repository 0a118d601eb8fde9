/**
 * At-least-once, out of order: any permutation of a set of events, with any duplicates, must end in
 * the same stored state as the events applied once in order. Runs against DynamoDB Local.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStore, keys } from '../../shared/adapters/dynamodb-store.ts';
import { messageIdFromWamid } from '../../shared/domain/ids.ts';
import type { InboundMessage, StatusUpdate } from '../../shared/domain/types.ts';
import { freshTable } from '../support/dynamodb.ts';

const PERMUTATIONS_PER_SET = 3;
const business = { phoneNumberId: 'phone-number-id-5f811eaa4c81499384c496b909afbb1a', metaPhoneNumberId: '729155140271006', wabaId: '1' };

type Ev = { kind: 'inbound'; m: InboundMessage } | { kind: 'status'; s: StatusUpdate };

let tables: Array<{ store: DynamoDbStore; doc: Awaited<ReturnType<typeof freshTable>>['doc']; tableName: string }>;
beforeAll(async () => {
  tables = await Promise.all(
    Array.from({ length: PERMUTATIONS_PER_SET + 1 }, async () => {
      const t = await freshTable();
      return { ...t, store: new DynamoDbStore(t.doc, t.tableName) };
    }),
  );
});

let run = 0;

/** A set of distinct events: inbound messages from two users, and statuses of a few outbound messages. */
const eventSet = fc
  .record({
    inbound: fc.array(
      fc.record({ user: fc.constantFrom('a', 'b'), second: fc.integer({ min: 0, max: 5 }), name: fc.constantFrom('Ana', 'Bo', 'Cy') }),
      { maxLength: 5 },
    ),
    outbound: fc.array(
      fc.record({
        statuses: fc.subarray(['accepted', 'sent', 'delivered', 'read', 'played', 'failed'], { minLength: 1 }),
        ours: fc.boolean(),
      }),
      { maxLength: 3 },
    ),
  })
  .map(({ inbound, outbound }) => {
    const r = ++run;
    const events: Ev[] = [];
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
      const wamid = `wamid.OUT${r}x${n}`;
      o.statuses.forEach((status, k) =>
        events.push({
          kind: 'status',
          s: {
            wamid,
            status,
            business,
            recipientId: '15550001',
            timestampMs: (1_750_000_100 + k) * 1000,
            ...(o.ours && { messageId: `msg_${r.toString(16).padStart(28, '0')}${n.toString(16).padStart(4, '0')}`, callbackData: 'cb' }),
            ...(status === 'failed' && { errors: [{ code: 131049, title: 'not delivered' }] }),
          },
        }),
      );
    });
    return events;
  });

/** The set, shuffled, with some events delivered more than once. */
const deliveries = (events: Ev[]) =>
  fc
    .array(fc.nat({ max: Math.max(0, events.length - 1) }), { maxLength: events.length })
    .chain((dups) => fc.shuffledSubarray([...events, ...dups.map((d) => events[d]!)].filter(Boolean), { minLength: events.length + dups.length }))
    .chain((seq) => fc.tuple(fc.constant(seq), fc.boolean()));

async function apply(store: DynamoDbStore, seq: Ev[], concurrent: boolean) {
  const one = (e: Ev) => (e.kind === 'inbound' ? store.recordInbound(e.m) : store.recordStatus(e.s));
  if (concurrent) await Promise.all(seq.map(one));
  else for (const e of seq) await one(e);
}

function keysTouched(events: Ev[]) {
  const all = events.map((e) =>
    e.kind === 'inbound'
      ? [keys.message(e.m.id), keys.conversation(e.m.business.phoneNumberId, e.m.contactId)]
      : [keys.message(e.s.messageId ?? messageIdFromWamid(e.s.wamid))],
  );
  return [...new Map(all.flat().map((k) => [`${k.PK}|${k.SK}`, k])).values()];
}

async function snapshot(t: (typeof tables)[number], ks: Array<Record<string, string>>) {
  return Promise.all(ks.map(async (Key) => (await t.doc.send(new GetCommand({ TableName: t.tableName, Key, ConsistentRead: true }))).Item));
}

describe('ordering and duplicates', () => {
  it('ends in the same stored state for any permutation with duplicates', async () => {
    await fc.assert(
      fc.asyncProperty(
        eventSet.chain((events) => fc.tuple(fc.constant(events), fc.array(deliveries(events), { minLength: PERMUTATIONS_PER_SET, maxLength: PERMUTATIONS_PER_SET }))),
        async ([events, perms]) => {
          const [canonical, ...others] = tables;
          await apply(canonical!.store, events, false);
          const ks = keysTouched(events);
          const expected = await snapshot(canonical!, ks);
          for (const [i, [seq, concurrent]] of perms.entries()) {
            await apply(others[i]!.store, seq, concurrent);
            expect(await snapshot(others[i]!, ks)).toEqual(expected);
          }
        },
      ),
      { numRuns: 100 },
    );
  }, 180_000);
});
