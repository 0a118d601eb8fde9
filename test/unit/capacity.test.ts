/**
 * The capacity model of docs/capacity.md, checked against the key functions themselves
 * (shared/adapters/dynamodb-keys.ts): at 10 numbers × 1,000 messages a second, no partition key
 * value of the table or an index takes more than half of DynamoDB's 1,000 write units a second.
 * A list that grows with traffic under one key value fails here, and so does a new index key
 * written outside `keys`, or one the model does not know.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { keys } from '../../shared/adapters/dynamodb-keys.ts';
import { broadcastKeys, COUNTER_SHARDS, pacerShards } from '../../shared/adapters/dynamodb-broadcasts.ts';

/** DynamoDB's write limit per partition key value (write units a second), and our ceiling: half. */
const PER_KEY_LIMIT = 1000;
const CEILING = PER_KEY_LIMIT / 2;

/** The load: 10 numbers at Meta's top tier, 1,000 messages a second each (sent + received). */
const NUMBERS = 10;
const MESSAGES_PER_NUMBER = 1000;
/** Events on the topic at most: every message sent, each with 3 statuses (Meta's own sizing rule). */
const EVENTS_PER_NUMBER = 3 * MESSAGES_PER_NUMBER;
/** A conversation's own rate: WhatsApp's pair rate (1 per 6 s) out, a person typing in; 10/s is generous. */
const MESSAGES_PER_CONVERSATION = 10;

/** Distinct items the load is spread over in the model (contacts, event hashes, ...). */
const POPULATION = 200_000;
const pad = (i: number) => String(i).padStart(7, '0');
const contact = (i: number) => `1555${pad(i)}`;
const phoneNumber = (i: number) => `phone-number-id-${(i % NUMBERS).toString(16).padStart(32, '0')}`;
/** A hex digest-like string per i (event hashes and ids are sha256-derived). */
const hashOf = (i: number) => `${(Math.imul(i + 1, 0x9e3779b1) >>> 0).toString(16).padStart(8, '0')}${pad(i)}`;

interface KeyModel {
  /** The key function, as named in `keys` or `broadcastKeys` (the test checks each index key the adapters use is here). */
  fn: keyof typeof keys | keyof typeof broadcastKeys;
  where: string;
  /** The key value the i-th item of the load goes under. */
  keyOf: (i: number) => string;
  /** Write units a second onto the whole list at the load. */
  loadWcu: number;
  /** How that load is made, for the doc. */
  why: string;
}

/** Every partition key value the adapters write, with the write units the load puts on it. */
const MODEL: KeyModel[] = [
  {
    fn: 'conversationsOf',
    where: 'GSI1',
    keyOf: (i) => keys.conversationsOf(phoneNumber(0), contact(i)),
    loadWcu: MESSAGES_PER_NUMBER * 2,
    why: 'one number: every message moves its conversation (a delete and a put, 1 WCU each)',
  },
  {
    fn: 'quarantine',
    where: 'GSI1',
    keyOf: (i) => keys.quarantine(hashOf(i)),
    loadWcu: NUMBERS * EVENTS_PER_NUMBER * 2,
    why: 'every event quarantined (a changed schema), items ≤ 2 KB',
  },
  {
    fn: 'accountEvents',
    where: 'GSI1',
    keyOf: (i) => keys.accountEvents(hashOf(i)),
    loadWcu: NUMBERS * EVENTS_PER_NUMBER * 1,
    why: 'every event an account event (bound far above real rates), items ≤ 1 KB',
  },
  {
    fn: 'unpublished',
    where: 'GSI1',
    keyOf: (i) => keys.unpublished(`evt_${hashOf(i)}`),
    loadWcu: NUMBERS * EVENTS_PER_NUMBER * 2,
    why: 'the events topic down: every event parked, items ≤ 2 KB',
  },
  {
    fn: 'webhookDelivery',
    where: 'table PK and GSI1',
    keyOf: (i) => keys.webhookDelivery('wh_0', `evt_${hashOf(i)}`, 'sk').PK,
    loadWcu: NUMBERS * EVENTS_PER_NUMBER * 1,
    why: 'one webhook for every event: one attempt each, items ≤ 1 KB',
  },
  {
    fn: 'webhookParked',
    where: 'table PK and GSI1',
    keyOf: (i) => keys.webhookParked('wh_0', `evt_${hashOf(i)}`).PK,
    loadWcu: NUMBERS * EVENTS_PER_NUMBER * 2,
    why: 'its endpoint down: every job parked, items ≤ 2 KB',
  },
  {
    fn: 'timeline',
    where: 'GSI1',
    keyOf: () => keys.timeline(phoneNumber(0), contact(0)),
    loadWcu: MESSAGES_PER_CONVERSATION * 2,
    why: 'one conversation (its own key by design): pair rate, messages ≤ 2 KB',
  },
  {
    fn: 'conversation',
    where: 'table PK',
    keyOf: () => keys.conversation(phoneNumber(0), contact(0)).PK,
    loadWcu: MESSAGES_PER_CONVERSATION * 4,
    why: 'one conversation: moved and counted per message (≤ 4 WCU, a transaction counting double)',
  },
  {
    fn: 'message',
    where: 'table PK',
    keyOf: () => keys.message('msg_0').PK,
    loadWcu: 6 * 2,
    why: 'one message: its put, its statuses and media states, ≤ 6 writes of ≤ 2 KB over its life',
  },
  {
    fn: 'wamid',
    where: 'GSI2',
    keyOf: () => keys.wamid('wamid.0'),
    loadWcu: 6 * 2,
    why: 'one message (and its status-only items)',
  },
  {
    fn: 'broadcastRecipients',
    where: 'GSI1',
    keyOf: (i) => keys.broadcastRecipients('bc_0', i % 16),
    loadWcu: MESSAGES_PER_NUMBER * 3,
    why: 'one broadcast sent at a number\'s 1,000 mps: each recipient written 3 times (queued, sending, sent), items ≤ 1 KB',
  },
  {
    fn: 'pacer',
    where: 'table PK',
    keyOf: (i) => broadcastKeys.pacer(phoneNumber(0), i % pacerShards(MESSAGES_PER_NUMBER)).PK,
    loadWcu: MESSAGES_PER_NUMBER * 8,
    why: "one number's token bucket at 1,000 mps: per send a slot, a permit taken and freed, and the refused tries of senders racing for permits (7.5 writes a send measured with 100 senders waiting; a refused write costs one too), shards of 25 slots a second",
  },
  {
    fn: 'counter',
    where: 'table PK',
    keyOf: (i) => broadcastKeys.counter('bc_0', i % COUNTER_SHARDS).PK,
    loadWcu: MESSAGES_PER_NUMBER * 5 * 2,
    why: 'one broadcast sent at 1,000 mps: each recipient counted 5 times (claimed, sent, sent/delivered/read statuses), each in a transaction (2 WCU)',
  },
  {
    fn: 'pair',
    where: 'table PK',
    keyOf: () => broadcastKeys.pair(phoneNumber(0), contact(0)).PK,
    loadWcu: 2,
    why: "one user of one number: WhatsApp's pair rate (1 per 6 s), a refused reservation and a back-off hold at most besides",
  },
  {
    fn: 'suppressions',
    where: 'GSI1',
    keyOf: (i) => keys.suppressions('waba-0', contact(i)),
    loadWcu: NUMBERS * MESSAGES_PER_NUMBER,
    why: 'one business (its WABA) holding every number: every MARKETING send of broadcasts from all of them at 1,000 mps each failing with 131050 adds its user, items ≤ 1 KB',
  },
  {
    fn: 'templateCatalog',
    where: 'GSI1',
    keyOf: () => keys.templateCatalog('waba-0'),
    loadWcu: 250,
    why: 'a sync writing 250 templates a second (a WABA holds up to 6,000; each write follows a Get of its template): does not grow with traffic',
  },
  {
    fn: 'webhookList',
    where: 'GSI1',
    keyOf: () => keys.webhookList,
    loadWcu: 1,
    why: 'webhooks registered by hand: does not grow with traffic',
  },
];

/** The highest write rate any one key value takes when the list's load spreads over the population. */
function busiestKey(m: KeyModel): { values: number; maxWcu: number } {
  const counts = new Map<string, number>();
  for (let i = 0; i < POPULATION; i++) {
    const k = m.keyOf(i);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const max = Math.max(...counts.values());
  return { values: counts.size, maxWcu: (m.loadWcu * max) / POPULATION };
}

const results = new Map(MODEL.map((m) => [m.fn, busiestKey(m)]));

describe('capacity model (docs/capacity.md)', () => {
  it.each(MODEL.map((m) => [m.fn, m] as const))('%s: no key value takes more than half the per-key limit', (_, m) => {
    expect(results.get(m.fn)!.maxWcu).toBeLessThanOrEqual(CEILING);
  });

  it('a list whose load passes the ceiling is spread over more than one key value', () => {
    for (const m of MODEL) {
      if (m.loadWcu > CEILING) expect(results.get(m.fn)!.values, m.fn).toBeGreaterThanOrEqual(Math.ceil(m.loadWcu / CEILING));
    }
  });

  it('the model catches a single-valued key for a list that grows with traffic', () => {
    const single: KeyModel = { ...MODEL[0]!, keyOf: () => 'CONVS#phone-number-id-0' };
    expect(busiestKey(single)).toEqual({ values: 1, maxWcu: MESSAGES_PER_NUMBER * 2 });
    expect(busiestKey(single).maxWcu).toBeGreaterThan(CEILING);
  });

  it('every index key the adapters write comes from a key function the model knows', () => {
    const dir = new URL('../../shared/adapters/', import.meta.url);
    const used = new Set<string>();
    const strays: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const src = readFileSync(new URL(file, dir), 'utf8');
      for (const match of src.matchAll(/(?:GSI[12]PK:|':g[12]':|\.set\('GSI[12]PK',)\s*([^,}\n)]+)/g)) {
        const expr = match[1]!.trim();
        // A cursor's start key copies the index key of an item just read: not a write.
        if (/^\w+\.GSI[12]PK$/.test(expr)) continue;
        const fn = /^keys\.(\w+)/.exec(expr)?.[1];
        // `k.PK`: an item whose index key is its own (sharded) table key, built by `keys`.
        if (fn) used.add(fn);
        else if (!(expr === 'k.PK' && /const k = keys\.\w+\(/.test(src))) strays.push(`${file}: ${expr}`);
      }
    }
    expect(strays).toEqual([]);
    const known = new Set(MODEL.map((m) => m.fn as string));
    expect([...used].filter((fn) => !known.has(fn))).toEqual([]);
  });

  it('docs/capacity.md gives the same per-key rates', () => {
    const doc = readFileSync(new URL('../../docs/capacity.md', import.meta.url), 'utf8');
    for (const m of MODEL) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${m.fn}\` |`));
      expect(row, `a row for ${m.fn}`).toBeDefined();
      const cells = row!.split('|').map((c) => c.trim());
      const { values, maxWcu } = results.get(m.fn)!;
      // | fn | where | load WCU/s | key values | busiest key WCU/s | % of limit | why |
      expect({ fn: m.fn, load: Number(cells[3]!.replace(/,/g, '')), values: Number(cells[4]!.replace(/,/g, '')), busiest: Number(cells[5]) }).toEqual({
        fn: m.fn,
        load: m.loadWcu,
        values,
        busiest: Math.round(maxWcu),
      });
    }
  });
});

// The rows of docs/capacity.md, printed by `CAPACITY_ROWS=1 npx vitest run test/unit/capacity.test.ts`.
if (process.env.CAPACITY_ROWS) {
  for (const m of MODEL) {
    const { values, maxWcu } = results.get(m.fn)!;
    console.log(
      `| \`${m.fn}\` | ${m.where} | ${m.loadWcu.toLocaleString('en-US')} | ${values.toLocaleString('en-US')} | ${Math.round(maxWcu)} | ${Math.round((maxWcu / PER_KEY_LIMIT) * 100)} % | ${m.why} |`,
    );
  }
}
