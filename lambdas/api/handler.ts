/**
 * The HTTP API (API Gateway REST proxy → this function). Locally, the same handler sits behind
 * a small HTTP server that makes the same proxy events.
 */
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { documentClient } from '../../shared/adapters/aws-clients.ts';
import { loadConfig } from '../../shared/config.ts';
import { makeApi } from './app.ts';
import { allRoutes, type ApiDeps } from './routes/index.ts';

export const makeHandler = (deps: ApiDeps) => makeApi(allRoutes(deps));

const config = loadConfig(['TABLE_NAME']);
const doc = documentClient();
export const handler = makeHandler({ queries: new DynamoDbQueries(doc, config.TABLE_NAME), now: Date.now });
