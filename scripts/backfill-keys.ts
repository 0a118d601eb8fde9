/**
 * `npm run backfill:keys`: gives the items of a table written before the lists were sharded their
 * sharded keys (docs/capacity.md, "Upgrading an existing table"). Deployed: set TABLE_NAME and AWS
 * credentials; locally it reads `.local/runtime.json`.
 *
 * One Scan; each item under an old key gets one conditional write (conditioned on the old value,
 * so a conversation that moved meanwhile is left alone, and a second run changes nothing):
 * conversations, quarantined events, account events and unpublished events an UpdateItem of their
 * index keys; a webhook's parked job a Put under its new key, then a Delete of the old item.
 * Delivery attempts (kept 7 days) are not moved: they expire.
 */
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../shared/adapters/aws-clients.ts';
import { keys } from '../shared/adapters/dynamodb-keys.ts';

type Item = Record<string, any>;

/** The index keys an item should have now, when they differ from what it has; else undefined. */
export function newIndexKeys(item: Item): Record<string, string> | undefined {
  const want: Record<string, string> = {};
  if (item.entity === 'conversation' && typeof item.GSI1PK === 'string') {
    want.GSI1PK = keys.conversationsOf(item.phoneNumberId, item.contactId);
  } else if (item.entity === 'quarantine' && typeof item.GSI1PK === 'string') {
    want.GSI1PK = keys.quarantine(item.id);
  } else if (item.entity === 'accountEvent' && typeof item.GSI1SK === 'string') {
    want.GSI1PK = keys.accountEvents(item.GSI1SK.split('#').at(-1)!);
  } else if (item.entity === 'unpublishedEvent' && typeof item.GSI1PK === 'string') {
    want.GSI1PK = keys.unpublished(item.eventId);
  }
  return Object.entries(want).some(([k, v]) => item[k] !== v) ? want : undefined;
}

const ignoreConditionFailed = (err: unknown) => {
  if (!(err instanceof ConditionalCheckFailedException)) throw err;
};

/** Moves every item under an old key; answers how many it moved. */
export async function backfillKeys(doc: DynamoDBDocumentClient, tableName: string): Promise<number> {
  let moved = 0;
  let start: Item | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) {
      const want = newIndexKeys(item);
      if (want) {
        const names = Object.keys(want);
        await doc
          .send(
            new UpdateCommand({
              TableName: tableName,
              Key: { PK: item.PK, SK: item.SK },
              UpdateExpression: `SET ${names.map((n) => `${n} = :new${n}`).join(', ')}`,
              ConditionExpression: names.map((n) => `${n} = :old${n}`).join(' AND '),
              ExpressionAttributeValues: Object.fromEntries(names.flatMap((n) => [[`:new${n}`, want[n]], [`:old${n}`, item[n]]])),
            }),
          )
          .then(() => moved++, ignoreConditionFailed);
      } else if (item.entity === 'webhookParked' && String(item.PK).startsWith('WEBHOOK#')) {
        const webhookId = String(item.PK).slice('WEBHOOK#'.length);
        const eventId = String(item.SK).slice('PARKED#'.length);
        const k = keys.webhookParked(webhookId, eventId);
        await doc
          .send(new PutCommand({ TableName: tableName, Item: { ...item, ...k, GSI1PK: k.PK }, ConditionExpression: 'attribute_not_exists(PK)' }))
          .catch(ignoreConditionFailed);
        await doc
          .send(new DeleteCommand({ TableName: tableName, Key: { PK: item.PK, SK: item.SK }, ConditionExpression: 'attribute_exists(PK)' }))
          .then(() => moved++, ignoreConditionFailed);
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return moved;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const local = existsSync('.local/runtime.json') && !process.env.TABLE_NAME ? JSON.parse(readFileSync('.local/runtime.json', 'utf8')) : undefined;
  const tableName = process.env.TABLE_NAME ?? local?.tableName;
  if (!tableName) {
    console.error('Set TABLE_NAME (and AWS credentials), or run it beside a started `npm start`.');
    process.exit(1);
  }
  const client = new DynamoDBClient(
    local ? { endpoint: local.dynamodbEndpointUrl, region: local.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {},
  );
  console.log(`${await backfillKeys(documentClient(client), tableName)} item(s) moved to their sharded keys`);
  client.destroy();
}
