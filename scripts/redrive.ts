/**
 * `npm run redrive -- <queue> [--outputs cdk-outputs.json] [--runtime .local/runtime.json]`
 *
 * Moves the messages of a dead-letter queue back to the queue they came from, once the cause is
 * fixed. `<queue>` is `inbound` or `media` (the DLQ of that queue), or a DLQ URL.
 *
 * - Deployed stack (`--outputs`, the file `cdk deploy --outputs-file` writes, or a DLQ URL on AWS):
 *   SQS's own StartMessageMoveTask, which sends every message back to the queue it came from; the
 *   script waits for the task and prints how many moved.
 * - Local runtime (`.local/runtime.json`, the default when it exists): the emulator has no move
 *   task, so each message is received, sent to the source queue with its attributes, then deleted.
 *   A crash between the send and the delete sends that message twice, which the handlers absorb
 *   (every write is idempotent).
 */
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';

/** The stack outputs naming each queue and its DLQ, by the short name a user types. */
export const QUEUE_OUTPUTS: Readonly<Record<string, { queue: string; dlq: string; local: string }>> = {
  inbound: { queue: 'InboundQueueUrl', dlq: 'InboundDeadLetterQueueUrl', local: 'inbound-events' },
  media: { queue: 'MediaQueueUrl', dlq: 'MediaDeadLetterQueueUrl', local: 'media' },
};

/** Moves every message of `dlqUrl` to `queueUrl` by receive, send, delete; answers how many moved. */
export async function copyBack(sqs: SQSClient, dlqUrl: string, queueUrl: string): Promise<number> {
  let moved = 0;
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) return moved;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((m, i) => ({
          Id: String(i),
          MessageBody: m.Body ?? '',
          ...(m.MessageAttributes && Object.keys(m.MessageAttributes).length > 0 && { MessageAttributes: m.MessageAttributes }),
        })),
      }),
    );
    // Only what was sent is deleted: a refused entry stays in the DLQ (and shows again after its timeout).
    const ok = new Set((sent.Successful ?? []).map((s) => Number(s.Id)));
    const done = Messages.filter((_m, i) => ok.has(i));
    if (done.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: dlqUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
    moved += done.length;
    if ((sent.Failed ?? []).length > 0) {
      throw new Error(`${sent.Failed!.length} message(s) could not be sent back (${sent.Failed![0]!.Code}); ${moved} moved`);
    }
  }
}

/**
 * Starts SQS's move task on a DLQ (back to each message's source queue) and waits for its end;
 * answers how many messages it moved.
 */
export async function startMoveTask(
  sqs: SQSClient,
  dlqUrl: string,
  opts: { pollMs?: number; log?: (line: string) => void } = {},
): Promise<number> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }));
  const sourceArn = Attributes?.QueueArn;
  if (!sourceArn) throw new Error(`no QueueArn for ${dlqUrl}`);
  const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn }));
  opts.log?.(`move task started on ${sourceArn}`);
  for (;;) {
    const { Results = [] } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }));
    const task = Results.find((r) => r.TaskHandle === TaskHandle) ?? Results[0];
    if (task?.Status === 'COMPLETED') return task.ApproximateNumberOfMessagesMoved ?? 0;
    if (task?.Status === 'FAILED' || task?.Status === 'CANCELLED') {
      throw new Error(`move task ${task.Status}: ${task.FailureReason ?? 'no reason given'}`);
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 2000));
  }
}

interface Target {
  mode: 'local' | 'aws';
  sqs: SQSClient;
  dlqUrl: string;
  /** Local only: where the messages go back to. */
  queueUrl?: string;
}

/** Where `<queue>` is, from the arguments: a deployed stack's outputs, a DLQ URL, or the local runtime. */
export function resolveTarget(queue: string, opts: { outputs?: string; runtime?: string; stack?: string }): Target {
  if (/^https:\/\//.test(queue)) return { mode: 'aws', sqs: new SQSClient({}), dlqUrl: queue };
  const names = QUEUE_OUTPUTS[queue] ?? Object.values(QUEUE_OUTPUTS).find((q) => q.local === queue);
  if (!names) throw new Error(`unknown queue "${queue}": use ${Object.keys(QUEUE_OUTPUTS).join(' or ')}, or a DLQ URL`);

  if (opts.outputs) {
    const stacks = JSON.parse(readFileSync(opts.outputs, 'utf8')) as Record<string, Record<string, string>>;
    const stackName = opts.stack ?? Object.keys(stacks).find((s) => stacks[s]?.[names.dlq] !== undefined);
    const dlqUrl = stackName ? stacks[stackName]?.[names.dlq] : undefined;
    if (!dlqUrl) throw new Error(`${opts.outputs} has no ${names.dlq} output${opts.stack ? ` for stack ${opts.stack}` : ''}`);
    return { mode: 'aws', sqs: new SQSClient({}), dlqUrl };
  }

  const runtimeFile = opts.runtime ?? '.local/runtime.json';
  if (!existsSync(runtimeFile)) {
    throw new Error(`no ${runtimeFile}: start the local runtime (npm start), or pass --outputs <cdk-outputs.json> for a deployed stack`);
  }
  const info = JSON.parse(readFileSync(runtimeFile, 'utf8')) as {
    awsEndpointUrl: string;
    region: string;
    queues: Record<string, { url: string; dlqUrl: string }>;
  };
  const local = info.queues[names.local];
  if (!local) throw new Error(`${runtimeFile} lists no ${names.local} queue`);
  const sqs = new SQSClient({
    endpoint: info.awsEndpointUrl,
    region: info.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return { mode: 'local', sqs, dlqUrl: local.dlqUrl, queueUrl: local.url };
}

/** Runs the command line; answers how many messages moved. */
export async function main(argv: string[], log: (line: string) => void = console.log): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { outputs: { type: 'string' }, runtime: { type: 'string' }, stack: { type: 'string' } },
  });
  const [queue] = positionals;
  if (!queue) throw new Error('usage: npm run redrive -- <inbound|media|DLQ URL> [--outputs cdk-outputs.json [--stack name]] [--runtime .local/runtime.json]');
  const target = resolveTarget(queue, values);
  try {
    const moved =
      target.mode === 'aws'
        ? await startMoveTask(target.sqs, target.dlqUrl, { log })
        : await copyBack(target.sqs, target.dlqUrl, target.queueUrl!);
    log(`${moved} message(s) moved from ${target.dlqUrl} back to ${target.mode === 'aws' ? 'their source queue' : target.queueUrl}`);
    return moved;
  } finally {
    target.sqs.destroy();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`redrive: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
