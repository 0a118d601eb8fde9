/** Quarantine replay (api-contract.md §4): an event stored after the fix of what kept it out. */
import * as z from 'zod';
import { replayQuarantined, type ReplayDeps } from '../../../shared/domain/replay-quarantined.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

const ReplaySchema = z
  .object({
    id: z.string().describe('The quarantine id.'),
    replayedAt: z.string().describe('When the replay that stored the event happened.'),
    messages: z.number().int().describe('Messages the event carried, now stored.'),
    statuses: z.number().int().describe('Statuses the event carried, now stored.'),
    accountEvents: z.number().int().describe('Account events the event carried, now stored.'),
    alreadyReplayed: z.boolean().describe('True when an earlier call replayed it and this one did nothing.'),
  })
  .meta({ id: 'QuarantineReplay' });

export function quarantineRoutes(deps: () => ReplayDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/quarantine/{id}/replay',
      operationId: 'replayQuarantined',
      summary:
        'Reprocesses a quarantined event through the inbound path, once (after a fix): a second call answers the first replay and stores nothing again. 422 when it still cannot be stored (the reason says why), 409 when its body was cut to fit the table.',
      params: z.object({ id: z.string().min(1) }),
      responses: { 200: { description: 'The replay that stored the event', schema: ReplaySchema } },
      errors: [404, 409, 422],
      async handle({ params }) {
        return { status: 200, body: await replayQuarantined(params.id, deps()) };
      },
    }),
  ];
}
