/** Suppression routes: the users a business's MARKETING broadcasts skip, from any of its numbers. */
import * as z from 'zod';
import { NotFoundError, ValidationError } from '../../../shared/domain/errors.ts';
import type { MessageSender } from '../../../shared/domain/send-message.ts';
import type { Suppressions } from '../../../shared/domain/suppressions.ts';
import { defineRoute, type AnyRoute } from '../route.ts';
import { WabaQuery } from './templates.ts';

export interface SuppressionApiDeps {
  suppressions: Suppressions;
  /** The business asked for (`wabaId`, else the WABA of `from`, else the first configured) and its configured numbers. */
  business: (asked: { wabaId?: string | undefined; from?: string | undefined }) => Promise<{ wabaId: string; phoneNumberIds: string[] }>;
}

/** `SuppressionApiDeps.business` from the send path's knowledge of the configured numbers and their WABAs. */
export function businessOfRequest(sender: Pick<MessageSender, 'wabas' | 'wabaOf' | 'numbersOf' | 'resolvePhoneNumber'>): SuppressionApiDeps['business'] {
  return async ({ wabaId, from }) => {
    const wabas = await sender.wabas();
    let waba = wabaId;
    if (from !== undefined) {
      const ofNumber = await sender.wabaOf(await sender.resolvePhoneNumber(from));
      if (ofNumber === undefined) throw new NotFoundError(`The WABA of ${from} is not known: give wabaId.`, 'unknown_waba', { from });
      if (waba !== undefined && ofNumber !== waba) throw new ValidationError(`from is not a number of ${waba}: give one of the two.`, { path: 'from' });
      waba = ofNumber;
    }
    waba ??= wabas[0];
    if (waba === undefined) throw new NotFoundError('No WABA is configured: the backend has no business number.', 'unknown_waba');
    if (!wabas.includes(waba)) throw new NotFoundError(`${waba} is not a WABA of this backend (its WABAs: ${wabas.join(', ')}).`, 'unknown_waba', { wabaId: waba });
    return { wabaId: waba, phoneNumberIds: await sender.numbersOf(waba) };
  };
}

const SuppressionSchema = z
  .object({
    wabaId: z.string().describe('The business (AWS WABA id) whose list it is'),
    to: z.string().describe("The user's phone, digits"),
    reason: z.enum(['stop_keyword', 'meta_131050', 'api']).describe('stop_keyword: the user answered a stop keyword; meta_131050: a MARKETING send failed with 131050; api: added here'),
    createdAt: z.string(),
    phoneNumberId: z.string().optional().describe('The business number the stop keyword or the failed send went through'),
  })
  .meta({ id: 'Suppression' });
const Phone = z.string().regex(/^\+?[0-9][0-9 ()-]{4,30}$/, { error: 'to must be a phone number' });
const From = z.string().min(1).optional().describe('A business number (phone number id, ARN or display number): the list of its WABA');
const WabaId = WabaQuery.shape.wabaId.describe('The business (AWS WABA id); default the WABA of `from`, else of the first configured number');

export function suppressionRoutes(deps: () => SuppressionApiDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/suppressions',
      operationId: 'listSuppressions',
      summary: "The users a business's MARKETING broadcasts skip (from any of its numbers), newest first; users kept under one of its numbers (by earlier versions, or a stop whose WABA was not known) show that number's id as wabaId.",
      query: z.object({ wabaId: WabaId, from: From, limit: z.coerce.number().int().min(1).max(100).default(50), cursor: z.string().optional() }),
      responses: { 200: { description: 'A page of suppressed users', schema: z.object({ items: z.array(SuppressionSchema), nextCursor: z.string().nullable() }) } },
      errors: [400, 404],
      async handle({ query }) {
        const d = deps();
        const { wabaId, phoneNumberIds } = await d.business(query);
        return { status: 200, body: await d.suppressions.list(wabaId, { limit: query.limit, ...(query.cursor && { cursor: query.cursor }) }, phoneNumberIds) };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/suppressions',
      operationId: 'addSuppression',
      summary: "Adds a user to a business's suppression list: MARKETING broadcasts from any of its numbers skip them (201; 200 when they were on it already, with the first reason).",
      body: z.strictObject({ wabaId: WabaId, from: From, to: Phone }).meta({ id: 'AddSuppression' }),
      responses: { 201: { description: 'Added', schema: SuppressionSchema }, 200: { description: 'On the list already', schema: SuppressionSchema } },
      errors: [400, 404],
      async handle({ body }) {
        const d = deps();
        const { wabaId } = await d.business(body);
        const out = await d.suppressions.add(wabaId, body.to);
        return { status: out.created ? 201 : 200, body: out.suppression };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/v1/suppressions/{to}',
      operationId: 'removeSuppression',
      summary: "Removes a user from a business's suppression list (and from its numbers' own lists, kept by earlier versions).",
      params: z.object({ to: Phone }),
      query: z.object({ wabaId: WabaId, from: From }),
      responses: { 204: { description: 'Removed' } },
      errors: [400, 404],
      async handle({ params, query }) {
        const d = deps();
        const { wabaId, phoneNumberIds } = await d.business(query);
        await d.suppressions.remove(wabaId, params.to, phoneNumberIds);
        return { status: 204, body: null };
      },
    }),
  ];
}
