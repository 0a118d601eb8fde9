/**
 * How the API answers errors that are not its own: only End User Messaging Social's exceptions
 * go through the AWS policy; DynamoDB's and S3's are a 503 when busy and a safe 500 otherwise; a
 * malformed path parameter is the caller's 400.
 */
import { DynamoDBClient, ProvisionedThroughputExceededException, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { ResourceNotFoundException as SocialResourceNotFoundException } from '@aws-sdk/client-socialmessaging';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { WhatsAppServiceError } from '../../shared/adapters/socialmessaging-errors.ts';
import { HTTP_STATUS_OF_KIND, httpStatusOf, toApiError } from '../../lambdas/api/http-errors.ts';
import { KIND_OF_LEGACY_STATUS } from '../../shared/adapters/dynamodb-outbound.ts';
import { makeHandler } from '../../lambdas/api/handler.ts';
import { call, type ApiHandler } from '../support/api.ts';
import { freshTable } from '../support/dynamodb.ts';

const ID = 'msg_0123456789abcdef0123456789abcdef';
const named = (name: string, message = 'failed') => Object.assign(new Error(message), { name });

describe('DynamoDB errors in a read route', () => {
  let missingTable: ApiHandler;
  let tableApi: ApiHandler;
  const offline = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const dynamo = mockClient(offline);

  beforeAll(async () => {
    const { doc, tableName } = await freshTable();
    missingTable = makeHandler({ queries: new DynamoDbQueries(doc, `${tableName}-gone`), now: Date.now });
    tableApi = makeHandler({ queries: new DynamoDbQueries(offline, 'table'), now: Date.now });
  });

  afterAll(() => dynamo.restore());

  it("answers 500 internal_error, not WhatsApp's 404, for DynamoDB's ResourceNotFoundException (a missing table)", async () => {
    const res = await call(missingTable, 'GET', `/v1/messages/${ID}`);
    expect(res.status).toBe(500);
    expect(res.body.error).toEqual({ code: 'internal_error', message: 'Internal error: the request could not be completed.' });
  });

  it.each([
    ['ResourceNotFoundException', new ResourceNotFoundException({ message: 'Requested resource not found', $metadata: {} }), 500, 'internal_error'],
    ['ValidationException', named('ValidationException', 'One or more parameter values were invalid'), 500, 'internal_error'],
    ['ProvisionedThroughputExceededException', new ProvisionedThroughputExceededException({ message: 'busy', $metadata: {} }), 503, 'store_unavailable'],
    ['ThrottlingException', named('ThrottlingException'), 503, 'store_unavailable'],
    ['RequestLimitExceeded', named('RequestLimitExceeded'), 503, 'store_unavailable'],
  ])('answers DynamoDB %s with %i %s, saying nothing of WhatsApp', async (_name, err, status, code) => {
    dynamo.reset();
    dynamo.onAnyCommand().rejects(err);
    const res = await call(tableApi, 'GET', `/v1/messages/${ID}`);
    expect([res.status, res.body.error.code]).toEqual([status, code]);
    expect(res.body.error.message).not.toMatch(/WhatsApp|phone number/);
  });
});

describe('toApiError', () => {
  it('maps End User Messaging Social exceptions by the AWS policy only when its adapters report them', () => {
    const fromWhatsApp = new WhatsAppServiceError(new SocialResourceNotFoundException({ message: 'no such number', $metadata: { httpStatusCode: 404 } }));
    const fromElsewhere = new SocialResourceNotFoundException({ message: 'no such number', $metadata: { httpStatusCode: 404 } });
    expect([httpStatusOf(toApiError(fromWhatsApp)), toApiError(fromWhatsApp).code]).toEqual([404, 'unknown_phone_number']);
    expect([httpStatusOf(toApiError(fromElsewhere)), toApiError(fromElsewhere).code]).toEqual([500, 'internal_error']);
  });

  it('answers 502 when End User Messaging Social never answered (network error, timeout)', () => {
    const e = toApiError(new WhatsAppServiceError(named('TimeoutError', 'socket hang up')));
    expect([httpStatusOf(e), e.code]).toEqual([502, 'upstream_error']);
  });

  it.each(['SlowDown', 'ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded'])(
    'answers a busy store (%s) with 503 store_unavailable',
    (name) => {
      const e = toApiError(named(name));
      expect([httpStatusOf(e), e.code]).toEqual([503, 'store_unavailable']);
    },
  );

  it.each(['NoSuchBucket', 'AccessDenied', 'ValidationException', 'ThrottledRequestException'])(
    'answers any other error of another service (%s) with a safe 500',
    (name) => {
      const e = toApiError(named(name, 'arn:aws:s3:::secret-bucket'));
      expect([httpStatusOf(e), e.code]).toEqual([500, 'internal_error']);
      expect(e.message).not.toContain('arn:');
    },
  );
});

describe('path parameters', () => {
  let api: ApiHandler;
  beforeAll(() => {
    api = makeHandler({ queries: new DynamoDbQueries(DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })), 'unused'), now: Date.now });
  });

  it.each([
    ['GET', '/v1/messages/%E0%A4%A', 'path.id'],
    ['GET', '/v1/messages/wamid.%ZZ', 'path.id'],
    ['POST', '/v1/messages/%/read', 'path.id'],
    ['GET', '/v1/conversations/phone-number-id-1/%C3%28/messages', 'path.contactId'],
    // The router takes a trailing slash as the same route (the API fuzz found a 500 there).
    ['GET', '/v1/messages/%E0%A4%A/', 'path.id'],
    ['DELETE', '/v1/templates/%ED%A0%80/', 'path.name'],
  ])('answers 400 validation_error for a malformed percent-encoding: %s %s', async (method, path, field) => {
    const res = await call(api, method, path);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_error', details: { path: field } });
  });

  it('decodes a path parameter exactly once', async () => {
    const offline = mockClient(DynamoDBDocumentClient);
    offline.onAnyCommand().resolves({});
    try {
      const res = await call(api, 'GET', `/v1/messages/${encodeURIComponent('wamid.100%25')}`);
      expect([res.status, res.body.error.code]).toEqual([404, 'message_not_found']);
      expect(res.body.error.message).toContain('wamid.100%25');
    } finally {
      offline.restore();
    }
  });
});

describe('HTTP statuses of the domain’s kinds of failure', () => {
  it('reads the status a send record kept before errors had a kind as the kind that answers with that very status', () => {
    for (const [status, kind] of Object.entries(KIND_OF_LEGACY_STATUS)) expect(HTTP_STATUS_OF_KIND[kind]).toBe(Number(status));
    expect(Object.keys(KIND_OF_LEGACY_STATUS)).toHaveLength(Object.keys(HTTP_STATUS_OF_KIND).length);
  });
});
