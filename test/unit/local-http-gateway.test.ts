import { request } from 'node:http';
import { Router } from '@aws-lambda-powertools/event-handler/http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../shared/resource-spec.ts';
import { startHttpGateway, type ApiHandler, type HttpGateway } from '../../local/http-gateway.ts';

describe('startHttpGateway', () => {
  const gateways: HttpGateway[] = [];

  async function gateway(handler: ApiHandler, extra: { maxBodyBytes?: number; timeoutSeconds?: number } = {}) {
    const g = await startHttpGateway({ port: 0, handler, ...extra });
    gateways.push(g);
    return g;
  }

  function recording(result: APIGatewayProxyResult = { statusCode: 200, body: '{}' }) {
    const seen: { event?: APIGatewayProxyEvent; context?: Context } = {};
    const handler: ApiHandler = async (event, context) => {
      seen.event = event;
      seen.context = context;
      return result;
    };
    return { seen, handler };
  }

  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.stop()));
  });

  it('turns a request into the REST API proxy event of a {proxy+} resource', async () => {
    // Prepare
    const { seen, handler } = recording();
    const g = await gateway(handler);

    // Act
    await fetch(`${g.url}/v1/messages/wamid.HBg%3D%3D/read?limit=5&tag=a&tag=b%20c`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'k-1' },
      body: '{"typingIndicator":true}',
    });

    // Assess
    const e = seen.event!;
    expect(e.resource).toBe('/{proxy+}');
    expect(e.path).toBe('/v1/messages/wamid.HBg%3D%3D/read');
    expect(e.httpMethod).toBe('POST');
    expect(e.pathParameters).toEqual({ proxy: 'v1/messages/wamid.HBg==/read' });
    expect(e.queryStringParameters).toEqual({ limit: '5', tag: 'b c' });
    expect(e.multiValueQueryStringParameters).toEqual({ limit: ['5'], tag: ['a', 'b c'] });
    expect(e.headers['Idempotency-Key']).toBe('k-1');
    expect(e.headers['Content-Type']).toBe('application/json');
    expect(e.multiValueHeaders['Idempotency-Key']).toEqual(['k-1']);
    expect(e.body).toBe('{"typingIndicator":true}');
    expect(e.isBase64Encoded).toBe(false);
    expect(e.stageVariables).toBeNull();
    expect(e.requestContext).toMatchObject({
      stage: 'local',
      httpMethod: 'POST',
      resourcePath: '/{proxy+}',
      path: '/local/v1/messages/wamid.HBg%3D%3D/read',
      identity: { sourceIp: '127.0.0.1' },
    });
    expect(e.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.context!.functionName).toBe('api');
    expect(seen.context!.getRemainingTimeInMillis()).toBeGreaterThan(28_000);
  });

  it('sends a GET without query or body with nulls where API Gateway puts nulls', async () => {
    // Prepare
    const { seen, handler } = recording();
    const g = await gateway(handler);

    // Act
    await fetch(`${g.url}/`);

    // Assess
    expect(seen.event).toMatchObject({
      resource: '/',
      path: '/',
      httpMethod: 'GET',
      pathParameters: null,
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      body: null,
      isBase64Encoded: false,
    });
  });

  it('passes a binary body base64-encoded', async () => {
    // Prepare
    const { seen, handler } = recording();
    const g = await gateway(handler);
    const bytes = Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x10]);

    // Act
    await fetch(`${g.url}/v1/upload`, { method: 'PUT', headers: { 'Content-Type': 'image/jpeg' }, body: bytes });

    // Assess
    expect(seen.event!.isBase64Encoded).toBe(true);
    expect(Buffer.from(seen.event!.body!, 'base64')).toEqual(bytes);
  });

  it('relays status, headers from both maps and the body of the result', async () => {
    // Prepare
    const { handler } = recording({
      statusCode: 202,
      headers: { 'Content-Type': 'application/json', 'X-Single': 'one' },
      multiValueHeaders: { 'Set-Cookie': ['a=1', 'b=2'] },
      body: '{"id":"msg_1","status":"accepted"}',
    });
    const g = await gateway(handler);

    // Act
    const res = await fetch(`${g.url}/v1/messages`, { method: 'POST', body: '{}' });

    // Assess
    expect(res.status).toBe(202);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-single')).toBe('one');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await res.json()).toEqual({ id: 'msg_1', status: 'accepted' });
  });

  it('decodes a base64 result body into bytes', async () => {
    // Prepare
    const bytes = Buffer.from([0, 1, 2, 250, 251]);
    const { handler } = recording({
      statusCode: 200,
      headers: { 'Content-Type': 'application/octet-stream' },
      body: bytes.toString('base64'),
      isBase64Encoded: true,
    });
    const g = await gateway(handler);

    // Act
    const res = await fetch(`${g.url}/file`);

    // Assess
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
  });

  it('serves a Powertools HTTP router unchanged, as the deployed API would', async () => {
    // Prepare
    const app = new Router();
    app.post('/v1/things/:id', async ({ params, req }) => ({
      id: params.id ?? null,
      q: new URL(req.url).searchParams.get('q'),
      key: req.headers.get('idempotency-key'),
      body: (await req.json()) as Record<string, number>,
    }));
    const g = await gateway((event, context) => app.resolve(event, context));

    // Act
    const res = await fetch(`${g.url}/v1/things/t-1?q=hello`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'k-9' },
      body: '{"a":1}',
    });

    // Assess
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 't-1', q: 'hello', key: 'k-9', body: { a: 1 } });
  });

  it('answers 413 in the error shape without calling the handler when the body is too large', async () => {
    // Prepare
    const { seen, handler } = recording();
    const g = await gateway(handler, { maxBodyBytes: 1024 });

    // Act
    const res = await fetch(`${g.url}/v1/messages`, { method: 'POST', body: 'x'.repeat(1025) });

    // Assess
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
    expect(seen.event).toBeUndefined();
  });

  it('by default passes a body of MAX_BODY_BYTES, the API limit of the resource spec, and refuses one byte more', async () => {
    // Prepare
    const { seen, handler } = recording();
    const g = await gateway(handler);

    // Act
    const atLimit = await fetch(`${g.url}/v1/messages`, { method: 'POST', body: 'x'.repeat(MAX_BODY_BYTES) });
    const passed = seen.event?.body?.length;
    const over = await fetch(`${g.url}/v1/messages`, { method: 'POST', body: 'x'.repeat(MAX_BODY_BYTES + 1) });

    // Assess
    expect(atLimit.status).toBe(200);
    expect(passed).toBe(MAX_BODY_BYTES);
    expect(over.status).toBe(413);
    expect(over.headers.get('connection')).toBe('close'); // the unread rest of the upload is not waited for
  });

  it('answers 413 to a chunked body that grows past the limit', async () => {
    // Prepare
    const { seen, handler } = recording();
    const g = await gateway(handler, { maxBodyBytes: 1024 });

    // Act
    const status = await new Promise<number>((done, fail) => {
      const req = request(`${g.url}/v1/messages`, { method: 'POST' }, (res) => {
        res.resume();
        done(res.statusCode ?? 0);
      });
      req.on('error', fail);
      for (let i = 0; i < 8; i++) req.write('y'.repeat(512)); // no Content-Length: chunked
      req.end();
    });

    // Assess
    expect(status).toBe(413);
    expect(seen.event).toBeUndefined();
  });

  it('answers 502 in the error shape, without the error text, when the handler throws', async () => {
    // Prepare
    const g = await gateway(async () => {
      throw new Error('secret detail');
    });

    // Act
    const res = await fetch(`${g.url}/v1/conversations`);

    // Assess
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(JSON.parse(text).error.code).toBe('bad_gateway');
    expect(text).not.toContain('secret detail');
  });

  it('answers 504 when the handler runs past its timeout', async () => {
    // Prepare
    const g = await gateway(() => new Promise(() => {}), { timeoutSeconds: 0.2 });

    // Act
    const res = await fetch(`${g.url}/v1/conversations`);

    // Assess
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('gateway_timeout');
  });
});
