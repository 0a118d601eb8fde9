/**
 * A local stand-in for the deployed API Gateway REST API (one `{proxy+}` resource, Lambda proxy
 * integration): each HTTP request becomes the v1 proxy event the deployed handler receives, and the
 * handler's `APIGatewayProxyResult` becomes the HTTP response. One handler, two front doors.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { MAX_BODY_BYTES } from '../lib/resource-spec.ts';
import { keepAliveServerOptions } from './keep-alive.ts';
import { createLambdaContext, silentLogger, type LocalLogger } from './poller.ts';

export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface HttpGatewayOptions {
  readonly handler: ApiHandler;
  /** 0 picks a free port. @default 3000 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Larger request bodies get 413. @default MAX_BODY_BYTES of `lib/resource-spec.ts`, as the handler and the stack use */
  readonly maxBodyBytes?: number;
  /** The handler's timeout; a slower answer gets 504 like API Gateway's integration timeout. @default 29 */
  readonly timeoutSeconds?: number;
  /** @default 'local' */
  readonly stage?: string;
  /** @default 'api' */
  readonly functionName?: string;
  /** @default silentLogger */
  readonly logger?: LocalLogger;
  /**
   * Local pages served on the API's origin before the handler (the console): a request this
   * answers (resolves true) never reaches the handler.
   */
  readonly localRoutes?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
}

export interface HttpGateway {
  /** `http://host:port`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  stop(): Promise<void>;
}

/** Bodies API Gateway passes as text; everything else reaches the handler base64-encoded. */
function isTextual(contentType: string | undefined): boolean {
  if (!contentType) return true;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'application/xml' ||
    type.endsWith('+xml') ||
    type === 'application/x-www-form-urlencoded' ||
    type === 'application/javascript'
  );
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/** `dd/MMM/yyyy:HH:mm:ss +0000`, the format of `requestContext.requestTime`. */
function requestTime(d: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`
  );
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Reads the body, or resolves undefined as soon as it exceeds `limit` bytes. The rest of an
 * oversized body is read and dropped, so that the client gets to read the 413.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((done, fail) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      done(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        done(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) done(Buffer.concat(chunks));
    });
    req.on('error', fail);
  });
}

/** Builds the REST API (v1) proxy event for a request to a `/{proxy+}` resource. */
export function toProxyEvent(
  req: IncomingMessage,
  body: Buffer,
  opts: { stage: string; requestId: string; now: Date; port: number },
): APIGatewayProxyEvent {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;

  // Header names keep the client's casing, as in the deployed API.
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  const names = new Map<string, string>();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const raw = req.rawHeaders[i]!;
    const name = names.get(raw.toLowerCase()) ?? raw;
    names.set(raw.toLowerCase(), name);
    headers[name] = req.rawHeaders[i + 1]!;
    (multiValueHeaders[name] ??= []).push(req.rawHeaders[i + 1]!);
  }
  const sourceIp = req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1';
  const addDefault = (name: string, value: string) => {
    if (names.has(name.toLowerCase())) return;
    headers[name] = value;
    multiValueHeaders[name] = [value];
  };
  addDefault('X-Forwarded-For', sourceIp);
  addDefault('X-Forwarded-Port', String(opts.port));
  addDefault('X-Forwarded-Proto', 'http');

  let queryStringParameters: Record<string, string> | null = null;
  let multiValueQueryStringParameters: Record<string, string[]> | null = null;
  for (const [k, v] of url.searchParams) {
    (queryStringParameters ??= {})[k] = v;
    ((multiValueQueryStringParameters ??= {})[k] ??= []).push(v);
  }

  const proxy = path.replace(/^\/+/, '');
  const resource = proxy ? '/{proxy+}' : '/';
  const pathParameters = proxy ? { proxy: safeDecode(proxy) } : null;

  const contentType = req.headers['content-type'];
  const hasBody = body.length > 0;
  const text = isTextual(contentType);
  const userAgent = req.headers['user-agent'] ?? null;

  return {
    resource,
    path,
    httpMethod: (req.method ?? 'GET').toUpperCase(),
    headers,
    multiValueHeaders,
    queryStringParameters,
    multiValueQueryStringParameters,
    pathParameters,
    stageVariables: null,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      domainName: req.headers.host ?? `127.0.0.1:${opts.port}`,
      domainPrefix: (req.headers.host ?? '127').split('.')[0]!.split(':')[0]!,
      extendedRequestId: opts.requestId,
      httpMethod: (req.method ?? 'GET').toUpperCase(),
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp,
        user: null,
        userAgent,
        userArn: null,
      },
      path: `/${opts.stage}${path}`,
      protocol: `HTTP/${req.httpVersion}`,
      requestId: opts.requestId,
      requestTime: requestTime(opts.now),
      requestTimeEpoch: opts.now.getTime(),
      resourceId: 'local',
      resourcePath: resource,
      stage: opts.stage,
    },
    body: hasBody ? body.toString(text ? 'utf8' : 'base64') : null,
    isBase64Encoded: hasBody && !text,
  };
}

function isResult(r: unknown): r is APIGatewayProxyResult {
  return (
    typeof r === 'object' &&
    r !== null &&
    Number.isInteger((r as APIGatewayProxyResult).statusCode) &&
    ((r as APIGatewayProxyResult).body === undefined ||
      (r as APIGatewayProxyResult).body === null ||
      typeof (r as APIGatewayProxyResult).body === 'string')
  );
}

/** Writes a proxy result as API Gateway does: both header maps merged, base64 bodies decoded. */
function writeResult(res: ServerResponse, result: APIGatewayProxyResult, requestId: string): void {
  const merged = new Map<string, { name: string; values: string[] }>();
  const add = (name: string, value: unknown) => {
    const key = name.toLowerCase();
    const entry = merged.get(key) ?? { name, values: [] };
    merged.set(key, entry);
    const v = String(value);
    if (!entry.values.includes(v)) entry.values.push(v);
  };
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) {
    for (const v of values ?? []) add(name, v);
  }
  for (const [name, v] of Object.entries(result.headers ?? {})) {
    if (v !== undefined && v !== null) add(name, v);
  }
  if (!merged.has('content-type')) add('Content-Type', 'application/json');
  add('x-amzn-RequestId', requestId);

  const body = result.body
    ? result.isBase64Encoded
      ? Buffer.from(result.body, 'base64')
      : Buffer.from(result.body, 'utf8')
    : Buffer.alloc(0);
  res.statusCode = result.statusCode;
  for (const { name, values } of merged.values()) {
    if (name.toLowerCase() === 'content-length' || name.toLowerCase() === 'transfer-encoding') continue;
    res.setHeader(name, values.length === 1 ? values[0]! : values);
  }
  res.setHeader('Content-Length', body.length);
  res.end(body);
}

function writeError(res: ServerResponse, status: number, code: string, message: string, requestId: string): void {
  writeResult(res, { statusCode: status, headers: { 'Content-Type': 'application/json' }, body: errorBody(code, message) }, requestId);
}

/** Starts the gateway; resolves once it listens. */
export async function startHttpGateway(opts: HttpGatewayOptions): Promise<HttpGateway> {
  const logger = opts.logger ?? silentLogger;
  const stage = opts.stage ?? 'local';
  const maxBodyBytes = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const timeoutMs = (opts.timeoutSeconds ?? 29) * 1000;
  const functionName = opts.functionName ?? 'api';
  let port = 0;

  const server = createServer(keepAliveServerOptions, async (req, res) => {
    const requestId = randomUUID();
    const now = new Date();
    try {
      if (opts.localRoutes && (await opts.localRoutes(req, res))) return;
      const body = await readBody(req, maxBodyBytes);
      if (!body) {
        // The rest of the body is not wanted: close the connection instead of keeping it busy
        // while the client finishes uploading (it would also hold `stop()` up).
        res.setHeader('Connection', 'close');
        writeError(res, 413, 'payload_too_large', `The request body is larger than ${maxBodyBytes} bytes.`, requestId);
        return;
      }
      const event = toProxyEvent(req, body, { stage, requestId, now, port });
      const context = createLambdaContext({ functionName, timeoutMs });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((done) => (timer = setTimeout(() => done('timeout'), timeoutMs)));
      let result: unknown;
      try {
        result = await Promise.race([opts.handler(event, context), timeout]);
      } finally {
        clearTimeout(timer);
      }
      if (result === 'timeout') {
        logger.error('API handler timed out', { requestId, method: event.httpMethod, resource: event.resource });
        writeError(res, 504, 'gateway_timeout', 'The request took too long to process.', requestId);
        return;
      }
      if (!isResult(result)) {
        logger.error('API handler returned a malformed proxy result', { requestId, method: event.httpMethod });
        writeError(res, 502, 'bad_gateway', 'Internal server error.', requestId);
        return;
      }
      writeResult(res, result, requestId);
    } catch (err) {
      logger.error('API handler failed', {
        requestId,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
      if (!res.headersSent) writeError(res, 502, 'bad_gateway', 'Internal server error.', requestId);
      else res.destroy();
    }
  });

  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 3000, opts.host ?? '127.0.0.1', () => {
      server.off('error', fail);
      done();
    });
  });
  const addr = server.address() as AddressInfo;
  port = addr.port;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${port}`,
    port,
    server,
    stop: () =>
      new Promise<void>((done, fail) => {
        server.close((err) => (err ? fail(err) : done()));
        server.closeIdleConnections();
      }),
  };
}
