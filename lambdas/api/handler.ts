/**
 * The HTTP API (API Gateway REST proxy → this function). Locally, the same handler sits behind
 * a small HTTP server that makes the same proxy events.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { documentClient } from '../../shared/adapters/aws-clients.ts';
import { loadConfig } from '../../shared/config.ts';
import { makeApi } from './app.ts';
import { allRoutes, type ApiDeps } from './routes/index.ts';

export const makeHandler = (deps: ApiDeps) => makeApi(allRoutes(deps));

/** The Lambda's own wiring, built on first use (tests and the bench call makeHandler with theirs). */
function defaultDeps(): ApiDeps {
  const config = loadConfig(['TABLE_NAME']);
  const doc = documentClient();
  return { queries: new DynamoDbQueries(doc, config.TABLE_NAME), now: Date.now };
}

let wired: ReturnType<typeof makeHandler> | undefined;
export const handler = (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> =>
  (wired ??= makeHandler(defaultDeps()))(event, context);
