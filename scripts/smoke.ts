/**
 * `npm run smoke [-- --outputs cdk-outputs.json [--stack name]] [--runtime .local/runtime.json]`
 *
 * Checks a running backend from the outside, from its stack outputs (`cdk deploy --outputs-file`) or
 * from the local runtime's `.local/runtime.json` (the default):
 * 1. the API answers a request (SigV4-signed on AWS) to `GET /v1/conversations`;
 * 2. the event topic accepts a publish from this account: an account event of the field
 *    `smoke_check` under a WABA id of its own (`smoke-<run id>`), which no conversation lists;
 * 3. that event arrives in the table (a Query on its partition), through the queue and the inbound
 *    function.
 * The smoke event stays in the table as an account event. Exit code 1 when a check fails.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { executeApiSigner } from './sigv4.ts';

/** What the smoke check needs to know of a backend. */
export interface SmokeTarget {
  kind: 'deployed' | 'local';
  apiUrl: string;
  eventTopicArn: string;
  tableName: string;
  region: string;
  /** Local only: the emulator and DynamoDB Local. */
  endpoints?: { aws: string; dynamodb: string };
}

/** The field of the account event the smoke check publishes. */
export const SMOKE_FIELD = 'smoke_check';

/** Reads the target from a `cdk deploy --outputs-file` file or from the local runtime's file. */
export function smokeTarget(opts: { outputs?: string; stack?: string; runtime?: string }): SmokeTarget {
  if (opts.outputs) {
    const stacks = JSON.parse(readFileSync(opts.outputs, 'utf8')) as Record<string, Record<string, string>>;
    const name = opts.stack ?? Object.keys(stacks).find((s) => stacks[s]?.ApiUrl !== undefined);
    const out = name ? stacks[name] : undefined;
    const missing = ['ApiUrl', 'EventTopicArn', 'TableName'].filter((k) => !out?.[k]);
    if (!out || missing.length > 0) throw new Error(`${opts.outputs} lacks ${missing.join(', ')}${opts.stack ? ` for stack ${opts.stack}` : ''}`);
    const region = out.EventTopicArn!.split(':')[3]!;
    return { kind: 'deployed', apiUrl: out.ApiUrl!, eventTopicArn: out.EventTopicArn!, tableName: out.TableName!, region };
  }
  const file = opts.runtime ?? '.local/runtime.json';
  if (!existsSync(file)) throw new Error(`no ${file}: start the local runtime (npm start), or pass --outputs <cdk-outputs.json>`);
  const info = JSON.parse(readFileSync(file, 'utf8')) as {
    apiUrl: string;
    eventTopicArn: string;
    tableName: string;
    region: string;
    awsEndpointUrl: string;
    dynamodbEndpointUrl: string;
  };
  return {
    kind: 'local',
    apiUrl: info.apiUrl,
    eventTopicArn: info.eventTopicArn,
    tableName: info.tableName,
    region: info.region,
    endpoints: { aws: info.awsEndpointUrl, dynamodb: info.dynamodbEndpointUrl },
  };
}

export interface SmokeResult {
  name: string;
  ok: boolean;
  detail: string;
}

/** Runs the three checks in order (each needs the one before); stops at the first failure. */
export async function smoke(target: SmokeTarget, opts: { timeoutMs?: number; pollMs?: number } = {}): Promise<SmokeResult[]> {
  const local = target.endpoints && { region: target.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
  const sns = new SNSClient(local ? { ...local, endpoint: target.endpoints!.aws } : { region: target.region });
  const dynamo = new DynamoDBClient(local ? { ...local, endpoint: target.endpoints!.dynamodb } : { region: target.region });
  const doc = DynamoDBDocumentClient.from(dynamo);
  const results: SmokeResult[] = [];
  const check = async (name: string, run: () => Promise<string>): Promise<boolean> => {
    try {
      results.push({ name, ok: true, detail: await run() });
      return true;
    } catch (err) {
      results.push({ name, ok: false, detail: (err as Error).message });
      return false;
    }
  };

  try {
    const sign = target.kind === 'deployed' ? executeApiSigner(target.region) : undefined;
    const answered = await check('the API answers', async () => {
      let req = new Request(`${target.apiUrl.replace(/\/$/, '')}/v1/conversations?limit=1`);
      if (sign) req = await sign(req);
      const res = await fetch(req);
      if (res.status !== 200) throw new Error(`GET /v1/conversations answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
      return 'GET /v1/conversations answered 200';
    });
    if (!answered) return results;

    const wabaId = `smoke-${randomUUID()}`;
    const published = await check('the event topic accepts a publish', async () => {
      const envelope = {
        whatsAppWebhookEntry: JSON.stringify({ id: wabaId, changes: [{ field: SMOKE_FIELD, value: { wabaId } }] }),
        message_timestamp: new Date().toISOString(),
      };
      const { MessageId } = await sns.send(new PublishCommand({ TopicArn: target.eventTopicArn, Message: JSON.stringify(envelope) }));
      return `published ${MessageId} (WABA id ${wabaId})`;
    });
    if (!published) return results;

    await check('the event arrives in the table', async () => {
      const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
      for (;;) {
        const { Items = [] } = await doc.send(
          new QueryCommand({
            TableName: target.tableName,
            KeyConditionExpression: 'PK = :pk',
            ExpressionAttributeValues: { ':pk': `ACCT#${wabaId}` },
          }),
        );
        if (Items.some((i) => i.field === SMOKE_FIELD)) return `stored as an account event of ${wabaId}`;
        if (Date.now() > deadline) throw new Error(`no ${SMOKE_FIELD} event of ${wabaId} in ${target.tableName} after ${opts.timeoutMs ?? 60_000} ms`);
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
      }
    });
    return results;
  } finally {
    sns.destroy();
    dynamo.destroy();
  }
}

/** Runs the command line; answers whether every check passed. */
export async function main(argv: string[], log: (line: string) => void = console.log): Promise<boolean> {
  const { values } = parseArgs({
    args: argv,
    options: { outputs: { type: 'string' }, stack: { type: 'string' }, runtime: { type: 'string' } },
  });
  const target = smokeTarget(values);
  log(`smoke check of the ${target.kind} backend at ${target.apiUrl}`);
  const results = await smoke(target);
  for (const r of results) log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.detail}`);
  return results.length === 3 && results.every((r) => r.ok);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (ok) => process.exit(ok ? 0 : 1),
    (err: unknown) => {
      process.stderr.write(`smoke: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
