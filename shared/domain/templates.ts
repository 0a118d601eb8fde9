/**
 * The template catalog of each WABA and the check of a template send against it.
 *
 * The catalog (the `TemplateStore` port) is filled by a sync (every page of
 * ListWhatsAppMessageTemplates, then GetWhatsAppMessageTemplate of each for its components and
 * parameter format) and kept current by the template webhooks that arrive as account events
 * (status, quality, category). Every change carries the time it describes: a change older than the
 * one recorded for the same field (status, quality, category) is ignored, so a late webhook or a
 * slow sync never moves a template back.
 *
 * The check of a send (`checkTemplateSend`): the template exists in that language, it is APPROVED,
 * and each component gets as many parameters as its placeholders (named templates: exactly its
 * names). A template the catalog has never seen is not checked.
 */
import type { TemplateSource, TemplateStore } from '../ports/templates.ts';
import { ApiError, ConflictError, NotFoundError } from './errors.ts';

/** Meta's rule for template names. */
export const TEMPLATE_NAME = /^[a-z0-9_]{1,512}$/;

export type TemplateCategory = 'AUTHENTICATION' | 'MARKETING' | 'UTILITY';

/** A line of ListWhatsAppMessageTemplates. */
export interface TemplateSummary {
  name: string;
  language: string;
  metaTemplateId: string;
  status: string;
  category?: string;
  qualityScore?: string;
}

/** A template to copy from Meta's template library (CreateWhatsAppMessageTemplateFromLibrary). */
export interface LibraryTemplateInput {
  /** The name it gets in the WABA. */
  name: string;
  /** The library template's name. */
  libraryTemplateName: string;
  category: string;
  language: string;
  /** `libraryTemplateBodyInputs` (add_contact_number, code_expiration_minutes, …), as AWS names them. */
  bodyInputs?: Record<string, unknown>;
  /** `libraryTemplateButtonInputs`, as AWS names them. */
  buttonInputs?: Record<string, unknown>[];
}

/** A template as the catalog keeps it and the API answers it. */
export interface CatalogTemplate {
  wabaId: string;
  name: string;
  language: string;
  status: string;
  category?: string;
  qualityScore?: string;
  metaTemplateId?: string;
  /** `positional` or `named`; absent until the definition is known. */
  parameterFormat?: 'positional' | 'named';
  /** Meta's components (HEADER, BODY, FOOTER, BUTTONS); absent for a template known only from a webhook. */
  components?: Record<string, unknown>[];
  /** When the catalog last changed it, ISO. */
  updatedAt?: string;
}

/** One change of a template's status, quality or category, as of `atMs`. */
export interface TemplateChange {
  wabaId: string;
  name: string;
  language: string;
  atMs: number;
  metaTemplateId?: string;
  status?: string;
  qualityScore?: string;
  category?: string;
}

/** Meta writes languages `en_US` in the API and sometimes `en-US` in webhooks. */
export const normalLanguage = (language: string): string => language.replace('-', '_');

/** Meta's template JSON (GetWhatsAppMessageTemplate) → its definition fields. */
export function definitionOf(json: Record<string, unknown>): Pick<CatalogTemplate, 'parameterFormat' | 'components'> {
  const format = String(json.parameter_format ?? 'positional').toLowerCase() === 'named' ? 'named' : 'positional';
  const components = Array.isArray(json.components) ? (json.components as Record<string, unknown>[]) : [];
  return { parameterFormat: format, components };
}

// ---------------------------------------------------------------------------------------------
// Template webhooks (account events) → changes

const TEMPLATE_FIELDS: Readonly<Record<string, (v: Record<string, unknown>) => Partial<TemplateChange>>> = {
  message_template_status_update: (v) => ({ status: typeof v.event === 'string' ? v.event : undefined }),
  message_template_quality_update: (v) => ({ qualityScore: typeof v.new_quality_score === 'string' ? v.new_quality_score : undefined }),
  template_category_update: (v) => ({ category: typeof v.new_category === 'string' ? v.new_category : undefined }),
};

/**
 * The catalog change a template webhook carries, or undefined for any other field or a value
 * without a template name and language (those stay account events only).
 */
export function templateChangeOf(event: { wabaId: string; field: string; value: unknown; atMs: number }): TemplateChange | undefined {
  const read = TEMPLATE_FIELDS[event.field];
  if (!read || typeof event.value !== 'object' || event.value === null) return undefined;
  const v = event.value as Record<string, unknown>;
  const name = v.message_template_name;
  const language = v.message_template_language;
  if (typeof name !== 'string' || typeof language !== 'string' || name === '' || language === '') return undefined;
  const fields = read(v);
  if (Object.values(fields).every((x) => x === undefined)) return undefined;
  const id = v.message_template_id;
  return {
    wabaId: event.wabaId,
    name,
    language: normalLanguage(language),
    atMs: event.atMs,
    ...(typeof id === 'string' || typeof id === 'number' ? { metaTemplateId: String(id) } : {}),
    ...Object.fromEntries(Object.entries(fields).filter(([, x]) => x !== undefined)),
  };
}

// ---------------------------------------------------------------------------------------------
// What a send must give

/** One component of a send that takes parameters. */
export interface ParameterSlot {
  /** How the error names it: `header`, `body`, `button 1 (url)`. */
  label: string;
  /** The send's component `type`: header, body, button. */
  type: 'header' | 'body' | 'button';
  index?: number;
  /** Placeholder names in the template's order (`1`, `2`… or `first_name`…). */
  names: string[];
  /** Quick replies: the payload parameter may be left out. */
  optional?: boolean;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;
const placeholderNames = (text: unknown): string[] => (typeof text === 'string' ? [...text.matchAll(PLACEHOLDER)].map((m) => m[1]!) : []);
const MEDIA_HEADERS = new Set(['IMAGE', 'VIDEO', 'DOCUMENT', 'LOCATION']);

/** The components of `components` that a send fills with parameters, and how many each takes. */
export function parameterSlots(components: readonly Record<string, unknown>[]): ParameterSlot[] {
  const slots: ParameterSlot[] = [];
  for (const c of components) {
    const type = String(c.type ?? '').toUpperCase();
    if (type === 'HEADER') {
      const format = String(c.format ?? 'TEXT').toUpperCase();
      const names = MEDIA_HEADERS.has(format) ? [format.toLowerCase()] : placeholderNames(c.text);
      if (names.length) slots.push({ label: 'header', type: 'header', names });
    } else if (type === 'BODY') {
      const names = placeholderNames(c.text);
      if (names.length) slots.push({ label: 'body', type: 'body', names });
    } else if (type === 'BUTTONS' && Array.isArray(c.buttons)) {
      (c.buttons as Record<string, unknown>[]).forEach((b, index) => {
        const kind = String(b.type ?? '').toUpperCase();
        const slot = (sub: string, names: string[], optional = false) =>
          slots.push({ label: `button ${index} (${sub})`, type: 'button', index, names, ...(optional && { optional }) });
        if (kind === 'URL' && placeholderNames(b.url).length) slot('url', ['1']);
        else if (kind === 'COPY_CODE') slot('copy_code', ['1']);
        else if (kind === 'OTP') slot('url', ['1']);
        else if (kind === 'QUICK_REPLY') slot('quick_reply', ['payload'], true);
      });
    }
  }
  return slots;
}

/** A component whose parameters do not fit the template. */
export interface ParameterMismatch {
  component: string;
  expected: number;
  given: number;
  /** Named templates: the names it takes, and those given. */
  expectedNames?: string[];
  givenNames?: string[];
}

interface SendComponent {
  type: string;
  index?: string | number;
  parameters?: Array<{ type: string; parameter_name?: string }>;
}

/** Every component of the send whose parameters do not match the template's (empty: they all fit). */
export function parameterMismatches(template: Pick<CatalogTemplate, 'components' | 'parameterFormat'>, given: readonly SendComponent[] = []): ParameterMismatch[] {
  const slots = parameterSlots(template.components ?? []);
  const sameSlot = (s: ParameterSlot, g: SendComponent) => g.type === s.type && (s.index === undefined || Number(g.index) === s.index);
  const out: ParameterMismatch[] = [];
  for (const s of slots) {
    const params = given.find((g) => sameSlot(s, g))?.parameters ?? [];
    const countOk = s.optional ? params.length <= 1 : params.length === s.names.length;
    if (!countOk) {
      out.push({ component: s.label, expected: s.names.length, given: params.length });
      continue;
    }
    const textual = s.type === 'body' || (s.type === 'header' && !MEDIA_HEADERS.has(s.names[0]!.toUpperCase()));
    if (template.parameterFormat === 'named' && textual) {
      const names = params.map((p) => p.parameter_name ?? '');
      const sorted = (xs: string[]) => [...xs].sort().join(',');
      if (sorted(names) !== sorted(s.names)) {
        out.push({ component: s.label, expected: s.names.length, given: params.length, expectedNames: s.names, givenNames: names });
      }
    }
  }
  for (const g of given) {
    const count = g.parameters?.length ?? 0;
    if (count > 0 && !slots.some((s) => sameSlot(s, g))) {
      out.push({ component: g.type === 'button' ? `button ${String(g.index)}` : g.type, expected: 0, given: count });
    }
  }
  return out;
}

/** `template_parameter_mismatch`: names every component whose parameters do not fit, with the counts. */
export class TemplateParameterMismatchError extends ApiError {
  constructor(name: string, language: string, mismatches: ParameterMismatch[]) {
    const parts = mismatches.map((m) =>
      m.expectedNames
        ? `${m.component} takes the named parameters ${m.expectedNames.join(', ')} (given: ${m.givenNames!.map((n) => n || '(unnamed)').join(', ') || 'none'})`
        : `${m.component} expects ${m.expected} parameter${m.expected === 1 ? '' : 's'}, ${m.given} given`,
    );
    super('unprocessable', 'template_parameter_mismatch', `Template ${name} (${language}) does not take these parameters: ${parts.join('; ')}. WhatsApp would refuse it (132000).`, {
      template: name,
      language,
      mismatches,
      metaCode: mismatches.some((m) => m.expectedNames) && mismatches.every((m) => m.expected === m.given) ? 132012 : 132000,
    });
  }
}

const STATUS_CODES: Readonly<Record<string, number>> = { PAUSED: 132015, DISABLED: 132016 };

/**
 * Whether `req` may be sent with `template` (undefined: the catalog has not seen it). Throws
 * `template_not_found` (the name exists in other languages only), `template_not_approved`,
 * `template_parameter_mismatch`. Returns whether it was checked.
 */
export function checkTemplateSend(
  req: { name: string; language: string; components?: readonly SendComponent[] },
  template: CatalogTemplate | undefined,
  otherLanguages: readonly string[],
): boolean {
  if (!template || template.status === 'DELETED') {
    if (!template && otherLanguages.length === 0) return false;
    const where = otherLanguages.length ? `it exists in ${otherLanguages.join(', ')}` : 'it was deleted';
    throw new NotFoundError(
      `Template ${req.name} does not exist in ${req.language}; ${where}. WhatsApp would refuse it (132001).`,
      'template_not_found',
      { template: req.name, language: req.language, languages: [...otherLanguages], metaCode: 132001 },
    );
  }
  if (template.status !== 'APPROVED') {
    throw new ConflictError(
      `Template ${req.name} (${req.language}) is ${template.status}: only an APPROVED template can be sent.`,
      'template_not_approved',
      { template: req.name, language: req.language, status: template.status, metaCode: STATUS_CODES[template.status] ?? 132001 },
    );
  }
  if (!template.components) return false;
  const mismatches = parameterMismatches(template, req.components);
  if (mismatches.length) throw new TemplateParameterMismatchError(req.name, req.language, mismatches);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Use cases

export interface SyncResult {
  wabaId: string;
  templates: number;
  deleted: number;
}

/** How many GetWhatsAppMessageTemplate calls a sync makes at once. */
const SYNC_CONCURRENCY = 4;

export class TemplateCatalog {
  private readonly source: TemplateSource;
  private readonly store: TemplateStore;
  private readonly now: () => number;

  constructor(deps: { source: TemplateSource; store: TemplateStore; now: () => number }) {
    this.source = deps.source;
    this.store = deps.store;
    this.now = deps.now;
  }

  /**
   * Syncs one WABA: every page of the list, each template's definition, then what the list no longer
   * has marked DELETED. Each write is conditioned on the time the list was read, so a webhook that
   * arrives meanwhile wins.
   */
  async sync(wabaId: string): Promise<SyncResult> {
    const startedAt = this.now();
    const summaries = await this.source.list(wabaId);
    let next = 0;
    const worker = async () => {
      while (next < summaries.length) {
        const s = summaries[next++]!;
        const json = await this.source.get(wabaId, s.metaTemplateId);
        await this.store.putSynced(
          {
            wabaId,
            name: s.name,
            language: normalLanguage(s.language),
            status: s.status,
            metaTemplateId: s.metaTemplateId,
            ...(s.category && { category: s.category }),
            ...(s.qualityScore && { qualityScore: s.qualityScore }),
            ...definitionOf(json),
          },
          startedAt,
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(SYNC_CONCURRENCY, summaries.length) }, worker));
    const deleted = await this.store.markMissingDeleted(wabaId, startedAt);
    return { wabaId, templates: summaries.length, deleted };
  }

  /** Creates a template from Meta's definition; the catalog shows it at once (usually PENDING). */
  async create(wabaId: string, definition: Record<string, unknown> & { name: string; language: string }): Promise<CatalogTemplate> {
    const atMs = this.now();
    const out = await this.source.create(wabaId, definition);
    const template: CatalogTemplate = {
      wabaId,
      name: definition.name,
      language: normalLanguage(definition.language),
      status: out.status ?? 'PENDING',
      ...((out.category ?? definition.category) !== undefined && { category: String(out.category ?? definition.category) }),
      ...(out.metaTemplateId && { metaTemplateId: out.metaTemplateId }),
      ...definitionOf(definition),
    };
    await this.store.putSynced(template, atMs);
    return template;
  }

  /**
   * Copies a template of Meta's library into the WABA, then reads it back whole
   * (GetWhatsAppMessageTemplate), since only WhatsApp knows the library's components.
   */
  async createFromLibrary(wabaId: string, input: LibraryTemplateInput): Promise<CatalogTemplate> {
    const atMs = this.now();
    const out = await this.source.createFromLibrary(wabaId, input);
    const json = out.metaTemplateId ? await this.source.get(wabaId, out.metaTemplateId) : {};
    const template: CatalogTemplate = {
      wabaId,
      name: input.name,
      language: normalLanguage(input.language),
      status: out.status ?? 'PENDING',
      category: out.category ?? input.category,
      ...(out.metaTemplateId && { metaTemplateId: out.metaTemplateId }),
      ...(out.metaTemplateId && definitionOf(json)),
    };
    await this.store.putSynced(template, atMs);
    return template;
  }

  /** Deletes every language of `name` (or one, by `metaTemplateId`); the catalog marks them DELETED. */
  async delete(wabaId: string, name: string, metaTemplateId?: string): Promise<string[]> {
    const languages = await this.store.languagesOf(wabaId, name);
    const atMs = this.now();
    await this.source.delete(wabaId, name, metaTemplateId);
    const gone: string[] = [];
    for (const language of languages) {
      const t = await this.store.get(wabaId, name, language);
      if (metaTemplateId !== undefined && t?.metaTemplateId !== metaTemplateId) continue;
      await this.store.applyChange({ wabaId, name, language, atMs, status: 'DELETED' });
      gone.push(language);
    }
    return gone;
  }
}
