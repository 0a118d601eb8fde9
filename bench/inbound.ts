/**
 * Inbound pipeline benchmark, measured side by side in one run:
 * - handler CPU time per event vs the floor (the JSON.parse chain plus one schema parse of the
 *   same event), with a no-op store (our code only) and with DynamoDB Local (adds SDK work);
 * - DynamoDB requests per status event and per inbound message, and reads on the hot path.
 * (Every bundle's size is the `bundles` section's.)
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { DynamoDbStore } from '../shared/adapters/dynamodb-store.ts';
import { documentClient } from '../shared/adapters/aws-clients.ts';
import type { EventStore } from '../shared/ports/event-store.ts';
import { EumEnvelopeSchema, MessagesValueSchema, WebhookEntrySchema, WebhookMessageSchema, WebhookStatusSchema } from '../shared/whatsapp/webhook.ts';
import { makeHandler } from '../lambdas/inbound/handler.ts';
import { ensureTable } from '../local/provision.ts';
import { startDynamoDb } from '../local/servers.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { eumFixture, entryOf, snsNotification, sqsRecord, withEntry } from '../test/support/events.ts';

const context = { functionName: 'inbound', awsRequestId: 'bench', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

/** `n` distinct inbound text events and `n` distinct status events (fresh wamids). */
function events(n: number) {
  const text = eumFixture('inbound-text');
  const status = eumFixture('status-sent');
  const inbound: string[] = [];
  const statuses: string[] = [];
  for (let i = 0; i < n; i++) {
    const e = entryOf(text);
    e.changes[0].value.messages[0].id = `wamid.BENCH${randomUUID()}`;
    e.changes[0].value.messages[0].timestamp = String(1_750_000_000 + i);
    inbound.push(snsNotification(withEntry(text, e)));
    const s = entryOf(status);
    s.changes[0].value.statuses[0].id = `wamid.BENCHOUT${randomUUID()}`;
    statuses.push(snsNotification({ ...withEntry(status, s), messageId: randomUUID() }));
  }
  return { inbound, statuses };
}

function floor(body: string) {
  const sns = JSON.parse(body);
  const env = EumEnvelopeSchema.parse(JSON.parse(sns.Message));
  const entry = WebhookEntrySchema.parse(JSON.parse(env.whatsAppWebhookEntry as string));
  for (const c of entry.changes) {
    const v = MessagesValueSchema.parse(c.value);
    for (const m of v.messages ?? []) WebhookMessageSchema.parse(m);
    for (const s of v.statuses ?? []) WebhookStatusSchema.parse(s);
  }
}

const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function cpuPerEvent(bodies: string[], run: (batch: string[]) => Promise<void>, batchSize = 100) {
  const t0 = cpuMicros();
  for (let i = 0; i < bodies.length; i += batchSize) await run(bodies.slice(i, i + batchSize));
  return (cpuMicros() - t0) / bodies.length;
}

export async function benchInbound(opts: { events?: number } = {}) {
  const N = 2 * Math.ceil((opts.events ?? 2000) / 2);
  const noop: EventStore = {
    recordInbound: async () => ({ inserted: true }),
    recordStatus: async () => {},
    recordAccountEvent: async () => {},
    quarantine: async () => {},
  };
  const handlerNoop = makeHandler({ store: noop });
  const warm = events(300);
  await handlerNoop({ Records: [...warm.inbound, ...warm.statuses].slice(0, 100).map((b) => sqsRecord(b)) }, context);
  for (const b of warm.inbound) floor(b);

  const mixed = events(N / 2);
  const bodies = [...mixed.inbound, ...mixed.statuses];
  const floorUs = await cpuPerEvent(bodies, async (batch) => batch.forEach(floor));
  const noopUs = await cpuPerEvent(bodies, async (batch) => void (await handlerNoop({ Records: batch.map((b) => sqsRecord(b)) }, context)));

  // Real store: DynamoDB Local, counting requests by operation.
  const ddb = await startDynamoDb();
  try {
    const client = new DynamoDBClient({ endpoint: ddb.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'b', secretAccessKey: 'b' } });
    const counts = new Map<string, number>();
    client.middlewareStack.add(
      (next, ctx) => async (args) => {
        counts.set(ctx.commandName as string, (counts.get(ctx.commandName as string) ?? 0) + 1);
        return next(args);
      },
      { step: 'initialize', name: 'countRequests' },
    );
    const tableName = `bench-${randomUUID()}`;
    await ensureTable(client, tableName);
    counts.clear();
    const handler = makeHandler({ store: new DynamoDbStore(documentClient(client), tableName) });
    const real = events(N / 4);
    const realBodies = [...real.inbound, ...real.statuses];
    const ddbUs = await cpuPerEvent(realBodies, async (batch) => void (await handler({ Records: batch.map((b) => sqsRecord(b)) }, context)));
    // The SDK's own share: as many requests as the handler made (counted above), as bare PutItems
    // of a small item through the same client, 100 at a time like a batch.
    const requestsMade = [...counts.values()].reduce((a, b) => a + b, 0);
    const bareDoc = documentClient(client);
    const bare = Array.from({ length: requestsMade }, (_, i) => `bare-${i}`);
    const sdkUs =
      (await cpuPerEvent(bare, async (ids) => {
        await Promise.all(ids.map((id) => bareDoc.send(new PutCommand({ TableName: tableName, Item: { PK: id, SK: 'X', n: 1 } }))));
      })) *
      (requestsMade / realBodies.length);

    const perKind = async (bodies: string[]) => {
      counts.clear();
      await handler({ Records: bodies.map((b) => sqsRecord(b)) }, context);
      const total = (names: string[]) => names.reduce((a, n) => a + (counts.get(n) ?? 0), 0);
      const writes = total(['PutItemCommand', 'UpdateItemCommand', 'TransactWriteItemsCommand', 'DeleteItemCommand', 'BatchWriteItemCommand']);
      const reads = total(['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand', 'TransactGetItemsCommand']);
      return { writes: writes / bodies.length, reads: reads / bodies.length };
    };
    const fresh = events(100);
    const inboundReq = await perKind(fresh.inbound);
    const statusReq = await perKind(fresh.statuses);
    const redelivered = await perKind(fresh.inbound);
    // late, older messages after newer ones in the same conversation: worst case
    const lateText = eumFixture('inbound-text');
    const late: string[] = [];
    for (let i = 0; i < 50; i++) {
      const e = entryOf(lateText);
      e.changes[0].value.messages[0].id = `wamid.LATE${randomUUID()}`;
      e.changes[0].value.messages[0].timestamp = String(1_600_000_000 + i);
      late.push(snsNotification(withEntry(lateText, e)));
    }
    const lateReq = await perKind(late);
    client.destroy();

    return {
      cpu: { floorUs, noopUs, ddbUs, sdkUs, ratioNoop: noopUs / floorUs, ratioDdb: ddbUs / floorUs, ratioDdbToFloorPlusSdk: ddbUs / (floorUs + sdkUs) },
      requests: { inbound: inboundReq, status: statusReq, redelivered, lateOlder: lateReq },
    };
  } finally {
    await ddb.stop();
  }
}
