/**
 * The local stream poller's batching window, on DynamoDB Local's stream: records are gathered over
 * reads until the batch is full or the window has passed, as Lambda's mapping does with
 * MaximumBatchingWindowInSeconds; without a window each read that finds records is a batch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startStreamPoller } from '../../local/stream-poller.ts';
import { eventually } from '../integration/support/target.ts';
import { freshTable } from '../support/dynamodb.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A table, its stream read with `spec`; answers each batch's keys and how many reads found records. */
async function setUp(spec: { batchSize?: number; maxBatchingWindowSeconds?: number }) {
  const { client, doc, tableName } = await freshTable();
  const streams = new DynamoDBStreamsClient({ endpoint: inject('dynamodbEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const reads = { withRecords: 0 };
  streams.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      if (context.commandName === 'GetRecordsCommand' && ((out.output as { Records?: unknown[] }).Records?.length ?? 0) > 0) reads.withRecords++;
      return out;
    },
    { step: 'initialize', name: 'countReads' },
  );
  const dir = mkdtempSync(join(tmpdir(), 'wb-window-'));
  const batches: string[][] = [];
  const poller = await startStreamPoller({
    dynamodb: client,
    streams,
    tableName,
    checkpointFile: join(dir, 'checkpoints.json'),
    idleMs: 20,
    spec,
    handler: async (event: DynamoDBStreamEvent) => void batches.push(event.Records.map((r) => r.dynamodb!.Keys!.PK!.S!)),
  });
  cleanups.push(() => poller.stop(), () => rmSync(dir, { recursive: true, force: true }));
  const put = (pk: string) => doc.send(new PutCommand({ TableName: tableName, Item: { PK: pk, SK: 'x' } }));
  return { put, batches, reads };
}

describe('stream poller batching window', () => {
  it('gathers records over several reads into one batch, handed over once the batch is full', async () => {
    const { put, batches, reads } = await setUp({ batchSize: 2, maxBatchingWindowSeconds: 300 });
    await put('A');
    await eventually(async () => (reads.withRecords >= 1 ? true : undefined), 'a read that finds A');
    expect(batches).toEqual([]);
    await put('B');
    await eventually(async () => (batches.length ? true : undefined), 'the batch');
    expect(batches).toEqual([['A', 'B']]);
    expect(reads.withRecords).toBe(2);
  });

  it('hands over what it gathered once the window has passed, though the batch is not full', async () => {
    const { put, batches } = await setUp({ batchSize: 100, maxBatchingWindowSeconds: 1 });
    await put('A');
    await eventually(async () => (batches.length ? true : undefined), 'the batch');
    expect(batches).toEqual([['A']]);
  });

  it('without a window, each read that finds records is a batch', async () => {
    const { put, batches, reads } = await setUp({ batchSize: 100 });
    await put('A');
    await eventually(async () => (batches.length ? true : undefined), 'the first batch');
    await put('B');
    await eventually(async () => (batches.length >= 2 ? true : undefined), 'the second batch');
    expect(batches).toEqual([['A'], ['B']]);
    expect(reads.withRecords).toBe(2);
  });
});
