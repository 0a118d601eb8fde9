/** Calls an API handler with the proxy event API Gateway (REST, proxy integration) would send. */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';

export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

const context = { functionName: 'api', awsRequestId: 'req', getRemainingTimeInMillis: () => 10_000 } as unknown as Context;

export async function call(
  handler: ApiHandler,
  method: string,
  pathAndQuery: string,
  opts: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  const url = new URL(pathAndQuery, 'http://api.local');
  const query = Object.fromEntries(url.searchParams);
  const headers = { 'content-type': 'application/json', host: 'api.local', ...opts.headers };
  const event = {
    resource: '/{proxy+}',
    path: url.pathname,
    httpMethod: method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: Object.keys(query).length ? query : null,
    multiValueQueryStringParameters: Object.keys(query).length ? Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]])) : null,
    pathParameters: { proxy: url.pathname.slice(1) },
    stageVariables: null,
    requestContext: {
      accountId: '111122223333', apiId: 'local', httpMethod: method, path: url.pathname, stage: 'test', requestId: 'r',
      requestTimeEpoch: Date.now(), resourceId: 'x', resourcePath: '/{proxy+}', protocol: 'HTTP/1.1',
      identity: { sourceIp: '127.0.0.1', userAgent: 'test' },
    },
    body: opts.body === undefined ? null : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEvent;
  const res = await handler(event, context);
  const text = res.isBase64Encoded ? Buffer.from(res.body, 'base64').toString() : res.body;
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined, headers: { ...res.headers } };
}
