/**
 * Every refusal of the local gateway comes with a status and the API's JSON error body, and
 * without a reset: long URLs, large headers, methods and requests the HTTP parser cannot take,
 * oversize bodies. Raw sockets, so that nothing in a client library hides what the server did.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../shared/resource-spec.ts';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { makeHandler } from '../../lambdas/api/handler.ts';
import { MAX_HEADER_BYTES, MAX_URL_BYTES, startHttpGateway, type HttpGateway } from '../../local/http-gateway.ts';
import { freshTable } from '../support/dynamodb.ts';

let g: HttpGateway;

beforeAll(async () => {
  const { doc, tableName } = await freshTable();
  g = await startHttpGateway({ port: 0, handler: makeHandler({ queries: new DynamoDbQueries(doc, tableName), now: Date.now }) });
});
afterAll(() => g.stop());

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The socket error seen, if any (ECONNRESET, EPIPE…). */
  error?: string;
  /** Parts fully written before the answer was in. */
  written: number;
}

/** Parses a raw HTTP/1.1 answer; undefined until the head and the whole body (Content-Length) are in. */
function parseReply(bytes: Buffer): Omit<RawReply, 'error' | 'written'> | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  const body = bytes.subarray(end + 4);
  if (body.length < Number(headers['content-length'] ?? 0)) return undefined;
  return { status: Number(statusLine.split(' ')[1]), headers, body: body.toString('utf8') };
}

/**
 * Sends raw bytes (in chunks, as a slow client would) and reads the answer. The client never
 * half-closes: it stops when the whole answer is in or the server closes, and reports any socket
 * error it saw while sending or reading (ECONNRESET, EPIPE…).
 */
function raw(parts: Array<string | Buffer>): Promise<RawReply> {
  return new Promise((done) => {
    const socket = connect(g.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let finished = false;
    let written = 0;
    const finish = () => {
      if (finished) return;
      finished = true;
      const reply = parseReply(Buffer.concat(chunks)) ?? { status: Number.NaN, headers: {}, body: '' };
      socket.destroy();
      done({ ...reply, written, ...(error && { error }) });
    };
    socket.on('data', (c) => {
      chunks.push(c);
      if (parseReply(Buffer.concat(chunks))) finish();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', finish);
    socket.on('connect', async () => {
      for (const p of parts) {
        if (socket.destroyed || finished) break;
        await new Promise<void>((ok) => socket.write(p, () => ok()));
        written++;
      }
    });
  });
}

const expectJsonError = (r: RawReply, status: number, code: string) => {
  expect(r.error).toBeUndefined();
  expect(r.status).toBe(status);
  expect(r.headers['content-type']).toBe('application/json');
  expect(JSON.parse(r.body)).toEqual({ error: { code, message: expect.any(String) } });
};

describe('local gateway refusals', () => {
  it('answers 414 with the JSON error to a URL over its limit', async () => {
    const r = await raw([`GET /v1/messages/${'a'.repeat(MAX_URL_BYTES)} HTTP/1.1\r\nHost: x\r\n\r\n`]);
    expectJsonError(r, 414, 'uri_too_long');
  });

  it('answers 414, not a reset, to a URL over 16 KB and past the parser limit too', async () => {
    const r = await raw([`GET /v1/messages/${'a'.repeat(100 * 1024)}`, ' HTTP/1.1\r\nHost: x\r\n\r\n']);
    expectJsonError(r, 414, 'uri_too_long');
  });

  it('answers 431 with the JSON error to large headers', async () => {
    const r = await raw([`GET /v1/conversations HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(MAX_HEADER_BYTES)}\r\n\r\n`]);
    expectJsonError(r, 431, 'request_header_fields_too_large');
  });

  it('answers 431 to headers past the parser limit', async () => {
    const many = Array.from({ length: 200 }, (_, i) => `X-H${i}: ${'c'.repeat(400)}\r\n`).join('');
    const r = await raw([`GET /v1/conversations HTTP/1.1\r\nHost: x\r\n`, many, '\r\n']);
    expectJsonError(r, 431, 'request_header_fields_too_large');
  });

  it.each(['FOO', 'BREW'])('answers 405 with the JSON error to the unknown method %s', async (method) => {
    const r = await raw([`${method} /v1/conversations HTTP/1.1\r\nHost: x\r\n\r\n`]);
    expectJsonError(r, 405, 'method_not_allowed');
  });

  it('answers 405 with the JSON error to CONNECT', async () => {
    const r = await raw(['CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n']);
    expectJsonError(r, 405, 'method_not_allowed');
  });

  it('answers 405 with the JSON error to a known method a route does not take', async () => {
    const r = await raw(['DELETE /v1/conversations HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    expect([404, 405]).toContain(r.status);
    expect(JSON.parse(r.body).error.code).toMatch(/method_not_allowed|route_not_found/);
  });

  it.each([
    ['a request line that is not HTTP', 'GET /v1/conversations SPDY/3\r\n\r\n'],
    ['a header without a colon', 'GET /v1/conversations HTTP/1.1\r\nHost: x\r\nbroken header\r\n\r\n'],
    ['a bad Content-Length', 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'],
    ['two Content-Lengths', 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
    ['a bad chunk size', 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
  ])('answers 400 with the JSON error to %s', async (_, request) => {
    const r = await raw([request]);
    expectJsonError(r, 400, 'bad_request');
  });

  it('answers 400 with the JSON error to a request target that is not a path', async () => {
    const r = await raw(['GET //[::1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    expectJsonError(r, 400, 'bad_request');
  });

  it('answers a header or query parameter named __proto__ like any other, never 5xx', async () => {
    const r = await raw(['GET /v1/conversations?__proto__=1&constructor=2 HTTP/1.1\r\nHost: x\r\n__proto__: a\r\n__proto__: b\r\nConnection: close\r\n\r\n']);
    expect(r.status).toBe(200);
  });

  it('reads a 5.9 MB body to its end and answers 413 with the JSON error, without EPIPE or reset', async () => {
    const size = Math.round(5.9 * 1024 * 1024);
    const head = `POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const parts: Array<string | Buffer> = [head];
    for (let sent = 0; sent < size; sent += chunk.length) parts.push(chunk.subarray(0, Math.min(chunk.length, size - sent)));
    const r = await raw(parts);
    expect(size).toBeGreaterThan(MAX_BODY_BYTES);
    expectJsonError(r, 413, 'payload_too_large');
    expect(r.written).toBe(parts.length); // the whole upload was taken before the answer
  });

  it('answers 413 to a chunked body past the limit, without reset', async () => {
    const piece = 'y'.repeat(256 * 1024);
    const chunked = `${piece.length.toString(16)}\r\n${piece}\r\n`;
    const parts = ['POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', ...Array(30).fill(chunked), '0\r\n\r\n'];
    const r = await raw(parts);
    expectJsonError(r, 413, 'payload_too_large');
    expect(r.written).toBe(parts.length);
  });
});
