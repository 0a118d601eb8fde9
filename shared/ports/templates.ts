/**
 * What the template catalog needs: the WABA's templates as WhatsApp holds them (AWS End User
 * Messaging Social's template operations, `shared/adapters/socialmessaging-templates.ts`) and the
 * catalog kept in the table (`shared/adapters/dynamodb-templates.ts`).
 */
import type { CatalogTemplate, LibraryTemplateInput, TemplateChange, TemplateSummary } from '../domain/templates.ts';

export interface TemplateSource {
  /** ListWhatsAppMessageTemplates, every page. */
  list(wabaId: string): Promise<TemplateSummary[]>;
  /** GetWhatsAppMessageTemplate by Meta template id: Meta's template JSON, parsed. */
  get(wabaId: string, metaTemplateId: string): Promise<Record<string, unknown>>;
  /** CreateWhatsAppMessageTemplate with Meta's template definition. */
  create(wabaId: string, definition: Record<string, unknown>): Promise<{ metaTemplateId?: string; status?: string; category?: string }>;
  /** CreateWhatsAppMessageTemplateFromLibrary: a copy of a template of Meta's library. */
  createFromLibrary(wabaId: string, input: LibraryTemplateInput): Promise<{ metaTemplateId?: string; status?: string; category?: string }>;
  /** DeleteWhatsAppMessageTemplate: every language of `name`, or the one of `metaTemplateId`. */
  delete(wabaId: string, name: string, metaTemplateId?: string): Promise<void>;
}

/** One page of the catalog. */
export interface TemplatePage {
  items: CatalogTemplate[];
  nextCursor: string | null;
}

export interface TemplateStore {
  /** One template by name and language. */
  get(wabaId: string, name: string, language: string): Promise<CatalogTemplate | undefined>;
  /** The languages the catalog holds `name` in (not deleted). */
  languagesOf(wabaId: string, name: string): Promise<string[]>;
  /** A page of the WABA's catalog, by name then language, filtered. */
  list(wabaId: string, filter: { name?: string; language?: string; status?: string }, page: { limit: number; cursor?: string }): Promise<TemplatePage>;
  /**
   * Keeps what a sync read at `atMs`: the definition always, each of status, quality and category
   * only if no later change of it was recorded.
   */
  putSynced(t: CatalogTemplate, atMs: number): Promise<void>;
  /** Marks DELETED every template of the WABA not synced since `atMs` and not changed since. */
  markMissingDeleted(wabaId: string, atMs: number): Promise<number>;
  /** Applies a change (a template webhook, a create or delete) if nothing later was recorded. */
  applyChange(change: TemplateChange): Promise<void>;
}
