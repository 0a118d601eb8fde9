/**
 * Run in a child process as if in Lambda (see test/unit/tracing.test.ts): two invocations of an
 * instrumented handler, the first reading the table through the backend's document client, the
 * second failing with a phone number in its error message. The X-Ray daemon address is the test's;
 * the probe ends when its stdin does.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { documentClient } from '../../shared/adapters/aws-clients.ts';
import { instrumented } from '../../shared/tracing.ts';

const doc = documentClient(
  new DynamoDBClient({ endpoint: process.env.PROBE_DYNAMODB_ENDPOINT, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
);
const handler = instrumented('probe', async (event: { fail?: boolean }) => {
  if (event.fail) throw new Error('the send to +1 650-555-0100 failed');
  await doc.send(new GetCommand({ TableName: process.env.PROBE_TABLE, Key: { PK: 'probe', SK: 'probe' } }));
  return 'ok';
});
const context = { awsRequestId: 'req-1', functionName: 'probe', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:probe', memoryLimitInMB: '128' } as Context;

await handler({}, context);
await handler({ fail: true }, { ...context, awsRequestId: 'req-2' }).catch(() => undefined);
// The SDK sends segments over UDP as they close: the process stays until the test has read them
// and closes this process's stdin.
process.stdin.resume();
await new Promise((resolve) => process.stdin.on('end', resolve));
