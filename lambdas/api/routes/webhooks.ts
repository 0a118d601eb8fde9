/** Webhook routes (api-contract.md §4): register, list, show, delete, rotate, deliveries, replay. */
import * as z from 'zod';
import { NotFoundError } from '../../../shared/domain/errors.ts';
import { replayParked } from '../../../shared/domain/deliver-webhooks.ts';
import {
  checkWebhookUrl,
  CreateWebhookSchema,
  DeliverySchema,
  newWebhookId,
  newWebhookSecret,
  WebhookSchema,
  WebhookWithSecretSchema,
  type StoredWebhook,
  type UrlPolicy,
  type Webhook,
} from '../../../shared/domain/webhooks.ts';
import type { RetryQueue, SecretCipher, WebhookStore } from '../../../shared/ports/webhooks.ts';
import { pageOf } from '../../../shared/domain/resources.ts';
import { defineRoute, type AnyRoute } from '../route.ts';

export interface WebhookApiDeps {
  webhooks: WebhookStore;
  secrets: SecretCipher;
  retries: RetryQueue;
  urlPolicy: UrlPolicy;
  now: () => number;
}

/** How long a rotated-out secret still signs deliveries, beside the new one. */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 3600 * 1000;

const IdParam = z.object({ id: z.string().min(1) });
const publicOf = (w: StoredWebhook): Webhook => ({ id: w.id, url: w.url, events: w.events, description: w.description, createdAt: w.createdAt });
const notFound = (id: string) => new NotFoundError(`No webhook has the id ${id.length > 80 ? `${id.slice(0, 80)}…` : id}.`, 'webhook_not_found');
/** Ids are `wh_` + 32 hex: anything else names no webhook, and never reaches the table as a key. */
const WEBHOOK_ID = /^wh_[0-9a-f]{32}$/;
const known = (id: string): string => {
  if (!WEBHOOK_ID.test(id)) throw notFound(id);
  return id;
};

export function webhookRoutes(deps: () => WebhookApiDeps): AnyRoute[] {
  const found = async (id: string) => {
    const w = await deps().webhooks.get(known(id));
    if (!w) throw notFound(id);
    return w;
  };
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/webhooks',
      operationId: 'createWebhook',
      summary: 'Registers an endpoint for the domain events. The secret (whsec_…) is answered only here: deliveries are signed with it (Standard Webhooks).',
      body: CreateWebhookSchema,
      responses: { 201: { description: 'The webhook and its signing secret', schema: WebhookWithSecretSchema } },
      errors: [400],
      async handle({ body }) {
        const d = deps();
        const url = await checkWebhookUrl(body.url, d.urlPolicy);
        const id = newWebhookId();
        const secret = newWebhookSecret();
        const webhook: StoredWebhook = {
          id,
          url: url.toString(),
          events: body.events ? [...new Set(body.events)] : ['*'],
          description: body.description ?? null,
          createdAt: new Date(d.now()).toISOString(),
          secretCiphertext: await d.secrets.encrypt(secret, id),
        };
        await d.webhooks.create(webhook);
        return { status: 201, body: { ...publicOf(webhook), secret } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/webhooks',
      operationId: 'listWebhooks',
      summary: 'Registered webhooks, oldest first (secrets are never shown).',
      responses: { 200: { description: 'Every webhook', schema: pageOf(WebhookSchema, 'WebhookPage') } },
      async handle() {
        return { status: 200, body: { items: (await deps().webhooks.list()).map(publicOf), nextCursor: null } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/webhooks/{id}',
      operationId: 'getWebhook',
      summary: 'One webhook.',
      params: IdParam,
      responses: { 200: { description: 'The webhook', schema: WebhookSchema } },
      errors: [404],
      async handle({ params }) {
        return { status: 200, body: publicOf(await found(params.id)) };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/v1/webhooks/{id}',
      operationId: 'deleteWebhook',
      summary: 'Deletes a webhook: nothing more is delivered to it, jobs already queued included.',
      params: IdParam,
      responses: { 204: { description: 'Deleted' } },
      errors: [404],
      async handle({ params }) {
        if (!(await deps().webhooks.delete(known(params.id)))) throw notFound(params.id);
        return { status: 204, body: null };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/webhooks/{id}/rotate-secret',
      operationId: 'rotateWebhookSecret',
      summary: 'A new signing secret, answered once; the previous one also signs deliveries for 24 hours.',
      params: IdParam,
      responses: { 200: { description: 'The webhook and its new secret', schema: WebhookWithSecretSchema } },
      errors: [404],
      async handle({ params }) {
        const d = deps();
        const secret = newWebhookSecret();
        const updated = await d.webhooks.rotateSecret(known(params.id), await d.secrets.encrypt(secret, params.id), d.now() + PREVIOUS_SECRET_GRACE_MS);
        if (!updated) throw notFound(params.id);
        return { status: 200, body: { ...publicOf(updated), secret } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/v1/webhooks/{id}/deliveries',
      operationId: 'listWebhookDeliveries',
      summary: 'Recent delivery attempts (7 days), newest first.',
      params: IdParam,
      query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(50), cursor: z.string().optional() }),
      responses: { 200: { description: 'Attempts', schema: pageOf(DeliverySchema, 'WebhookDeliveryPage') } },
      errors: [400, 404],
      async handle({ params, query }) {
        await found(params.id);
        return { status: 200, body: await deps().webhooks.listDeliveries(params.id, query.limit, query.cursor) };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/v1/webhooks/{id}/replay',
      operationId: 'replayWebhook',
      summary: "Delivers this webhook's parked jobs (those that failed for more than 24 hours) again, from the first attempt.",
      params: IdParam,
      responses: { 202: { description: 'How many jobs were put back in line', schema: z.object({ replayed: z.number().int() }) } },
      errors: [404],
      async handle({ params }) {
        await found(params.id);
        return { status: 202, body: { replayed: await replayParked(params.id, deps()) } };
      },
    }),
  ];
}
