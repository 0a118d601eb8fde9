/**
 * Media Lambda benchmark: peak memory and time of one inbound copy of a 16 MB video and of a
 * 100 MB document (generated here), through the real media handler, the sandbox's
 * GetWhatsAppMessageMedia and fauxqs S3, with DynamoDB Local holding the message.
 *
 * The handler runs in a child process of its own (as in Lambda), so its memory is measured apart
 * from the servers, which run here and hold the files. Each run: one small warm-up job (code and
 * SDK clients loaded), GC, reset of the peak RSS, then the measured job. For comparison, a second
 * child reads the same object into one buffer before hashing it, the way a non-streaming copy
 * would: memory then grows with the file.
 *
 * A 250 MB file (more than WhatsApp allows) is measured too: a streamed copy's memory does not
 * follow the file size but levels off where V8 collects the freed network chunks (its external
 * memory limit, about 64 MB), which only a larger file than 100 MB makes visible.
 *
 * Run: `node bench/media.ts` (prints a table); `benchMedia()` returns the figures.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { SNSClient, CreateTopicCommand } from '@aws-sdk/client-sns';
import { SocialMessagingClient } from '@aws-sdk/client-socialmessaging';
import type { Context, SQSEvent } from 'aws-lambda';

const MB = 1024 * 1024;
const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' };
const PHONE_NUMBER_ID = 'phone-number-id-8c269d706f26ca27f43f02e75cb429a0';

interface FileSpec {
  label: string;
  kind: 'video' | 'document';
  mimeType: string;
  extension: string;
  bytes: number;
}

const FILES: FileSpec[] = [
  { label: '16 MB video', kind: 'video', mimeType: 'video/mp4', extension: 'mp4', bytes: 16 * MB },
  { label: '100 MB document', kind: 'document', mimeType: 'application/pdf', extension: 'pdf', bytes: 100 * MB },
  // Beyond WhatsApp's 100 MB: only to show where the streamed copy's memory levels off.
  { label: '250 MB file (plateau check)', kind: 'document', mimeType: 'application/pdf', extension: 'pdf', bytes: 250 * MB },
];

/** What a worker child is told. */
interface WorkerInput {
  /** `handler-gc`: the same run with a GC every 5 ms, so the peak is live memory, not garbage. */
  mode: 'handler' | 'handler-gc' | 'buffered';
  tableName: string;
  bucket: string;
  awsEndpoint: string;
  dynamodbEndpoint: string;
  sandboxUrl: string;
  warmup: { job: Record<string, unknown> };
  measured: { job: Record<string, unknown>; key?: string };
}

/** What a worker child reports. */
export interface WorkerResult {
  outcome: unknown;
  totalMs: number;
  /** GetWhatsAppMessageMedia (AWS's side of the copy: here, the sandbox writing to S3). */
  downloadMs?: number;
  /** Reading the object back and hashing it. */
  digestMs: number;
  baseline: { rssMb: number; heapUsedMb: number; arrayBuffersMb: number };
  peak: { rssMb: number; heapUsedMb: number; arrayBuffersMb: number };
}

export interface MediaBenchRow {
  file: string;
  bytes: number;
  streaming: WorkerResult;
  /** The streamed run with frequent GCs: what the copy keeps alive. */
  streamingLive: WorkerResult;
  buffered: WorkerResult;
}

const toMb = (n: number) => n / MB;

function vmHwmMb(): number | undefined {
  try {
    const kb = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Resets the kernel's peak-RSS counter (Linux); false where that is not possible. */
function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Worker (child process): the media handler as Lambda would run it

async function worker(input: WorkerInput): Promise<WorkerResult> {
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const { makeHandler } = await import('../lambdas/media/handler.ts');
  const { documentClient } = await import('../shared/adapters/aws-clients.ts');
  const { DynamoDbMediaRecords } = await import('../shared/adapters/dynamodb-media.ts');
  const { mediaS3Client, S3MediaStorage } = await import('../shared/adapters/s3-media.ts');
  const { SocialMessagingMedia } = await import('../shared/adapters/socialmessaging-media.ts');

  const s3 = mediaS3Client({ endpoint: input.awsEndpoint, region: REGION, credentials: CREDENTIALS });
  const storage = new S3MediaStorage(s3, input.bucket);
  const whatsapp = new SocialMessagingMedia(
    new SocialMessagingClient({ endpoint: input.sandboxUrl, region: REGION, credentials: CREDENTIALS }),
  );
  const records = new DynamoDbMediaRecords(
    documentClient(new DynamoDBClient({ endpoint: input.dynamodbEndpoint, region: REGION, credentials: CREDENTIALS })),
    input.tableName,
  );
  const timing = { downloadMs: 0, digestMs: 0 };
  const timed = <A extends unknown[], R>(fn: (...a: A) => Promise<R>, key: keyof typeof timing) => async (...a: A) => {
    const t0 = performance.now();
    try {
      return await fn(...a);
    } finally {
      timing[key] += performance.now() - t0;
    }
  };
  const handler = makeHandler({
    records,
    storage: Object.assign(Object.create(storage), { digest: timed(storage.digest.bind(storage), 'digestMs') }),
    whatsapp: { downloadToBucket: timed(whatsapp.downloadToBucket.bind(whatsapp), 'downloadMs'), uploadFromBucket: whatsapp.uploadFromBucket.bind(whatsapp) },
    now: Date.now,
  });
  const context = { functionName: 'media', awsRequestId: 'bench', getRemainingTimeInMillis: () => 120_000 } as unknown as Context;
  const eventOf = (job: Record<string, unknown>): SQSEvent => ({
    Records: [
      {
        messageId: randomUUID(),
        receiptHandle: 'bench',
        body: JSON.stringify(job),
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: String(Date.now()),
          SenderId: 'bench',
          ApproximateFirstReceiveTimestamp: String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:media',
        awsRegion: REGION,
      },
    ],
  });

  // Warm-up: modules, clients, connections; then a clean baseline.
  const warm = await handler(eventOf(input.warmup.job), context);
  if (warm.batchItemFailures.length) throw new Error('warm-up job failed');
  timing.downloadMs = 0;
  timing.digestMs = 0;
  for (let i = 0; i < 3; i++) gc();
  await new Promise((r) => setTimeout(r, 50));
  gc();
  const before = process.memoryUsage();
  const kernelPeak = resetPeakRss();
  const peak = { rss: before.rss, heapUsed: before.heapUsed, arrayBuffers: before.arrayBuffers };
  const sample = () => {
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
  };
  const sampler = setInterval(sample, 2);
  const collector = input.mode === 'handler-gc' ? setInterval(() => (gc(), sample()), 5) : undefined;

  const t0 = performance.now();
  let outcome: unknown;
  if (input.mode !== 'buffered') {
    const res = await handler(eventOf(input.measured.job), context);
    if (res.batchItemFailures.length) throw new Error('measured job failed');
    outcome = 'stored';
  } else {
    // The comparison: the whole object in one buffer, then hashed.
    const t = performance.now();
    const out = await s3.send(new GetObjectCommand({ Bucket: input.bucket, Key: input.measured.key! }));
    const bytes = await out.Body!.transformToByteArray();
    sample();
    outcome = createHash('sha256').update(bytes).digest('base64');
    timing.digestMs = performance.now() - t;
  }
  const totalMs = performance.now() - t0;
  clearInterval(sampler);
  clearInterval(collector);
  sample();
  const hwm = kernelPeak ? vmHwmMb() : undefined;
  return {
    outcome,
    totalMs,
    ...(input.mode !== 'buffered' && { downloadMs: timing.downloadMs }),
    digestMs: timing.digestMs,
    baseline: { rssMb: toMb(before.rss), heapUsedMb: toMb(before.heapUsed), arrayBuffersMb: toMb(before.arrayBuffers) },
    peak: {
      rssMb: hwm !== undefined ? Math.max(hwm, toMb(peak.rss)) : toMb(peak.rss),
      heapUsedMb: toMb(peak.heapUsed),
      arrayBuffersMb: toMb(peak.arrayBuffers),
    },
  };
}

function runWorker(input: WorkerInput): Promise<WorkerResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--worker'], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'SILENT', AWS_REGION: REGION },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', fail);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return fail(new Error(`worker exited with ${code}: ${out}`));
      try {
        done(JSON.parse(line) as WorkerResult);
      } catch {
        fail(new Error(`worker printed no result: ${out}`));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}

// ---------------------------------------------------------------------------------------------
// Parent: servers, generated files, one child per measurement

/**
 * The sandbox writes a downloaded file with one PutObject, as AWS does on its side; the local S3
 * takes at most 11 MiB per request, so larger files go up in 8 MiB parts here.
 */
function multipartForLargePuts(s3: S3Client): S3Client {
  const send = s3.send.bind(s3) as (command: unknown) => Promise<unknown>;
  const part = 8 * MB;
  (s3 as unknown as { send: (command: unknown) => Promise<unknown> }).send = async (command) => {
    const input = command instanceof PutObjectCommand ? command.input : undefined;
    const body = input?.Body;
    if (!input || !Buffer.isBuffer(body) || body.length <= part) return send(command);
    const { UploadId } = (await send(
      new CreateMultipartUploadCommand({ Bucket: input.Bucket, Key: input.Key, ContentType: input.ContentType }),
    )) as { UploadId: string };
    const parts: { ETag?: string; PartNumber: number }[] = [];
    for (let at = 0, n = 1; at < body.length; at += part, n++) {
      const out = (await send(
        new UploadPartCommand({ Bucket: input.Bucket, Key: input.Key, UploadId, PartNumber: n, Body: body.subarray(at, at + part) }),
      )) as { ETag?: string };
      parts.push({ ETag: out.ETag, PartNumber: n });
    }
    return send(new CompleteMultipartUploadCommand({ Bucket: input.Bucket, Key: input.Key, UploadId, MultipartUpload: { Parts: parts } }));
  };
  return s3;
}

/** A generated file of the given size: the type's signature, then random bytes. */
function generate(spec: FileSpec): Buffer {
  const head = spec.kind === 'video' ? Buffer.from('000000186674797069736f6d0000020069736f6d69736f32', 'hex') : Buffer.from('%PDF-1.7\n');
  return Buffer.concat([head, randomBytes(spec.bytes - head.length)]);
}

/** `maxMb`: files larger than this are left out (the 250 MB plateau check is the longest part). */
export async function benchMedia(opts: { maxMb?: number } = {}): Promise<MediaBenchRow[]> {
  const { startAwsEmulator, startDynamoDb } = await import('../local/servers.ts');
  const { ensureTable } = await import('../local/provision.ts');
  const { createSandbox, loadSandboxConfig } = await import('../local/sandbox/index.ts');
  const { DynamoDbStore } = await import('../shared/adapters/dynamodb-store.ts');
  const { documentClient } = await import('../shared/adapters/aws-clients.ts');
  const { messageIdFromWamid } = await import('../shared/domain/ids.ts');
  const { inboundMediaKey } = await import('../shared/domain/media.ts');

  const [aws, dynamo] = await Promise.all([startAwsEmulator(), startDynamoDb()]);
  const clientConfig = { region: REGION, credentials: CREDENTIALS };
  const s3 = new S3Client({ ...clientConfig, endpoint: aws.endpoint });
  const sns = new SNSClient({ ...clientConfig, endpoint: aws.endpoint });
  const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: dynamo.endpoint });
  const tableName = `bench-media-${randomUUID().slice(0, 8)}`;
  const bucket = `bench-media-${randomUUID().slice(0, 8)}`;
  await ensureTable(dynamodb, tableName);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const topicArn = (await sns.send(new CreateTopicCommand({ Name: 'bench-media' }))).TopicArn!;
  const config = loadSandboxConfig();
  const number = config.phoneNumbers.find((n) => n.phoneNumberId === PHONE_NUMBER_ID) ?? config.phoneNumbers[0]!;
  const sandboxS3 = multipartForLargePuts(new S3Client({ ...clientConfig, endpoint: aws.endpoint }));
  const sandbox = createSandbox({ config, sns, s3: sandboxS3, topicArn, region: REGION, accountId: '000000000000', log: () => {} });
  const server = await sandbox.listen(0);
  const store = new DynamoDbStore(documentClient(dynamodb), tableName);

  /** A media message waiting for its copy, and the file WhatsApp holds for it. */
  const prepare = async (spec: FileSpec, bytes: Buffer) => {
    const mediaId = String(Date.now()) + String(Math.floor(Math.random() * 1e6));
    const sha256 = createHash('sha256').update(bytes).digest('base64');
    const now = Date.now();
    sandbox.state.media.set(mediaId, {
      mediaId,
      bytes,
      mimeType: spec.mimeType,
      sha256,
      extension: spec.extension,
      source: 'inbound',
      phoneNumberId: number.phoneNumberId,
      wabaId: number.wabaId,
      createdAtMs: now,
      expiresAtMs: now + 7 * 24 * 3600 * 1000,
    });
    const wamid = `wamid.BENCH${randomUUID().replaceAll('-', '')}`;
    const id = messageIdFromWamid(wamid);
    await store.recordInbound({
      id,
      wamid,
      business: { phoneNumberId: number.phoneNumberId, metaPhoneNumberId: number.metaPhoneNumberId },
      contact: { waId: '16505551234' },
      contactId: '16505551234',
      type: spec.kind,
      content: { id: mediaId, mime_type: spec.mimeType, sha256 },
      media: { id: mediaId, mimeType: spec.mimeType, sha256 },
      timestampMs: now,
    });
    const job = { messageId: id, mediaId, phoneNumberId: number.phoneNumberId, contactId: '16505551234', timestampMs: now, mimeType: spec.mimeType, sha256 };
    const key = `${inboundMediaKey({ phoneNumberId: number.phoneNumberId, timestampMs: now, messageId: id })}${mediaId}.${spec.extension}`;
    return { job, key };
  };

  const rows: MediaBenchRow[] = [];
  try {
    for (const spec of FILES.filter((f) => f.bytes <= (opts.maxMb ?? Infinity) * MB)) {
      const bytes = generate(spec);
      const base = { tableName, bucket, awsEndpoint: aws.endpoint, dynamodbEndpoint: dynamo.endpoint, sandboxUrl: server.url };
      const warmup = { job: (await prepare(spec, generate({ ...spec, bytes: 100 * 1024 }))).job };
      const measured = await prepare(spec, bytes);
      const streaming = await runWorker({ ...base, mode: 'handler', warmup, measured: { job: measured.job } });
      const again = await prepare(spec, bytes);
      const warmupLive = { job: (await prepare(spec, generate({ ...spec, bytes: 100 * 1024 }))).job };
      const streamingLive = await runWorker({ ...base, mode: 'handler-gc', warmup: warmupLive, measured: { job: again.job } });
      // The comparison reads the object the measured run stored (after its own warm-up job).
      const warmup2 = { job: (await prepare(spec, generate({ ...spec, bytes: 100 * 1024 }))).job };
      const buffered = await runWorker({ ...base, mode: 'buffered', warmup: warmup2, measured: { job: measured.job, key: measured.key } });
      if (buffered.outcome !== measured.job.sha256) throw new Error('the stored object is not the generated file');
      sandbox.state.media.clear();
      rows.push({ file: spec.label, bytes: spec.bytes, streaming, streamingLive, buffered });
    }
  } finally {
    await server.close();
    for (const c of [s3, sandboxS3, sns, dynamodb]) c.destroy();
    await aws.stop();
    await dynamo.stop();
  }
  return rows;
}

export function printMediaBench(rows: MediaBenchRow[]): void {
  const f = (n: number, d = 1) => n.toFixed(d);
  const table: Record<string, Record<string, string>> = {};
  for (const r of rows) {
    const runs = [
      ['media handler (streamed SHA-256)', r.streaming],
      ['same, GC every 5 ms (live memory)', r.streamingLive],
      ['comparison: whole object in one buffer', r.buffered],
    ] as const;
    for (const [how, w] of runs) {
      table[`${r.file} — ${how}`] = {
        'total s': f(w.totalMs / 1000, 2),
        'GetWhatsAppMessageMedia s': w.downloadMs !== undefined ? f(w.downloadMs / 1000, 2) : '—',
        'read + SHA-256 s': f(w.digestMs / 1000, 2),
        'hash MB/s': f(toMb(r.bytes) / (w.digestMs / 1000), 0),
        'RSS base MB': f(w.baseline.rssMb),
        'RSS peak MB': f(w.peak.rssMb),
        'RSS growth MB': f(w.peak.rssMb - w.baseline.rssMb),
        'heap growth MB': f(w.peak.heapUsedMb - w.baseline.heapUsedMb),
        'buffers growth MB': f(w.peak.arrayBuffersMb - w.baseline.arrayBuffersMb),
      };
    }
  }
  console.log('\n== Media Lambda: one inbound copy (child process, after a warm-up job) ==');
  console.table(table);
  console.log('Growth = peak during the job minus the baseline after warm-up and GC (peak RSS from the kernel where available).');
  console.log('Timings of the GC-every-5-ms run include the forced collections.');
}

if (process.argv.includes('--worker')) {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const result = await worker(JSON.parse(Buffer.concat(chunks).toString('utf8')) as WorkerInput);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  printMediaBench(await benchMedia());
}
