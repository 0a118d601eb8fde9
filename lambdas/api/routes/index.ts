/** Every route of the API, and the OpenAPI document built from them. */
import type { DynamoDbQueries } from '../../../shared/adapters/dynamodb-queries.ts';
import { buildOpenApi } from '../openapi.ts';
import type { RouteDef } from '../route.ts';
import { readRoutes } from './read.ts';

export interface ApiDeps {
  queries: DynamoDbQueries;
  now: () => number;
}

export function allRoutes(deps: ApiDeps): RouteDef[] {
  const routes: RouteDef[] = [...readRoutes(deps)];
  const openapi: RouteDef = {
    method: 'GET',
    path: '/v1/openapi.json',
    operationId: 'getOpenApi',
    summary: 'This document.',
    responses: { 200: { description: 'The OpenAPI 3.1 document' } },
    async handle() {
      return { status: 200, body: buildOpenApi([...routes, openapi]) };
    },
  };
  return [...routes, openapi];
}

/** The OpenAPI document alone; building the route table calls no dependency. */
export function openApiDocument() {
  return buildOpenApi(allRoutes({} as ApiDeps));
}
