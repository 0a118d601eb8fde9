import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import { logger } from '../../shared/observability.ts';
import { makeHandler } from '../../lambdas/inbound/handler.ts';
import { freshTable } from '../support/dynamodb.ts';
import { entryOf, eumFixture, snsNotification, sqsEvent, withEntry } from '../support/events.ts';

const context = { functionName: 'inbound', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

afterEach(() => vi.restoreAllMocks());

describe('a contacts[] entry that does not match the sender', () => {
  it('files the message under its own sender, keeps the entry on the record and logs it without phone numbers', async () => {
    const { doc, tableName } = await freshTable();
    const warn = vi.spyOn(logger, 'warn');
    const envelope = eumFixture('inbound-username');
    const entry = entryOf(envelope);
    entry.changes[0].value.messages[0].from = '16505551234';
    entry.changes[0].value.contacts[0] = { profile: { name: 'Someone Else' }, wa_id: '14155550100', user_id: 'US.99999999999999999999' };

    const response = await makeHandler({ store: new DynamoDbStore(doc, tableName) })(sqsEvent([snsNotification(withEntry(envelope, entry))]), context);

    expect(response.batchItemFailures).toEqual([]);
    const items = (await doc.send(new ScanCommand({ TableName: tableName }))).Items ?? [];
    const message = items.find((i) => i.entity === 'message')!;
    expect(message).toMatchObject({
      contactId: '16505551234',
      contact: { waId: '16505551234', userId: 'US.13491208655302741918' },
      contactMismatch: [{ waId: '14155550100', userId: 'US.99999999999999999999' }],
    });
    expect(items.filter((i) => i.entity === 'conversation').map((c) => c.contactId)).toEqual(['16505551234']);
    const logged = warn.mock.calls.filter(([m]) => String(m).includes('contacts[]'));
    expect(logged).toHaveLength(1);
    const line = JSON.stringify(logged[0]);
    expect(line).toContain(message.id as string);
    expect(line).not.toMatch(/16505551234|14155550100/);
  });
});
