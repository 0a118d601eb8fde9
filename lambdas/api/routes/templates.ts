/**
 * Template routes (api-contract.md §4): the catalog of each WABA (`wabaId` defaults to the WABA of
 * the first configured number), creating and deleting templates, and syncing the catalog.
 */
import * as z from 'zod';
import { NotFoundError } from '../../../shared/domain/errors.ts';
import { pageOf } from '../../../shared/domain/resources.ts';
import { TEMPLATE_NAME, type TemplateCatalog } from '../../../shared/domain/templates.ts';
import type { TemplateStore } from '../../../shared/ports/templates.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

export interface TemplateApiDeps {
  catalog: TemplateCatalog;
  store: TemplateStore;
  /** The WABAs of the configured numbers, the first number's first. */
  wabas: () => Promise<string[]>;
}

const TemplateSchema = z
  .object({
    wabaId: z.string(),
    name: z.string(),
    language: z.string(),
    status: z.string().describe('APPROVED, PENDING, REJECTED, PAUSED, DISABLED, … (only APPROVED can be sent)'),
    category: z.string().optional(),
    qualityScore: z.string().optional(),
    metaTemplateId: z.string().optional(),
    parameterFormat: z.enum(['positional', 'named']).optional(),
    components: z.array(z.record(z.string(), z.unknown())).optional().describe("Meta's components; absent for a template known only from a webhook"),
    updatedAt: z.string().optional(),
  })
  .meta({ id: 'Template' });

export const WabaQuery = z.object({ wabaId: z.string().regex(/^waba-[0-9a-f]{1,64}$/, { error: 'wabaId must be the AWS WABA id, waba-<hex>' }).optional() });
const Name = z.string().regex(TEMPLATE_NAME, { error: 'name must be lowercase letters, digits and underscores (at most 512)' });
const Language = z.string().regex(/^[A-Za-z]{2,3}(_[A-Za-z0-9]{2,3})?$/, { error: 'language must look like en or en_US' });

const CreateTemplateSchema = z
  .looseObject({
    wabaId: WabaQuery.shape.wabaId,
    name: Name,
    language: Language,
    category: z.enum(['AUTHENTICATION', 'MARKETING', 'UTILITY']),
    parameter_format: z.enum(['positional', 'named']).optional(),
    components: z.array(z.looseObject({ type: z.string() })).min(1, { error: 'components must list at least the BODY' }),
  })
  .meta({ id: 'CreateTemplate', description: "Meta's template definition (name, language, category, parameter_format, components, …) and optionally the wabaId" });

const LibrarySchema = z
  .strictObject({
    wabaId: WabaQuery.shape.wabaId,
    library: z.strictObject({
      name: Name.describe('The name the copy gets in the WABA'),
      libraryTemplateName: z.string().min(1).max(512),
      category: z.enum(['AUTHENTICATION', 'MARKETING', 'UTILITY']),
      language: Language,
      bodyInputs: z.record(z.string(), z.unknown()).optional().describe('libraryTemplateBodyInputs (addContactNumber, codeExpirationMinutes, …)'),
      buttonInputs: z.array(z.record(z.string(), z.unknown())).optional().describe('libraryTemplateButtonInputs'),
    }),
  })
  .meta({ id: 'CreateTemplateFromLibrary', description: "A copy of a template of Meta's template library" });

const SyncSchema = z.strictObject({ wabaId: WabaQuery.shape.wabaId }).default({});
const SyncResultSchema = z
  .object({ results: z.array(z.object({ wabaId: z.string(), templates: z.int(), deleted: z.int() })) })
  .meta({ id: 'TemplateSyncResult' });

const notFound = (name: string, language?: string) =>
  new NotFoundError(`The catalog has no template ${name}${language ? ` in ${language}` : ''}: check the name and language, or sync the catalog (POST /v1/templates/sync).`, 'template_not_found');

export function templateRoutes(deps: () => TemplateApiDeps): AnyRoute[] {
  /** The WABA asked for, which must be one of this backend's; the first one by default. */
  const wabaOf = async (asked: string | undefined): Promise<string> => {
    const wabas = await deps().wabas();
    if (asked === undefined) {
      if (!wabas[0]) throw new NotFoundError('No WABA is configured: the backend has no business number.', 'unknown_waba');
      return wabas[0];
    }
    if (!wabas.includes(asked)) throw new NotFoundError(`${asked} is not a WABA of this backend (its WABAs: ${wabas.join(', ')}).`, 'unknown_waba', { wabaId: asked });
    return asked;
  };
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/templates',
      operationId: 'listTemplates',
      summary: "The WABA's template catalog by name then language (deleted templates only with status=DELETED).",
      query: WabaQuery.extend({
        status: z.string().regex(/^[A-Z_]{1,30}$/, { error: 'status must be a template status such as APPROVED' }).optional(),
        name: Name.optional(),
        language: Language.optional(),
        limit: z.coerce.number().int().min(1).max(100).default(50),
        cursor: z.string().optional(),
      }),
      responses: { 200: { description: 'A page of templates', schema: pageOf(TemplateSchema, 'TemplatePage') } },
      errors: [400, 404],
      async handle({ query }) {
        const wabaId = await wabaOf(query.wabaId);
        const { limit, cursor, name, language, status } = query;
        const page = await deps().store.list(wabaId, { ...(name && { name }), ...(language && { language }), ...(status && { status }) }, { limit, ...(cursor && { cursor }) });
        return { status: 200, body: { items: page.items, nextCursor: page.nextCursor } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/templates/{name}/{language}',
      operationId: 'getTemplate',
      summary: 'One template of the catalog, with its components.',
      params: z.object({ name: Name, language: Language }),
      query: WabaQuery,
      responses: { 200: { description: 'The template', schema: TemplateSchema } },
      errors: [400, 404],
      async handle({ params, query }) {
        const wabaId = await wabaOf(query.wabaId);
        const t = await deps().store.get(wabaId, params.name, params.language);
        if (!t) throw notFound(params.name, params.language);
        return { status: 200, body: t };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/templates',
      operationId: 'createTemplate',
      summary:
        "Creates a template from Meta's definition (CreateWhatsAppMessageTemplate; PENDING until WhatsApp reviews it, and the status webhook updates the catalog), or copies one of Meta's template library ({library: {name, libraryTemplateName, category, language, bodyInputs?, buttonInputs?}}: CreateWhatsAppMessageTemplateFromLibrary, then read back whole).",
      body: z.union([LibrarySchema, CreateTemplateSchema]),
      responses: { 201: { description: 'The template as created', schema: TemplateSchema } },
      errors: [400, 403, 404, 429, 500, 502],
      async handle({ body }) {
        if ('library' in body && body.library !== undefined) {
          const { library, wabaId: asked } = body as z.output<typeof LibrarySchema>;
          const t = await deps().catalog.createFromLibrary(await wabaOf(asked), library);
          return { status: 201, body: t };
        }
        const { wabaId: asked, ...definition } = body as z.output<typeof CreateTemplateSchema>;
        const t = await deps().catalog.create(await wabaOf(asked), definition);
        return { status: 201, body: t };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/v1/templates/{name}',
      operationId: 'deleteTemplate',
      summary: 'Deletes a template in every language (or only the one of metaTemplateId). WhatsApp blocks the name of a deleted approved template for 30 days.',
      params: z.object({ name: Name }),
      query: WabaQuery.extend({ metaTemplateId: z.string().regex(/^[0-9]{1,100}$/, { error: 'metaTemplateId must be digits' }).optional() }),
      responses: { 200: { description: 'The languages deleted', schema: z.object({ name: z.string(), deleted: z.array(z.string()) }) } },
      errors: [400, 403, 404, 429, 500, 502],
      async handle({ params, query }) {
        const wabaId = await wabaOf(query.wabaId);
        const deleted = await deps().catalog.delete(wabaId, params.name, query.metaTemplateId);
        return { status: 200, body: { name: params.name, deleted } };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/templates/sync',
      operationId: 'syncTemplates',
      summary: 'Reads every template of the WABA (every WABA without wabaId) from WhatsApp into the catalog; templates WhatsApp no longer has become DELETED.',
      body: SyncSchema,
      responses: { 200: { description: 'What each WABA holds now', schema: SyncResultSchema } },
      errors: [400, 404, 429, 500, 502],
      async handle({ body }) {
        const wabas = body.wabaId === undefined ? await deps().wabas() : [await wabaOf(body.wabaId)];
        const results = [];
        for (const wabaId of wabas) results.push(await deps().catalog.sync(wabaId));
        return { status: 200, body: { results } };
      },
    }),
  ];
}
