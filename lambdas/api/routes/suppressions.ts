/** Suppression routes: the users a business number's MARKETING broadcasts skip. */
import * as z from 'zod';
import type { Suppressions } from '../../../shared/domain/suppressions.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

export interface SuppressionApiDeps {
  suppressions: Suppressions;
  /** `from` (phone number id, ARN or display number) → a configured phone number id; absent: the first configured. */
  resolve: (from: string | undefined) => Promise<string>;
}

const SuppressionSchema = z
  .object({
    phoneNumberId: z.string(),
    to: z.string().describe("The user's phone, digits"),
    reason: z.enum(['stop_keyword', 'meta_131050', 'api']).describe('stop_keyword: the user answered a stop keyword; meta_131050: a MARKETING send failed with 131050; api: added here'),
    createdAt: z.string(),
  })
  .meta({ id: 'Suppression' });
const Phone = z.string().regex(/^\+?[0-9][0-9 ()-]{4,30}$/, { error: 'to must be a phone number' });
const From = z.string().min(1).optional().describe('The business number (phone number id, ARN or display number); default the first configured');

export function suppressionRoutes(deps: () => SuppressionApiDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/suppressions',
      operationId: 'listSuppressions',
      summary: "The users a business number's MARKETING broadcasts skip, newest first.",
      query: z.object({ from: From, limit: z.coerce.number().int().min(1).max(100).default(50), cursor: z.string().optional() }),
      responses: { 200: { description: 'A page of suppressed users', schema: z.object({ items: z.array(SuppressionSchema), nextCursor: z.string().nullable() }) } },
      errors: [400, 404],
      async handle({ query }) {
        const d = deps();
        const phoneNumberId = await d.resolve(query.from);
        return { status: 200, body: await d.suppressions.list(phoneNumberId, { limit: query.limit, ...(query.cursor && { cursor: query.cursor }) }) };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/suppressions',
      operationId: 'addSuppression',
      summary: "Adds a user to a business number's suppression list: its MARKETING broadcasts skip them (201; 200 when they were on it already, with the first reason).",
      body: z.strictObject({ from: From, to: Phone }).meta({ id: 'AddSuppression' }),
      responses: { 201: { description: 'Added', schema: SuppressionSchema }, 200: { description: 'On the list already', schema: SuppressionSchema } },
      errors: [400, 404],
      async handle({ body }) {
        const d = deps();
        const phoneNumberId = await d.resolve(body.from);
        const out = await d.suppressions.add(phoneNumberId, body.to);
        return { status: out.created ? 201 : 200, body: out.suppression };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/v1/suppressions/{to}',
      operationId: 'removeSuppression',
      summary: "Removes a user from a business number's suppression list.",
      params: z.object({ to: Phone }),
      query: z.object({ from: From }),
      responses: { 204: { description: 'Removed' } },
      errors: [400, 404],
      async handle({ params, query }) {
        const d = deps();
        await d.suppressions.remove(await d.resolve(query.from), params.to);
        return { status: 204, body: null };
      },
    }),
  ];
}
