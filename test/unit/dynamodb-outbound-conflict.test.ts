/**
 * Two sends to one conversation complete at the same moment: real DynamoDB cancels one transaction
 * with TransactionConflict (DynamoDB Local serialises them, so this is mocked). The record must still
 * end `sent`, so the conflict is retried in place.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { expect, it } from 'vitest';
import { DynamoDbOutbound } from '../../shared/adapters/dynamodb-outbound.ts';
import type { OutboundRecord } from '../../shared/ports/outbound-store.ts';

const record: OutboundRecord = {
  id: 'msg_0123456789abcdef0123456789abcdef',
  attemptId: 'attempt-1',
  phoneNumberId: 'phone-number-id-0123456789abcdef0123456789abcdef',
  contactId: '16505551234',
  contact: { waId: '16505551234' },
  type: 'text',
  content: { body: 'hi' },
  timestampMs: 1_750_000_000_000,
  requestHash: 'h',
};

it('retries a send completion that lost a race on its conversation', async () => {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }));
  const ddb = mockClient(doc);
  ddb
    .on(TransactWriteCommand)
    .rejectsOnce(new TransactionCanceledException({ message: 'conflict', $metadata: {}, CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }] }))
    .resolves({});

  await new DynamoDbOutbound(doc, 'table').markSent(record, 'aws-1', 1_750_000_001_000);

  expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
  const [message] = ddb.commandCalls(TransactWriteCommand)[1]!.args[0].input.TransactItems!;
  expect(message!.Update).toMatchObject({
    Key: { PK: `MSG#${record.id}`, SK: 'MSG' },
    ConditionExpression: 'sendState = :sending AND attemptId = :attempt',
    ExpressionAttributeValues: expect.objectContaining({ ':aws': 'aws-1', ':attempt': 'attempt-1' }),
  });
});
