/**
 * The template catalog in DynamoDB Local, synced from the sandbox WABA through the real SDK client:
 * every page of the list, deletions found by a sync, and changes that arrive late or out of order
 * never moving a template back.
 */
import { DeleteWhatsAppMessageTemplateCommand, ListWhatsAppMessageTemplatesCommand } from '@aws-sdk/client-socialmessaging';
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { recentTemplates } from '../../shared/adapters/broadcast-wiring.ts';
import { DynamoDbTemplates } from '../../shared/adapters/dynamodb-templates.ts';
import { SocialMessagingTemplates } from '../../shared/adapters/socialmessaging-templates.ts';
import { TemplateCatalog, type TemplateChange } from '../../shared/domain/templates.ts';
import type { TemplateSource } from '../../shared/ports/templates.ts';
import { freshTable } from '../support/dynamodb.ts';
import { useSandboxSuite } from '../sandbox/harness.ts';

const suite = useSandboxSuite(Date.parse('2026-03-01T10:00:00.000Z'));
let store: DynamoDbTemplates;
beforeAll(async () => {
  const { doc, tableName } = await freshTable();
  store = new DynamoDbTemplates(doc, tableName);
});
const waba = () => suite.sb.config.phoneNumbers[0]!.wabaId;

describe('template catalog sync', () => {
  it('reads every page of the list and each definition, then finds what WhatsApp no longer has', async () => {
    // Prepare
    const send = vi.spyOn(suite.sb.sm, 'send');
    let clock = 1_000;
    const catalog = new TemplateCatalog({ source: new SocialMessagingTemplates(suite.sb.sm, { pageSize: 3 }), store, now: () => clock });
    const expected = suite.sb.config.templates.length;

    // Act
    const first = await catalog.sync(waba());
    const listCalls = send.mock.calls.filter(([c]) => c instanceof ListWhatsAppMessageTemplatesCommand).length;
    await suite.sb.sm.send(new DeleteWhatsAppMessageTemplateCommand({ id: waba(), templateName: 'old_promo' }));
    clock = 2_000;
    const second = await catalog.sync(waba());
    send.mockRestore();

    // Assess
    expect(first).toEqual({ wabaId: waba(), templates: expected, deleted: 0 });
    expect(listCalls).toBe(Math.ceil(expected / 3));
    const page = await store.list(waba(), {}, { limit: 100 });
    expect(page.items).toHaveLength(expected - 1);
    expect(page.items.find((t) => t.name === 'welcome_offer')).toMatchObject({ parameterFormat: 'named', category: 'MARKETING', status: 'APPROVED' });
    expect(page.items.find((t) => t.name === 'welcome_offer')!.components!.map((c) => c.type)).toEqual(['HEADER', 'BODY', 'FOOTER']);
    expect(second).toEqual({ wabaId: waba(), templates: expected - 1, deleted: 1 });
    expect(await store.get(waba(), 'old_promo', 'en_US')).toMatchObject({ status: 'DELETED' });
    expect((await store.list(waba(), { status: 'DELETED' }, { limit: 10 })).items.map((t) => t.name)).toEqual(['old_promo']);
  });

  it('keeps a webhook that came after the list was read over what the sync read', async () => {
    // Prepare: a sync that reads the list at t=10 while a PAUSED webhook of t=20 lands
    const { doc, tableName } = await freshTable();
    const own = new DynamoDbTemplates(doc, tableName);
    const source = new SocialMessagingTemplates(suite.sb.sm);
    const slow: TemplateSource = {
      list: (w) => source.list(w),
      create: (w, d) => source.create(w, d),
      createFromLibrary: (w, input) => source.createFromLibrary(w, input),
      delete: (w, name, id) => source.delete(w, name, id),
      async get(w, id) {
        const json = await source.get(w, id);
        if (json.name === 'hello_world') await own.applyChange({ wabaId: w, name: 'hello_world', language: 'en_US', atMs: 20, status: 'PAUSED' });
        return json;
      },
    };
    const catalog = new TemplateCatalog({ source: slow, store: own, now: () => 10 });

    // Act
    await catalog.sync(waba());

    // Assess
    const hello = await own.get(waba(), 'hello_world', 'en_US');
    expect(hello).toMatchObject({ status: 'PAUSED', parameterFormat: 'positional' });
    expect(hello!.components).toHaveLength(3);
  });
});

describe('template changes', () => {
  it('converge to the latest of each field whatever the order and repeats of their arrival', async () => {
    const { doc, tableName } = await freshTable();
    const own = new DynamoDbTemplates(doc, tableName);
    let round = 0;
    const change = fc.record({
      atMs: fc.integer({ min: 1, max: 1_000_000 }),
      field: fc.constantFrom('status', 'qualityScore', 'category'),
      value: fc.constantFrom('A', 'B', 'C', 'D'),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 10 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (changes, seed) => {
        const name = `t_${++round}`;
        // Distinct times per field: the latest is unambiguous.
        const seen = new Set<string>();
        const unique = changes.filter((c) => !seen.has(`${c.field}${c.atMs}`) && seen.add(`${c.field}${c.atMs}`));
        const delivered = fc.sample(fc.shuffledSubarray([...unique, ...unique], { minLength: unique.length * 2 }), { seed, numRuns: 1 })[0]!;
        for (const c of delivered) {
          const tc: TemplateChange = { wabaId: 'waba-1', name, language: 'en_US', atMs: c.atMs, [c.field]: c.value };
          await own.applyChange(tc);
        }
        const stored = await own.get('waba-1', name, 'en_US');
        for (const field of ['status', 'qualityScore', 'category'] as const) {
          const latest = unique.filter((c) => c.field === field).sort((a, b) => b.atMs - a.atMs)[0];
          if (latest) expect(stored![field]).toBe(latest.value);
        }
      }),
      { numRuns: 25, seed: 16 },
    );
  });
});

describe('template reads kept by the broadcasts function', () => {
  it('reads the catalog once per period, sees a change after it, and keeps no failed read', async () => {
    // Prepare: an APPROVED template in the table, read through reads kept 1 s on a clock we move
    const { doc, tableName } = await freshTable();
    const table = new DynamoDbTemplates(doc, tableName);
    await table.putSynced({ wabaId: 'waba-1', name: 'order_update', language: 'en_US', status: 'APPROVED', category: 'UTILITY' }, 10);
    let reads = 0;
    let failNext = false;
    const counted = {
      get: async (w: string, n: string, l: string) => {
        reads++;
        if (failNext) {
          failNext = false;
          throw new Error('throttled');
        }
        return table.get(w, n, l);
      },
      languagesOf: (w: string, n: string) => table.languagesOf(w, n),
    };
    let clock = 1_000_000;
    const kept = recentTemplates(counted, 1000, () => clock);

    // Act and assess: ten sends in the period read once; a pause shows once the period ends
    for (let i = 0; i < 10; i++) expect((await kept.get('waba-1', 'order_update', 'en_US'))?.status).toBe('APPROVED');
    expect(reads).toBe(1);
    await table.applyChange({ wabaId: 'waba-1', name: 'order_update', language: 'en_US', atMs: 20, status: 'PAUSED' });
    clock += 999;
    expect((await kept.get('waba-1', 'order_update', 'en_US'))?.status).toBe('APPROVED');
    clock += 1;
    expect((await kept.get('waba-1', 'order_update', 'en_US'))?.status).toBe('PAUSED');
    expect(reads).toBe(2);
    // Another language is its own read; a failed read is tried again at once
    clock += 1000;
    failNext = true;
    await expect(kept.get('waba-1', 'order_update', 'en_US')).rejects.toThrow('throttled');
    expect((await kept.get('waba-1', 'order_update', 'en_US'))?.status).toBe('PAUSED');
    expect(await kept.get('waba-1', 'order_update', 'pt_BR')).toBeUndefined();
    expect(reads).toBe(5);
  });
});
