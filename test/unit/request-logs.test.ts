import type { Context } from 'aws-lambda';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import { logger } from '../../shared/observability.ts';
import { makeHandler as makeInbound } from '../../lambdas/inbound/handler.ts';
import { makeHandler as makeApiHandler } from '../../lambdas/api/handler.ts';
import { call, type ApiHandler } from '../support/api.ts';
import { freshTable } from '../support/dynamodb.ts';
import { entryOf, eumFixture, snsNotification, sqsEvent } from '../support/events.ts';

const context = { functionName: 'f', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;
const PHONE = '16505551234';
const BODY = 'Does it come in another color?';

let store: DynamoDbStore;
let api: ApiHandler;
let lines: Array<Record<string, unknown>>;

beforeAll(async () => {
  const { doc, tableName } = await freshTable();
  store = new DynamoDbStore(doc, tableName);
  api = makeApiHandler({ queries: new DynamoDbQueries(doc, tableName), now: Date.now });
});

beforeEach(() => {
  lines = [];
  logger.setLogLevel('INFO');
  const write = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = chunk.toString();
    for (const line of text.split('\n')) {
      if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    return text.startsWith('{') ? true : write(chunk, ...(rest as []));
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  logger.setLogLevel('SILENT');
});

const logged = (message: string) => lines.filter((l) => l.message === message);

describe('log lines', () => {
  it('are one per API request: the route pattern, the status, the error code and the ids of the path, never the contact', async () => {
    // Act
    await call(api, 'GET', `/v1/conversations/pn-1/${PHONE}/messages`);
    await call(api, 'GET', '/v1/messages/msg_0123456789abcdef0123456789abcdef');
    await call(api, 'GET', '/v1/nowhere');

    // Assess
    const requests = logged('request');
    expect(requests).toHaveLength(3);
    expect(requests[0]).toMatchObject({ method: 'GET', route: '/v1/conversations/{phoneNumberId}/{contactId}/messages', status: 200, ids: { phoneNumberId: 'pn-1' }, apiRequestId: 'r' });
    expect(requests[1]).toMatchObject({ route: '/v1/messages/{id}', status: 404, errorCode: 'message_not_found', ids: { id: 'msg_0123456789abcdef0123456789abcdef' } });
    expect(requests[2]).toMatchObject({ route: 'unmatched', status: 404, errorCode: 'route_not_found' });
    expect(typeof requests[0]!.durationMs).toBe('number');
    expect(JSON.stringify(lines)).not.toContain(PHONE);
  });

  it('are one per inbound batch, with the SQS message ids and wamids, never a phone number or a body', async () => {
    // Prepare
    const handler = makeInbound({ store });
    const text = eumFixture('inbound-text');
    const event = sqsEvent([snsNotification(text), 'not json']);

    // Act
    await handler(event, context);

    // Assess
    const batches = logged('inbound batch');
    expect(batches).toHaveLength(1);
    expect(batches[0]).toMatchObject({
      records: 2,
      failed: 0,
      quarantined: 1,
      counts: { InboundMessages: 1, QuarantinedEvents: 1 },
      sqsMessageIds: event.Records.map((r) => r.messageId),
      wamids: [entryOf(text).changes[0].value.messages[0].id],
    });
    const all = JSON.stringify(lines);
    expect(all).toContain(event.Records[1]!.messageId);
    expect(all).not.toContain(PHONE);
    expect(all).not.toContain(BODY);
  });
});
