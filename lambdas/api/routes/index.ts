/** Every route of the API, and the OpenAPI document built from them. */
import type { MessageSender } from '../../../shared/domain/send-message.ts';
import { InternalError } from '../../../shared/domain/errors.ts';
import type { MessageQueries } from '../../../shared/ports/message-queries.ts';
import { buildAsyncApi } from '../asyncapi.ts';
import { buildOpenApi } from '../openapi.ts';
import { defineRoute, type AnyRoute } from '../route.ts';
import type { ReplayDeps } from '../../../shared/domain/replay-quarantined.ts';
import { mediaRoutes, type MediaApiDeps } from './media.ts';
import { quarantineRoutes } from './quarantine.ts';
import { readRoutes } from './read.ts';
import { sendRoutes } from './send.ts';
import { webhookRoutes, type WebhookApiDeps } from './webhooks.ts';
import { templateRoutes, type TemplateApiDeps } from './templates.ts';
import { broadcastRoutes } from './broadcasts.ts';
import type { Broadcasts } from '../../../shared/domain/broadcasts.ts';
import { suppressionRoutes, type SuppressionApiDeps } from './suppressions.ts';

export interface ApiDeps {
  queries: MessageQueries;
  now: () => number;
  /** Media routes' dependencies, built on first use; without them the media routes answer 500. */
  media?: () => MediaApiDeps;
  /** The send use case (`POST /v1/messages`, `POST /v1/messages/{id}/read`), built on first use; without it those routes answer 500. */
  sender?: () => MessageSender;
  /** Webhook routes' dependencies, built on first use; without them those routes answer 500. */
  webhooks?: () => WebhookApiDeps;
  /** Quarantine replay's dependencies (the inbound path's store and media queue), built on first use; without them that route answers 500. */
  replay?: () => ReplayDeps;
  /** Template routes' dependencies, built on first use; without them those routes answer 500. */
  templates?: () => TemplateApiDeps;
  /** The broadcast use cases, built on first use; without them those routes answer 500. */
  broadcasts?: () => Broadcasts;
  /** The suppression list, built on first use; without it those routes answer 500. */
  suppressions?: () => SuppressionApiDeps;
}

export function allRoutes(deps: ApiDeps): AnyRoute[] {
  const routes: AnyRoute[] = [
    ...readRoutes(deps),
    ...mediaRoutes({ media: () => required(deps.media, 'media') }),
    ...sendRoutes({ sender: () => required(deps.sender, 'send') }),
    ...webhookRoutes(() => required(deps.webhooks, 'webhook')),
    ...quarantineRoutes(() => required(deps.replay, 'quarantine replay')),
    ...templateRoutes(() => required(deps.templates, 'template')),
    ...broadcastRoutes(() => required(deps.broadcasts, 'broadcast')),
    ...suppressionRoutes(() => required(deps.suppressions, 'suppression')),
  ];
  const openapi: AnyRoute = {
    method: 'GET',
    path: '/v1/openapi.json',
    operationId: 'getOpenApi',
    summary: 'This document.',
    responses: { 200: { description: 'The OpenAPI 3.1 document' } },
    async handle() {
      return { status: 200, body: buildOpenApi([...routes, openapi]) };
    },
  };
  const asyncapi = defineRoute({
    method: 'GET',
    path: '/v1/asyncapi.json',
    operationId: 'getAsyncApi',
    summary: 'The AsyncAPI 3 document of the domain events (webhooks and the events topic).',
    responses: { 200: { description: 'The AsyncAPI 3 document' } },
    async handle() {
      return { status: 200, body: buildAsyncApi() };
    },
  });
  routes.push(asyncapi);
  return [...routes, openapi];
}

/** The OpenAPI document alone; building the route table calls no dependency. */
export function openApiDocument() {
  return buildOpenApi(allRoutes({} as ApiDeps));
}

function required<T>(make: (() => T) | undefined, what: string): T {
  if (!make) throw new InternalError('not_configured', `The ${what} routes are not configured in this deployment.`);
  return make();
}
