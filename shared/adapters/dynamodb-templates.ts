/**
 * The template catalog in the single table: one item per (WABA, name, language),
 * `TPL#<wabaId>#<name>#<language>` / `TPL`, listed through GSI1 under the WABA's own partition
 * `TPL#<wabaId>` / `<name>#<language>` (no key shared by every WABA, so the catalog of one WABA never
 * heats a partition of another; the base table is never queried).
 *
 * Status, quality and category each carry the time they describe (`statusAt`, `qualityAt`,
 * `categoryAt`): every write of one is conditioned on that time being older, so a late webhook or a
 * slow sync never moves a template back (no read-then-write).
 */
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../domain/errors.ts';
import type { CatalogTemplate, TemplateChange } from '../domain/templates.ts';
import type { TemplatePage, TemplateStore } from '../ports/templates.ts';
import { isConditionFailure } from './dynamodb-broadcasts.ts';
import { decodeCursor, encodeCursor } from './dynamodb-queries.ts';
import { keys } from './dynamodb-keys.ts';
import { getItems, keyId } from './dynamodb-lists.ts';
import { DynamoDbTable } from './dynamodb-table.ts';

/** Keys of the catalog's items (their own section of the table's layout, docs/data-model.md). */
export const templateKeys = {
  template: (wabaId: string, name: string, language: string) => ({ PK: `TPL#${wabaId}#${name}#${language}`, SK: 'TPL' }),
  /** GSI1 sort key: by name, then language. */
  sortKey: (name: string, language: string) => `${name}#${language}`,
} as const;

/** The timed fields, and the attribute holding the time of each. */
const TIMED = { status: 'statusAt', qualityScore: 'qualityAt', category: 'categoryAt' } as const;
type TimedField = keyof typeof TIMED;

type Item = Record<string, any>;

const toTemplate = (i: Item): CatalogTemplate => ({
  wabaId: i.wabaId,
  name: i.name,
  language: i.language,
  status: i.status ?? 'UNKNOWN',
  ...(i.category !== undefined && { category: i.category }),
  ...(i.qualityScore !== undefined && { qualityScore: i.qualityScore }),
  ...(i.metaTemplateId !== undefined && { metaTemplateId: i.metaTemplateId }),
  ...(i.parameterFormat !== undefined && { parameterFormat: i.parameterFormat }),
  ...(i.componentsJson !== undefined && { components: JSON.parse(i.componentsJson) }),
  ...(i.updatedAt !== undefined && { updatedAt: i.updatedAt }),
});


/** An UpdateItem's SET clauses and values, built field by field. */
class Update {
  readonly sets: string[] = [];
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  readonly conditions: string[] = [];

  set(attr: string, value: unknown, ifAbsent = false): this {
    if (value === undefined) return this;
    const n = `#${attr}`;
    const v = `:${attr}`;
    this.names[n] = attr;
    this.values[v] = value;
    this.sets.push(ifAbsent ? `${n} = if_not_exists(${n}, ${v})` : `${n} = ${v}`);
    return this;
  }

  /** Sets a timed field and its time, if no later value of it was recorded. */
  timed(field: TimedField, value: unknown, atMs: number): this {
    if (value === undefined) return this;
    const at = TIMED[field];
    this.set(field, value).set(at, atMs);
    this.conditions.push(`(attribute_not_exists(#${at}) OR #${at} < :${at})`);
    return this;
  }

  command(tableName: string, key: Record<string, string>) {
    return new UpdateCommand({
      TableName: tableName,
      Key: key,
      UpdateExpression: `SET ${this.sets.join(', ')}`,
      ExpressionAttributeNames: this.names,
      ExpressionAttributeValues: this.values,
      ...(this.conditions.length && { ConditionExpression: this.conditions.join(' AND ') }),
    });
  }
}

export class DynamoDbTemplates extends DynamoDbTable implements TemplateStore {
  private readonly now: () => number;

  constructor(doc: DynamoDBDocumentClient, tableName: string, now: () => number = Date.now) {
    super(doc, tableName);
    this.now = now;
  }

  /** The identity of an item: what every write sets, so that any write may create it. */
  private base(wabaId: string, name: string, language: string): Update {
    return new Update()
      .set('entity', 'template')
      .set('wabaId', wabaId)
      .set('name', name)
      .set('language', language)
      .set('GSI1PK', keys.templateCatalog(wabaId))
      .set('GSI1SK', templateKeys.sortKey(name, language))
      .set('updatedAt', new Date(this.now()).toISOString());
  }

  async get(wabaId: string, name: string, language: string): Promise<CatalogTemplate | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: templateKeys.template(wabaId, name, language) }));
    return out.Item ? toTemplate(out.Item) : undefined;
  }

  async languagesOf(wabaId: string, name: string): Promise<string[]> {
    const items = await this.catalogItems(wabaId, name);
    return items.filter((i) => i.status !== 'DELETED').map((i) => i.language as string);
  }

  private catalogItems(wabaId: string, name?: string): Promise<Item[]> {
    return this.queryAll(keys.templateCatalog(wabaId), name === undefined ? undefined : `${name}#`);
  }

  async list(wabaId: string, filter: { name?: string; language?: string; status?: string }, page: { limit: number; cursor?: string }): Promise<TemplatePage> {
    const startKey = decodeCursor(page.cursor, ['PK', 'SK', 'GSI1PK', 'GSI1SK']);
    const pk = keys.templateCatalog(wabaId);
    if (startKey && startKey.GSI1PK !== pk) throw new ValidationError('cursor belongs to another list; start again without it', { path: 'cursor' });
    const keep = (i: Item) =>
      (filter.language === undefined || i.language === filter.language) &&
      (filter.status === undefined ? i.status !== 'DELETED' : i.status === filter.status);
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined = startKey;
    let last: Item | undefined;
    let more = true;
    while (items.length < page.limit && more) {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'GSI1',
          KeyConditionExpression: filter.name === undefined ? 'GSI1PK = :pk' : 'GSI1PK = :pk AND begins_with(GSI1SK, :prefix)',
          ExpressionAttributeValues: { ':pk': pk, ...(filter.name !== undefined && { ':prefix': `${filter.name}#` }) },
          Limit: page.limit * 2,
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      // The index holds keys only: the items come from the table, in the index's order.
      const entries = out.Items ?? [];
      const found = await getItems(this.doc, this.tableName, entries);
      for (const e of entries) {
        if (items.length === page.limit) break;
        last = e;
        const i = found.get(keyId(e));
        if (i && keep(i)) items.push(i);
      }
      start = out.LastEvaluatedKey;
      // Stopped inside this page: the next page starts after the last item looked at.
      if (items.length === page.limit && last) start = { PK: last.PK, SK: last.SK, GSI1PK: last.GSI1PK, GSI1SK: last.GSI1SK };
      more = start !== undefined;
    }
    return { items: items.map(toTemplate), nextCursor: more ? encodeCursor(start) : null };
  }

  async putSynced(t: CatalogTemplate, atMs: number): Promise<void> {
    const key = templateKeys.template(t.wabaId, t.name, t.language);
    const definition = () =>
      this.base(t.wabaId, t.name, t.language)
        .set('metaTemplateId', t.metaTemplateId)
        .set('parameterFormat', t.parameterFormat)
        .set('componentsJson', t.components === undefined ? undefined : JSON.stringify(t.components))
        .set('syncedAt', atMs);
    const whole = definition().timed('status', t.status, atMs).timed('qualityScore', t.qualityScore, atMs).timed('category', t.category, atMs);
    try {
      await this.doc.send(whole.command(this.tableName, key));
      return;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    // Something newer arrived meanwhile (a webhook during the sync): the definition, then each
    // field only where it is still older.
    await this.doc.send(definition().command(this.tableName, key));
    await this.applyChange({ wabaId: t.wabaId, name: t.name, language: t.language, atMs, status: t.status, ...(t.qualityScore && { qualityScore: t.qualityScore }), ...(t.category && { category: t.category }) });
  }

  async applyChange(change: TemplateChange): Promise<void> {
    const key = templateKeys.template(change.wabaId, change.name, change.language);
    for (const field of Object.keys(TIMED) as TimedField[]) {
      if (change[field] === undefined) continue;
      const update = this.base(change.wabaId, change.name, change.language).set('metaTemplateId', change.metaTemplateId, true).timed(field, change[field], change.atMs);
      try {
        await this.doc.send(update.command(this.tableName, key));
      } catch (err) {
        // A later change of this field is recorded: this one is out of date.
        if (!isConditionFailure(err)) throw err;
      }
    }
  }

  async markMissingDeleted(wabaId: string, atMs: number): Promise<number> {
    const stale = (await this.catalogItems(wabaId)).filter(
      (i) => i.status !== 'DELETED' && !(i.syncedAt >= atMs) && !(i.statusAt >= atMs),
    );
    let deleted = 0;
    for (const i of stale) {
      const update = this.base(wabaId, i.name, i.language).timed('status', 'DELETED', atMs);
      // Only if no sync or change since the list was read put it back.
      update.conditions.push('(attribute_not_exists(#syncedAt) OR #syncedAt < :statusAt)');
      update.names['#syncedAt'] = 'syncedAt';
      try {
        await this.doc.send(update.command(this.tableName, templateKeys.template(wabaId, i.name, i.language)));
        deleted++;
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    }
    return deleted;
  }
}
