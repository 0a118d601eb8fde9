/** A fresh table on the run's DynamoDB Local, made from the same spec as the stack's. */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { documentClient } from '../../shared/adapters/aws-clients.ts';
import { ensureTable } from '../../local/provision.ts';

export function localDynamoClient(): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: inject('dynamodbEndpoint'),
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}

export async function freshTable(): Promise<{ client: DynamoDBClient; doc: ReturnType<typeof documentClient>; tableName: string }> {
  const client = localDynamoClient();
  const tableName = `t-${randomUUID()}`;
  // No TTL here: the fixtures' times are from 2025, so their items would be past a year's retention,
  // and DynamoDB Local's sweeper would delete them at a random moment of a test.
  await ensureTable(client, tableName, { timeToLive: false });
  return { client, doc: documentClient(client), tableName };
}
