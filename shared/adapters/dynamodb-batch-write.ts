/** BatchWriteItem over any number of requests: chunks of 25, unprocessed items asked again with backoff. */
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

const CHUNK = 25;
const ATTEMPTS = 5;

export async function batchWriteAll(doc: DynamoDBDocumentClient, tableName: string, requests: Array<Record<string, unknown>>, what: string): Promise<void> {
  for (let i = 0; i < requests.length; i += CHUNK) {
    let pending = requests.slice(i, i + CHUNK);
    for (let attempt = 1; pending.length; attempt++) {
      const out = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } }));
      pending = (out.UnprocessedItems?.[tableName] ?? []) as Array<Record<string, unknown>>;
      // Left unprocessed again and again: the table is throttling; the caller's caller retries.
      if (pending.length && attempt >= ATTEMPTS) throw new Error(`${pending.length} ${what} writes left unprocessed`);
      if (pending.length) await new Promise((r) => setTimeout(r, 25 * 2 ** attempt));
    }
  }
}
