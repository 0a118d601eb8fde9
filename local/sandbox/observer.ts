/**
 * The sandbox reads the event topic like any consumer: an SQS queue subscribed to it (the emulator
 * has no HTTP delivery), polled here. Every body goes to `onBody`, then is deleted.
 *
 * `catchUp()` reads what is waiting right now (no long poll) and waits for a batch the loop is
 * handling, so a decision can be made on everything the topic carried so far.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

export interface TopicObserverOptions {
  sqs: SQSClient;
  /** A queue subscribed to the event topic (raw delivery off: bodies are SNS notifications). */
  queueUrl: string;
  onBody(body: string): void;
  log(line: string): void;
}

export interface TopicObserver {
  catchUp(): Promise<void>;
  stop(): Promise<void>;
}

export function startTopicObserver(opts: TopicObserverOptions): TopicObserver {
  let running = true;
  const abort = new AbortController();
  let inFlight: Promise<number> = Promise.resolve(0);

  const receive = async (waitSeconds: number): Promise<number> => {
    const out = await opts.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: opts.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds, VisibilityTimeout: 30 }),
      { abortSignal: abort.signal },
    );
    const messages = out.Messages ?? [];
    for (const m of messages) {
      try {
        if (m.Body !== undefined) opts.onBody(m.Body);
      } catch (err) {
        opts.log(`reading an event from the topic failed: ${(err as Error).name}`);
      }
    }
    if (messages.length) {
      await opts.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: opts.queueUrl,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
    return messages.length;
  };

  const loop = (async () => {
    while (running) {
      inFlight = receive(1);
      try {
        await inFlight;
      } catch (err) {
        if (!running) break;
        opts.log(`polling the event topic failed: ${(err as Error).name}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  })();

  return {
    async catchUp() {
      if (!running) return;
      // Whatever is waiting now, then the batch the loop may be handling at this moment.
      for (let round = 0; round < 20 && (await receive(0)) > 0; round++);
      await inFlight.catch(() => 0);
    },
    async stop() {
      running = false;
      abort.abort();
      await loop;
    },
  };
}
