/**
 * A local stand-in for the deployed API Gateway REST API (one `{proxy+}` resource, Lambda proxy
 * integration): each HTTP request becomes the v1 proxy event the deployed handler receives, and the
 * handler's `APIGatewayProxyResult` becomes the HTTP response. One handler, two front doors.
 */
import { randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { MAX_BODY_BYTES } from '../shared/resource-spec.ts';
import { keepAliveServerOptions } from './keep-alive.ts';
import { createLambdaContext, silentLogger, type LocalLogger } from './poller.ts';

export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface HttpGatewayOptions {
  readonly handler: ApiHandler;
  /** 0 picks a free port. @default 3000 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Larger request bodies get 413. @default MAX_BODY_BYTES of `shared/resource-spec.ts`, as the handler and the stack use */
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

/** The longest URL the gateway takes (API Gateway's request line limit); longer gets 414. */
export const MAX_URL_BYTES = 8192;
/** The most header bytes (names and values) the gateway takes; more gets 431. */
export const MAX_HEADER_BYTES = 10_240;
/** What Node's parser buffers before it gives up on a request head: well above both limits above. */
const PARSER_MAX_HEADER_BYTES = 64 * 1024;
/** An oversized body is read and dropped up to here before its 413, so the client is not reset. */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
/** How long a refused connection is kept reading what the client still sends, before it is closed. */
const LINGER_MS = 2000;

/** Refusals of requests Node's parser cannot take, by its error code. */
function refusalOf(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): { status: number; code: string; message: string } {
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    // Past the parser's limit with no end of the request line yet: the URL itself is too long.
    const head = err.rawPacket?.subarray(0, MAX_URL_BYTES + 64).toString('latin1') ?? '';
    if (!head.includes('\r\n')) return { status: 414, code: 'uri_too_long', message: `The URL is longer than ${MAX_URL_BYTES} bytes.` };
    return { status: 431, code: 'request_header_fields_too_large', message: `The request headers are larger than ${MAX_HEADER_BYTES} bytes.` };
  }
  if (err.code === 'HPE_INVALID_METHOD') {
    return { status: 405, code: 'method_not_allowed', message: 'This API does not accept that method.' };
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT') {
    return { status: 408, code: 'request_timeout', message: 'The request was not received in time.' };
  }
  return { status: 400, code: 'bad_request', message: 'The request is not valid HTTP.' };
}

const refused = new WeakSet<Socket>();

/**
 * Answers on a raw socket (the parser gave up on the request, or a CONNECT): status and the API's
 * JSON error body, then a half-close. What the client still sends is read and dropped for a while,
 * so closing does not reset the connection under the client's feet.
 */
function refuseOnSocket(socket: Socket, status: number, code: string, message: string): void {
  // The parser may report more errors on the bytes that follow: the first answer stands.
  if (socket.destroyed || refused.has(socket)) return;
  refused.add(socket);
  const body = errorBody(code, message);
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
        'Content-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `x-amzn-RequestId: ${randomUUID()}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.on('error', () => {});
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/** Bytes of the request's header names and values, as API Gateway counts them. */
function headerBytes(req: IncomingMessage): number {
  let n = 0;
  for (const part of req.rawHeaders) n += Buffer.byteLength(part);
  return n;
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
 * Reads the body, or resolves undefined when it exceeds `limit` bytes. The rest of an oversized
 * body is read and dropped before that (up to DRAIN_MAX_BYTES), so that the client finishes its
 * upload and reads the 413, instead of an EPIPE or a reset.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = Number(req.headers['content-length']) > limit;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > DRAIN_MAX_BYTES) {
        req.pause();
        done(undefined);
        return;
      }
      if (over) return;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => done(over ? undefined : Buffer.concat(chunks)));
    req.on('error', fail);
  });
}

/**
 * The request target as a URL: an origin-form path taken as it is (`//x` is the path `//x`, not
 * the host `x`), an absolute-form URL as given; undefined for a target that is neither.
 */
export function requestUrl(target: string | undefined): URL | undefined {
  const t = target ?? '/';
  const candidate = t.startsWith('/') ? `http://localhost${t}` : t;
  return URL.canParse(candidate) ? new URL(candidate) : undefined;
}

/** Builds the REST API (v1) proxy event for a request to a `/{proxy+}` resource. */
export function toProxyEvent(
  req: IncomingMessage,
  body: Buffer,
  opts: { stage: string; requestId: string; now: Date; port: number },
): APIGatewayProxyEvent {
  const url = requestUrl(req.url) ?? new URL('http://localhost/');
  const path = url.pathname;

  // Header names keep the client's casing, as in the deployed API.
  // Maps, not object literals: a header or parameter named `__proto__` is just a name.
  const headerMap = new Map<string, string>();
  const multiHeaderMap = new Map<string, string[]>();
  const names = new Map<string, string>();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const raw = req.rawHeaders[i]!;
    const name = names.get(raw.toLowerCase()) ?? raw;
    names.set(raw.toLowerCase(), name);
    headerMap.set(name, req.rawHeaders[i + 1]!);
    multiHeaderMap.set(name, [...(multiHeaderMap.get(name) ?? []), req.rawHeaders[i + 1]!]);
  }
  const sourceIp = req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1';
  const addDefault = (name: string, value: string) => {
    if (names.has(name.toLowerCase())) return;
    headerMap.set(name, value);
    multiHeaderMap.set(name, [value]);
  };
  addDefault('X-Forwarded-For', sourceIp);
  addDefault('X-Forwarded-Port', String(opts.port));
  addDefault('X-Forwarded-Proto', 'http');
  const headers: Record<string, string> = Object.fromEntries(headerMap);
  const multiValueHeaders: Record<string, string[]> = Object.fromEntries(multiHeaderMap);

  const queryMap = new Map<string, string[]>();
  for (const [k, v] of url.searchParams) queryMap.set(k, [...(queryMap.get(k) ?? []), v]);
  const queryStringParameters: Record<string, string> | null = queryMap.size
    ? Object.fromEntries([...queryMap].map(([k, vs]) => [k, vs.at(-1)!]))
    : null;
  const multiValueQueryStringParameters: Record<string, string[]> | null = queryMap.size ? Object.fromEntries(queryMap) : null;

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

  const server = createServer({ ...keepAliveServerOptions, maxHeaderSize: PARSER_MAX_HEADER_BYTES }, async (req, res) => {
    const requestId = randomUUID();
    const now = new Date();
    // A refusal after the body is read and dropped, so the client is not reset mid-upload.
    const refuse = async (status: number, code: string, message: string) => {
      await readBody(req, 0).catch(() => undefined);
      res.setHeader('Connection', 'close');
      writeError(res, status, code, message, requestId);
    };
    try {
      if (Buffer.byteLength(req.url ?? '') > MAX_URL_BYTES) {
        await refuse(414, 'uri_too_long', `The URL is longer than ${MAX_URL_BYTES} bytes.`);
        return;
      }
      if (requestUrl(req.url) === undefined) {
        await refuse(400, 'bad_request', 'The request target is not a valid path.');
        return;
      }
      if (headerBytes(req) > MAX_HEADER_BYTES) {
        await refuse(431, 'request_header_fields_too_large', `The request headers are larger than ${MAX_HEADER_BYTES} bytes.`);
        return;
      }
      if (opts.localRoutes && (await opts.localRoutes(req, res))) return;
      const body = await readBody(req, maxBodyBytes);
      if (!body) {
        // The body was read and dropped: close the connection rather than keep it for more.
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

  // Requests the parser cannot take get a status and the JSON error body too, as API Gateway's do.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const r = refusalOf(err);
    refuseOnSocket(socket, r.status, r.code, r.message);
  });
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    refuseOnSocket(socket, 405, 'method_not_allowed', 'This API does not accept that method.');
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
