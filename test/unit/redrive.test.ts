import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAwsEmulator } from '../../local/servers.ts';
import { main, startMoveTask } from '../../scripts/redrive.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'wa-redrive-'));
let emulator: Awaited<ReturnType<typeof startAwsEmulator>>;
let sqs: SQSClient;

beforeAll(async () => {
  emulator = await startAwsEmulator();
  sqs = new SQSClient({ endpoint: emulator.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
});
afterAll(async () => {
  sqs.destroy();
  await emulator.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A queue whose DLQ takes a message after its first receive, and a runtime.json naming both as `media`. */
async function mediaQueueWithDlq(name: string) {
  const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl!;
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const url = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }), VisibilityTimeout: '0' },
      }),
    )
  ).QueueUrl!;
  const runtimeFile = join(dir, `${name}.json`);
  writeFileSync(runtimeFile, JSON.stringify({ awsEndpointUrl: emulator.endpoint, region: 'us-east-1', queues: { media: { url, dlqUrl } } }));
  return { url, dlqUrl, runtimeFile };
}

async function drain(url: string) {
  const bodies: { body: string; attempt?: string }[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 300, MessageAttributeNames: ['All'] }),
    );
    if (Messages.length === 0) return bodies;
    bodies.push(...Messages.map((m) => ({ body: m.Body!, attempt: m.MessageAttributes?.attempt?.StringValue })));
  }
}

describe('npm run redrive on the local runtime', () => {
  it('moves every message of the DLQ back to its queue, attributes and all, once', async () => {
    // Prepare: 13 jobs that failed their only receive, so SQS moved them to the DLQ.
    const q = await mediaQueueWithDlq('redrive-media');
    const bodies = Array.from({ length: 13 }, (_, i) => JSON.stringify({ job: i }));
    for (const body of bodies) {
      await sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: body, MessageAttributes: { attempt: { DataType: 'String', StringValue: 'first' } } }));
    }
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.url, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.url, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
    expect(await drain(q.url)).toEqual([]); // the next receive moves them all to the DLQ

    // Act
    const lines: string[] = [];
    const moved = await main(['media', '--runtime', q.runtimeFile], (l) => lines.push(l));

    // Assess
    expect(moved).toBe(13);
    expect(lines.at(-1)).toBe(`13 message(s) moved from ${q.dlqUrl} back to ${q.url}`);
    expect(await drain(q.dlqUrl)).toEqual([]);
    const back = await drain(q.url);
    expect(back.map((m) => m.body).sort()).toEqual([...bodies].sort());
    expect(back.every((m) => m.attempt === 'first')).toBe(true);
  });

  it('answers 0 for an empty DLQ', async () => {
    // Prepare
    const q = await mediaQueueWithDlq('redrive-empty');

    // Act / Assess
    expect(await main(['media', '--runtime', q.runtimeFile], () => undefined)).toBe(0);
  });

  it('stops with a message for an unknown queue or a missing runtime file', async () => {
    // Prepare
    const run = (args: string[]) =>
      promisify(execFile)(process.execPath, ['scripts/redrive.ts', ...args], { cwd: ROOT }).then(
        () => undefined,
        (e: { code: number; stderr: string }) => e,
      );

    // Act
    const unknown = await run(['outbox', '--runtime', join(dir, 'none.json')]);
    const missing = await run(['inbound', '--runtime', join(dir, 'none.json')]);

    // Assess
    expect(unknown).toMatchObject({ code: 1, stderr: expect.stringContaining('unknown queue "outbox": use inbound or media, or a DLQ URL') });
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining('start the local runtime (npm start), or pass --outputs') });
  });
});

describe('npm run redrive on a deployed stack', () => {
  it("starts SQS's move task on the DLQ named by the stack outputs and waits for it", async () => {
    // Prepare: SQS's move task cannot run on the emulator, so the AWS client is mocked.
    const dlqUrl = 'https://sqs.eu-west-1.amazonaws.com/111122223333/WaDev-InboundDLQ';
    const dlqArn = 'arn:aws:sqs:eu-west-1:111122223333:WaDev-InboundDLQ';
    const aws = mockClient(SQSClient);
    aws.on(GetQueueAttributesCommand).resolves({ Attributes: { QueueArn: dlqArn } });
    aws.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-1' });
    aws
      .on(ListMessageMoveTasksCommand)
      .resolvesOnce({ Results: [{ TaskHandle: 'task-1', Status: 'RUNNING' }] })
      .resolves({ Results: [{ TaskHandle: 'task-1', Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 7 }] });
    const outputs = join(dir, 'cdk-outputs.json');
    writeFileSync(outputs, JSON.stringify({ WaDev: { InboundDeadLetterQueueUrl: dlqUrl, MediaDeadLetterQueueUrl: 'https://other' } }));

    try {
      // Act
      const moved = await main(['inbound', '--outputs', outputs], () => undefined);

      // Assess
      expect(moved).toBe(7);
      expect(aws.commandCalls(GetQueueAttributesCommand)[0]?.args[0].input).toEqual({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] });
      expect(aws.commandCalls(StartMessageMoveTaskCommand).map((c) => c.args[0].input)).toEqual([{ SourceArn: dlqArn }]);
      expect(aws.commandCalls(ListMessageMoveTasksCommand)[0]?.args[0].input).toEqual({ SourceArn: dlqArn, MaxResults: 1 });
    } finally {
      aws.restore();
    }
  });

  it('reports a failed move task with its reason', async () => {
    // Prepare
    const aws = mockClient(SQSClient);
    aws.on(GetQueueAttributesCommand).resolves({ Attributes: { QueueArn: 'arn:aws:sqs:eu-west-1:111122223333:dlq' } });
    aws.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-2' });
    aws.on(ListMessageMoveTasksCommand).resolves({ Results: [{ TaskHandle: 'task-2', Status: 'FAILED', FailureReason: 'AccessDenied' }] });

    try {
      // Act / Assess
      await expect(startMoveTask(new SQSClient({}), 'https://sqs.eu-west-1.amazonaws.com/111122223333/dlq', { pollMs: 1 })).rejects.toThrow(
        'move task FAILED: AccessDenied',
      );
    } finally {
      aws.restore();
    }
  });
});
