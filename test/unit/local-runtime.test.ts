import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { INBOUND_QUEUE, QUEUES } from '../../shared/resource-spec.ts';
import { banner, startRuntime, type Runtime, type RuntimeInfo } from '../../local/runtime.ts';
import { loadSandboxConfig } from '../../local/sandbox/index.ts';

const credentials = { accessKeyId: 'any', secretAccessKey: 'any' };
const silent = { info() {}, warn() {}, error() {} };

function javaFor(dir: string): string {
  try {
    return execFileSync('pgrep', ['-f', `DynamoDBLocal.*${dir}`], { encoding: 'utf8' }).trim();
  } catch {
    return ''; // pgrep exits 1 when nothing matches
  }
}

describe('startRuntime', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'runtime-'));
  const received: SQSEvent[] = [];
  const start = (fresh = false) =>
    startRuntime({
      dataDir,
      fresh,
      ports: { api: 0, sandbox: 0, aws: 0, dynamodb: 0 },
      logger: silent,
      handlers: {
        // Every queue gets a test handler: importing the real ones would bind them to this runtime.
        queues: Object.fromEntries(
          QUEUES.map((q) => [
            q.name,
            async (event: SQSEvent) => {
              if (q.name === INBOUND_QUEUE.name) received.push(event);
            },
          ]),
        ),
        api: async (event) => ({ statusCode: 200, body: JSON.stringify({ path: event.path, table: process.env.TABLE_NAME }) }),
        stream: async () => {},
      },
    });
  let runtime: Runtime | undefined;

  afterAll(async () => {
    await runtime?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('wires SNS to SQS to the inbound handler, serves the API and the sandbox, writes runtime.json and stops cleanly', async () => {
    // Prepare
    const envBefore = process.env.AWS_ENDPOINT_URL_DYNAMODB;
    runtime = await start(true);
    const info = JSON.parse(readFileSync(join(dataDir, 'runtime.json'), 'utf8')) as RuntimeInfo;
    const sns = new SNSClient({ endpoint: info.awsEndpointUrl, region: info.region, credentials });

    // Act
    await sns.send(new PublishCommand({ TopicArn: info.eventTopicArn, Message: '{"probe":1}' }));
    const deadline = Date.now() + 10_000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const api = await fetch(`${info.apiUrl}/v1/ping`);
    const sandboxNumbers = await fetch(`${info.sandboxUrl}/sandbox/phone-numbers`).then((r) => r.json());

    // Assess
    expect(info).toMatchObject({
      region: 'us-east-1',
      tableName: 'whatsapp-backend',
      mediaBucket: 'whatsapp-backend-media',
      eventTopicArn: 'arn:aws:sns:us-east-1:000000000000:whatsapp-backend-events',
    });
    expect(info).not.toHaveProperty('missing');
    for (const url of [info.apiUrl, info.sandboxUrl, info.awsEndpointUrl, info.dynamodbEndpointUrl]) {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
    expect(process.env.AWS_ENDPOINT_URL_SOCIALMESSAGING).toBe(info.sandboxUrl);
    const config = loadSandboxConfig();
    expect(info.phoneNumbers.map((p) => p.phoneNumberId)).toEqual(config.phoneNumbers.map((p) => p.phoneNumberId));
    for (const p of info.phoneNumbers) {
      expect(p.phoneNumberArn).toBe(`arn:aws:social-messaging:us-east-1:000000000000:phone-number-id/${p.phoneNumberId.slice('phone-number-id-'.length)}`);
    }
    expect(sandboxNumbers).toEqual(info.phoneNumbers);
    expect(process.env.PHONE_NUMBER_IDS).toBe(info.phoneNumbers.map((p) => p.phoneNumberId).join(','));
    const text = banner(info);
    expect(text).toContain(`API          ${info.apiUrl}`);
    expect(text).toContain(`Sandbox      ${info.sandboxUrl}`);
    expect(info.consoleUrl).toBe(`${info.apiUrl}/console`);
    expect(text).toContain(`Console      ${info.consoleUrl}`);
    const page = await fetch(info.consoleUrl);
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    // The console reaches the sandbox's control routes through the API's origin.
    expect(await fetch(`${info.apiUrl}/console/sandbox/phone-numbers`).then((r) => r.json())).toEqual(info.phoneNumbers);
    expect(text).toContain(`${info.sandboxUrl}/sandbox/inbound`);
    expect(text).not.toMatch(/not yet|missing/i);
    expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(info.dynamodbEndpointUrl);
    expect(process.env.AWS_ENDPOINT_URL_SQS).toBe(info.awsEndpointUrl);
    expect(process.env.EVENT_TOPIC_ARN).toBe(info.eventTopicArn);
    expect(process.env.INBOUND_EVENTS_QUEUE_URL).toBe(info.queues[INBOUND_QUEUE.name]!.url);

    const record = received[0]!.Records[0]!;
    expect(record.eventSourceARN).toBe(`arn:aws:sqs:us-east-1:000000000000:whatsapp-backend-${INBOUND_QUEUE.name}`);
    const notification = JSON.parse(record.body) as Record<string, string>;
    expect(notification).toMatchObject({ Type: 'Notification', TopicArn: info.eventTopicArn, Message: '{"probe":1}' });

    expect(api.status).toBe(200);
    expect(await api.json()).toEqual({ path: '/v1/ping', table: 'whatsapp-backend' });

    await runtime.stop();
    runtime = undefined;
    expect(existsSync(join(dataDir, 'runtime.json'))).toBe(false);
    expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(envBefore);
    expect(await fetch(`${info.sandboxUrl}/sandbox/phone-numbers`).then(() => 'up', () => 'down')).toBe('down');
    expect(javaFor(dataDir)).toBe('');
  }, 60_000);

  it('keeps the data across a restart and starts empty with fresh', async () => {
    // Prepare
    runtime = await start();
    const key = { PK: { S: 'TEST#persist' }, SK: { S: 'TEST' } };
    const put = new DynamoDBClient({ endpoint: runtime.info.dynamodbEndpointUrl, region: 'us-east-1', credentials });
    await put.send(new PutItemCommand({ TableName: runtime.info.tableName, Item: key }));
    await runtime.stop();

    // Act
    runtime = await start();
    const afterRestart = new DynamoDBClient({ endpoint: runtime.info.dynamodbEndpointUrl, region: 'us-east-1', credentials });
    const kept = await afterRestart.send(new GetItemCommand({ TableName: runtime.info.tableName, Key: key }));
    await runtime.stop();
    runtime = await start(true);
    const afterFresh = new DynamoDBClient({ endpoint: runtime.info.dynamodbEndpointUrl, region: 'us-east-1', credentials });
    const wiped = await afterFresh.send(new GetItemCommand({ TableName: runtime.info.tableName, Key: key }));

    // Assess
    expect(kept.Item).toEqual(key);
    expect(wiped.Item).toBeUndefined();
  }, 90_000);

  it('runs without the sandbox beside whatever holds the sandbox port (npm start), and refuses that port with it', async () => {
    // Prepare: the sandbox's port is taken, as by a running `npm start`
    const holder = createNetServer();
    await new Promise<void>((done) => holder.listen(0, '127.0.0.1', done));
    const held = (holder.address() as AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'runtime-nosandbox-'));
    const options = { dataDir: dir, fresh: true, logger: silent, ports: { api: 0, sandbox: held, aws: 0, dynamodb: 0 }, handlers: { api: async () => ({ statusCode: 204, body: '' }), stream: async () => {} } };
    try {
      // Act
      const withSandbox = startRuntime(options);
      await expect(withSandbox).rejects.toThrow(`Port ${held} for the sandbox (SANDBOX_PORT) is in use`);
      const without = await startRuntime({ ...options, sandbox: false });
      // Assess
      expect(without.info.sandboxUrl).toBeNull();
      await without.stop();
    } finally {
      holder.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a data dir another live runtime is using', async () => {
    // Prepare: a runtime.json left by a process that is alive (our parent)
    const busyDir = mkdtempSync(join(tmpdir(), 'runtime-busy-'));
    writeFileSync(join(busyDir, 'runtime.json'), JSON.stringify({ pid: process.ppid }));

    // Act
    const second = startRuntime({ dataDir: busyDir, logger: silent, sandbox: false });

    // Assess
    await expect(second).rejects.toThrow(/Another local runtime/);
    rmSync(busyDir, { recursive: true, force: true });
  });
});
