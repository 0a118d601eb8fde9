/**
 * A media test bench on real local servers: fauxqs (S3, SNS, SQS) with the resources of the
 * spec (unique names), the run's DynamoDB Local, the sandbox WABA as End User Messaging Social,
 * and the media adapters wired to them. Every socialmessaging command is recorded with its input.
 */
import { randomUUID } from 'node:crypto';
import { SNSClient } from '@aws-sdk/client-sns';
import { SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import { ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { DynamoDbMediaRecords } from '../../shared/adapters/dynamodb-media.ts';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import { documentClient } from '../../shared/adapters/aws-clients.ts';
import { mediaS3Client, S3MediaStorage } from '../../shared/adapters/s3-media.ts';
import { SocialMessagingMedia } from '../../shared/adapters/socialmessaging-media.ts';
import { SqsMediaJobQueue } from '../../shared/adapters/sqs-media-queue.ts';
import { SocialMessagingGateway } from '../../shared/adapters/socialmessaging-gateway.ts';
import { PhoneNumberResolver } from '../../shared/domain/send-message.ts';
import { defaultResourceNames, provision, type ProvisionedResources } from '../../local/provision.ts';
import { startAwsEmulator, type RunningServer } from '../../local/servers.ts';
import { createSandbox, loadSandboxConfig, type RunningSandbox, type Sandbox } from '../../local/sandbox/index.ts';
import { INBOUND_QUEUE, MEDIA_QUEUE } from '../../shared/resource-spec.ts';
import type { S3Client } from '@aws-sdk/client-s3';
import { makeHandler as makeApiHandler } from '../../lambdas/api/handler.ts';
import { NO_CHAOS } from '../../local/sandbox/types.ts';
import type { ApiHandler } from './api.ts';
import { localDynamoClient } from './dynamodb.ts';

export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';
export const lambdaContext = { functionName: 'media', awsRequestId: 'req', getRemainingTimeInMillis: () => 120_000 } as unknown as Context;

export interface RecordedCall {
  command: string;
  input: any;
}

export interface MediaBench {
  aws: RunningServer;
  s3: S3Client;
  sqs: SQSClient;
  sns: SNSClient;
  doc: ReturnType<typeof documentClient>;
  resources: ProvisionedResources;
  bucket: string;
  inboundQueueUrl: string;
  mediaQueueUrl: string;
  sandbox: Sandbox;
  sandboxServer: RunningSandbox;
  /** The business numbers of the sandbox config. */
  phoneNumberIds: string[];
  socialMessaging: SocialMessagingClient;
  /** Every socialmessaging command sent, with its input, in order. */
  calls: RecordedCall[];
  records: DynamoDbMediaRecords;
  storage: S3MediaStorage;
  whatsapp: SocialMessagingMedia;
  store: DynamoDbStore;
  queries: DynamoDbQueries;
  jobs: SqsMediaJobQueue;
  /** `from` → phone number id, as production resolves it (id, ARN or display number, the latter asked of the sandbox). */
  resolvePhoneNumber: (from: string) => Promise<string | undefined>;
  callsOf(command: string): RecordedCall[];
  stop(): Promise<void>;
}

export async function startMediaBench(opts: { sandboxClock?: () => number } = {}): Promise<MediaBench> {
  const aws = await startAwsEmulator();
  const clientConfig = {
    endpoint: aws.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
  const s3 = mediaS3Client(clientConfig);
  const sqs = new SQSClient(clientConfig);
  const sns = new SNSClient(clientConfig);
  const dynamodb = localDynamoClient();
  const names = defaultResourceNames(`m${randomUUID().slice(0, 8)}`);
  const resources = await provision({ dynamodb, sqs, sns, s3, names, sqsEndpoint: aws.endpoint });
  const doc = documentClient(dynamodb);

  const config = loadSandboxConfig();
  const sandbox = createSandbox({
    config,
    sns,
    s3,
    topicArn: resources.topicArn,
    region: REGION,
    accountId: ACCOUNT,
    seed: 7,
    log: () => {},
    ...(opts.sandboxClock && { clock: opts.sandboxClock }),
  });
  const sandboxServer = await sandbox.listen(0);

  const socialMessaging = new SocialMessagingClient({ ...clientConfig, endpoint: sandboxServer.url, maxAttempts: 2 });
  const calls: RecordedCall[] = [];
  socialMessaging.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push({ command: String(context.commandName), input: structuredClone(args.input) });
      return next(args);
    },
    { step: 'initialize', name: 'recordCalls' },
  );

  const storage = new S3MediaStorage(s3, resources.mediaBucket);
  const phoneNumberIds = config.phoneNumbers.map((p) => p.phoneNumberId);
  const numbers = new PhoneNumberResolver(new SocialMessagingGateway(socialMessaging), phoneNumberIds);
  return {
    aws,
    s3,
    sqs,
    sns,
    doc,
    resources,
    bucket: resources.mediaBucket,
    inboundQueueUrl: resources.queues[INBOUND_QUEUE.name]!.url,
    mediaQueueUrl: resources.queues[MEDIA_QUEUE.name]!.url,
    sandbox,
    sandboxServer,
    phoneNumberIds,
    socialMessaging,
    calls,
    records: new DynamoDbMediaRecords(doc, resources.tableName),
    storage,
    whatsapp: new SocialMessagingMedia(socialMessaging),
    store: new DynamoDbStore(doc, resources.tableName),
    queries: new DynamoDbQueries(doc, resources.tableName),
    jobs: new SqsMediaJobQueue(sqs, resources.queues[MEDIA_QUEUE.name]!.url),
    resolvePhoneNumber: (from) => numbers.resolve(from),
    callsOf: (command) => calls.filter((c) => c.command === command),
    async stop() {
      await sandboxServer.close();
      for (const c of [socialMessaging, s3, sqs, sns, dynamodb]) c.destroy();
      await aws.stop();
    },
  };
}

/** The API handler with its media routes wired to the bench's adapters, the clock real. */
export function mediaApiHandler(bench: MediaBench): ApiHandler {
  return makeApiHandler({
    queries: bench.queries,
    now: Date.now,
    media: () => ({
      records: bench.records,
      storage: bench.storage,
      whatsapp: bench.whatsapp,
      resolvePhoneNumber: bench.resolvePhoneNumber,
      now: Date.now,
    }),
  });
}

/** Undoes what one test may change on the bench: sandbox chaos and clock offset, recorded calls. */
export function resetMediaBench(bench: MediaBench): void {
  bench.sandbox.state.chaos = { ...NO_CHAOS };
  bench.sandbox.state.clockOffsetMs = 0;
  bench.calls.length = 0;
}

/** An SQS message as Lambda's event source mapping hands it over. */
export function toSqsRecord(m: Message, queueArn = 'arn:aws:sqs:us-east-1:000000000000:media'): SQSRecord {
  const a = (m.Attributes ?? {}) as Record<string, string>;
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? ACCOUNT,
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: REGION,
  };
}

/** Receives what is on a queue now (waiting up to `waitSeconds` for the first message). */
export async function receive(sqs: SQSClient, queueUrl: string, opts: { max?: number; waitSeconds?: number } = {}): Promise<Message[]> {
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: opts.max ?? 10,
      WaitTimeSeconds: opts.waitSeconds ?? 2,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return out.Messages ?? [];
}

export function eventOf(messages: Message[]): SQSEvent {
  return { Records: messages.map((m) => toSqsRecord(m)) };
}
