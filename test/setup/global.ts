/**
 * Starts one DynamoDB Local (in memory) for the whole test run; each test file makes its own table.
 */
import type { TestProject } from 'vitest/node';
import { startDynamoDb, type RunningServer } from '../../local/servers.ts';

let dynamo: RunningServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  dynamo = await startDynamoDb();
  project.provide('dynamodbEndpoint', dynamo.endpoint);
}

export async function teardown(): Promise<void> {
  await dynamo?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
  }
}
