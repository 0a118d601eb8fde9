/**
 * The HTTP API: Powertools' router over a table of routes. It validates parameters, query and
 * body with each route's zod schemas, and answers every error in the contract's shape
 * (`{"error": {code, message, details?}}`) with a stable code; 5xx answers carry a safe message.
 */
import { ParameterValidationError, Router } from '@aws-lambda-powertools/event-handler/http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { z } from 'zod';
import { ApiError, fieldPath, NotFoundError, ValidationError } from '../../shared/domain/errors.ts';
import { HttpRefusal, httpStatusOf, toApiError, toErrorBody } from './http-errors.ts';
import { logger, safeError } from '../../shared/observability.ts';
import { MAX_BODY_BYTES } from '../../shared/resource-spec.ts';
import type { AnyRoute, RouteRequest, RouteResponse } from './route.ts';

const JSON_HEADERS = { 'content-type': 'application/json' };

function json(res: RouteResponse): Response {
  return new Response(res.status === 204 ? null : JSON.stringify(res.body), {
    status: res.status,
    headers: { ...JSON_HEADERS, ...res.headers },
  });
}

function errorResponse(err: unknown): Response {
  const e = toApiError(err);
  const status = httpStatusOf(e);
  if (status >= 500) logger.error('request failed', { code: e.code, error: safeError(err) });
  const headers: Record<string, string> = {};
  const retryAfter = (e as ApiError & { retryAfterSeconds?: number }).retryAfterSeconds;
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
  return json({ status, body: toErrorBody(e), headers });
}

/**
 * The path of the first string (value or key) in `value` that is not well-formed UTF-16 (a lone
 * surrogate, which JSON's `\ud800` escapes can carry): it could not be sent to WhatsApp or stored.
 */
function illFormedAt(value: unknown, path: PropertyKey[] = [], depth = 0): PropertyKey[] | undefined {
  if (typeof value === 'string') return value.isWellFormed() ? undefined : path;
  if (typeof value !== 'object' || value === null || depth > 64) return undefined;
  for (const [k, v] of Object.entries(value)) {
    const at = Array.isArray(value) ? Number(k) : k;
    if (!k.isWellFormed()) return [...path, at];
    const found = illFormedAt(v, [...path, at], depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** Refuses a value holding a lone surrogate anywhere, naming where. */
function refuseIllFormed(value: unknown, where: string): void {
  const illFormed = illFormedAt(value);
  if (illFormed) {
    const path = fieldPath([where, ...illFormed]);
    throw new ValidationError(`${path}: must be well-formed Unicode (it holds a lone UTF-16 surrogate)`, { path });
  }
}

function validate<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.infer<T> | undefined {
  if (!schema) return undefined;
  refuseIllFormed(value, where);
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = fieldPath([where, ...issue.path, ...(issue.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : [])]);
  throw new ValidationError(`${path}: ${issue.message}`, { path });
}

/**
 * The route whose pattern a path fits, with each `{name}` of the pattern and the raw segment in
 * its place (not decoded: the router decodes, and refuses what it cannot).
 */
export function matchRoute(method: string, pathname: string, routes: readonly AnyRoute[]): { route: AnyRoute; params: Array<[string, string]> } | undefined {
  // The router serves `/v1/messages/x/` as `/v1/messages/x`: so does the match.
  const segments = (pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname).split('/');
  for (const route of routes) {
    const pattern = route.path.split('/');
    if (route.method !== method || pattern.length !== segments.length) continue;
    const names = pattern.map((p, i) => (/^\{\w+\}$/.test(p) ? p.slice(1, -1) : p === segments[i] ? '' : undefined));
    if (names.includes(undefined)) continue;
    return { route, params: names.flatMap((name, i) => (name ? [[name, segments[i]!] as [string, string]] : [])) };
  }
  return undefined;
}

/**
 * The router percent-decodes path parameters itself, and throws URIError on a malformed escape
 * (`%E0%A4%A`): the caller's 400. This finds which parameter of the matching route it was.
 */
function malformedParam(method: string, pathname: string, routes: AnyRoute[]): string | undefined {
  return matchRoute(method, pathname, routes)?.params.find(([, raw]) => !decodes(raw))?.[0];
}

function decodes(s: string): boolean {
  try {
    decodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
}

async function readBody(req: Request, route: AnyRoute): Promise<unknown> {
  if (!route.body) return undefined;
  const text = await req.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw new HttpRefusal(413, 'payload_too_large', `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
  }
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('invalid', 'invalid_json', 'The request body is not valid JSON.');
  }
}

/** Path `/v1/messages/{id}` → router pattern `/v1/messages/:id`. */
export const routerPath = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');

export function makeApi(routes: AnyRoute[]) {
  const router = new Router();
  for (const route of routes) {
    const register = {
      GET: router.get.bind(router),
      POST: router.post.bind(router),
      PUT: router.put.bind(router),
      DELETE: router.delete.bind(router),
    }[route.method];
    register(routerPath(route.path) as `/${string}`, async (ctx) => {
      try {
        const url = new URL(ctx.req.url);
        const headers = Object.fromEntries([...ctx.req.headers.entries()].map(([k, v]) => [k.toLowerCase(), v]));
        const params = ctx.params;
        const request: RouteRequest = {
          params: (validate(route.params, params, 'path') as Record<string, string>) ?? params,
          query: (validate(route.query, Object.fromEntries(url.searchParams), 'query') as RouteRequest['query']) ?? {},
          headers: (validate(route.headers, headers, 'header') as RouteRequest['headers']) ?? headers,
          body: undefined,
        };
        const raw = await readBody(ctx.req, route);
        if (route.parseBody) refuseIllFormed(raw, 'body');
        request.body = route.parseBody ? route.parseBody(raw) : route.body ? validate(route.body, raw, 'body') : undefined;
        return json(await route.handle(request));
      } catch (err) {
        return errorResponse(err);
      }
    });
  }
  router.notFound(async () => errorResponse(new NotFoundError('No such route. See GET /v1/openapi.json for the routes of this API.', 'route_not_found')));
  router.methodNotAllowed(async () => errorResponse(new HttpRefusal(405, 'method_not_allowed', 'This route does not accept that method.')));
  router.errorHandler(URIError, async (err, ctx) => {
    const name = malformedParam(ctx.req.method, new URL(ctx.req.url).pathname, routes);
    if (name === undefined) return errorResponse(err);
    return errorResponse(new ValidationError(`path.${name}: not a valid percent-encoded value`, { path: `path.${name}` }));
  });
  // The router refuses a path parameter that is empty or only whitespace (`%20`, `%0A`) before
  // any route runs: the caller's 400, naming the parameter.
  router.errorHandler(ParameterValidationError, async (err) => {
    const name = /Parameter '(\w+)'/.exec(err.issues[0] ?? '')?.[1];
    const path = name === undefined ? 'path' : `path.${name}`;
    return errorResponse(new ValidationError(`${path}: must not be empty or only whitespace`, { path }));
  });
  router.errorHandler(Error, async (err) => errorResponse(err));

  return async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    let result: APIGatewayProxyResult;
    // API Gateway passes the body of a GET or HEAD on; a web Request cannot carry one, and no
    // route of those methods reads a body: it is dropped rather than failing the request.
    const bodiless = (event.httpMethod === 'GET' || event.httpMethod === 'HEAD') && event.body != null ? { ...event, body: null, isBase64Encoded: false } : event;
    try {
      result = (await router.resolve(bodiless, context)) as APIGatewayProxyResult;
    } catch (err) {
      // The router builds a URL from the path and the Host header before any route runs: a path
      // such as `//[::1` or a Host that is no host name is the caller's 400, not a crash.
      const e = (err as { code?: unknown }).code === 'ERR_INVALID_URL'
        ? new ApiError('invalid', 'bad_request', 'The request path or Host header is not valid.')
        : err;
      return proxyError(e);
    }
    // A refusal the router answers by itself (a method it does not know) gets the error body too.
    if (result.statusCode >= 400 && !result.body) {
      return proxyError(new HttpRefusal(result.statusCode, result.statusCode === 405 ? 'method_not_allowed' : 'bad_request', 'This request cannot be served.'));
    }
    return result;
  };
}

/** An error as a proxy result in the contract's shape, for answers made outside the router. */
function proxyError(err: unknown): APIGatewayProxyResult {
  const e = toApiError(err);
  const statusCode = httpStatusOf(e);
  if (statusCode >= 500) logger.error('request failed', { code: e.code, error: safeError(err) });
  return { statusCode, headers: JSON_HEADERS, body: JSON.stringify(toErrorBody(e)), isBase64Encoded: false };
}
