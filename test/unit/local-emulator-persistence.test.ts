/**
 * The emulator's SQLite persistence commits without an fsync per SQS mutation (the commit would
 * block the event loop the local runtime's pollers and handlers share), and still keeps what was
 * sent across a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { startAwsEmulator } from '../../local/servers.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

describe('startAwsEmulator with a data directory', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('opens its database in WAL mode with synchronous = NORMAL, and leaves SQLite unpatched after start', async () => {
    // Prepare
    const dataDir = mkdtempSync(join(tmpdir(), 'wb-emulator-'));
    dirs.push(dataDir);
    const original = DatabaseSync.prototype.exec;
    const statements: string[] = [];
    const spy = function (this: InstanceType<typeof DatabaseSync>, sql: string) {
      statements.push(sql.trim());
      return original.call(this, sql);
    };
    DatabaseSync.prototype.exec = spy;
    let aws: Awaited<ReturnType<typeof startAwsEmulator>> | undefined;
    try {
      // Act
      aws = await startAwsEmulator({ dataDir });

      // Assess
      const wal = statements.findIndex((s) => /journal_mode\s*=\s*WAL/i.test(s));
      expect(wal).toBeGreaterThanOrEqual(0);
      expect(statements[wal + 1]).toBe('PRAGMA synchronous = NORMAL');
      expect(DatabaseSync.prototype.exec).toBe(spy);
    } finally {
      await aws?.stop();
      DatabaseSync.prototype.exec = original;
    }
  });

  it('keeps a sent message across a restart on the same directory', async () => {
    // Prepare
    const dataDir = mkdtempSync(join(tmpdir(), 'wb-emulator-'));
    dirs.push(dataDir);
    const first = await startAwsEmulator({ dataDir });
    let sqs = new SQSClient({ endpoint: first.endpoint, region: 'us-east-1', credentials });
    const name = 'kept-across-restart';
    await sqs.send(new CreateQueueCommand({ QueueName: name }));
    await sqs.send(new SendMessageCommand({ QueueUrl: `${first.endpoint}/000000000000/${name}`, MessageBody: 'still here' }));
    sqs.destroy();
    await first.stop();

    // Act
    const second = await startAwsEmulator({ dataDir });
    sqs = new SQSClient({ endpoint: second.endpoint, region: 'us-east-1', credentials });
    try {
      const url = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl!;
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1 }));

      // Assess
      expect(got.Messages?.map((m) => m.Body)).toEqual(['still here']);
    } finally {
      sqs.destroy();
      await second.stop();
    }
  });
});
