/**
 * The HTTP API (API Gateway REST proxy → this function). Locally, the same handler sits behind
 * a small HTTP server that makes the same proxy events.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { makeApi, matchRoute } from './app.ts';
import { allRoutes, type ApiDeps } from './routes/index.ts';
import { MetricTally } from '../../shared/metrics.ts';
import { logger } from '../../shared/observability.ts';
import { instrumented } from '../../shared/tracing.ts';
import { onFirstUse } from '../../shared/lazy.ts';

/** Path parameters that may be logged: `contactId` is a user's wa_id, a phone number. */
const LOGGED_PARAMS = new Set(['id', 'uploadId', 'phoneNumberId']);

/**
 * The API, counting the answers of `POST /v1/messages` by outcome, with one log line per request:
 * the route's pattern (never the path, which may hold a phone number), the answer's status and
 * error code, the ids of the path and, for a send, the new message's id. Never a body.
 */
export function makeHandler(deps: ApiDeps) {
  const routes = allRoutes(deps);
  const api = makeApi(routes);
  return async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    const started = performance.now();
    const result = await api(event, context);
    const send = event.httpMethod === 'POST' && /\/v1\/messages\/?$/.test(event.path);
    if (send) {
      new MetricTally().add('sends', result.statusCode < 400 ? 'accepted' : result.statusCode < 500 ? 'rejected' : 'error').publish();
    }
    const matched = matchRoute(event.httpMethod, (event.path ?? '').replace(/\/$/, '') || '/', routes);
    const body = result.statusCode >= 400 || send ? parseJson(result.body) : undefined;
    logger.info('request', {
      method: event.httpMethod,
      route: matched?.route.path ?? 'unmatched',
      status: result.statusCode,
      durationMs: Math.round(performance.now() - started),
      apiRequestId: event.requestContext?.requestId,
      ...(matched && { ids: Object.fromEntries(matched.params.filter(([name]) => LOGGED_PARAMS.has(name))) }),
      ...(send && typeof body?.id === 'string' && { messageId: body.id }),
      ...(result.statusCode >= 400 && { errorCode: (body?.error as { code?: unknown } | undefined)?.code }),
    });
    return result;
  };
}

function parseJson(text: string | undefined): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text ?? '');
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

// The adapters and SDK clients are imported on the first request (shared/lazy.ts).
const wired = onFirstUse(async () => makeHandler((await import('./wiring.ts')).apiDeps()));
export const handler = instrumented('api', async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> =>
  (await wired())(event, context));
