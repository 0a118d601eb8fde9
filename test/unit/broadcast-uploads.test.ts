/**
 * Uploaded recipient lists, against DynamoDB Local and the S3 emulator: the list is read in pages
 * (byte ranges, never the whole file), bad rows are counted by reason and never stop the good ones,
 * and a page loaded twice (SQS delivers at least once) adds and counts nobody twice; the broadcast
 * only completes once its last page is loaded.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbBroadcasts } from '../../shared/adapters/dynamodb-broadcasts.ts';
import { mediaS3Client, S3MediaStorage } from '../../shared/adapters/s3-media.ts';
import { listKey, parseRow, type RecipientsLoadJob } from '../../shared/domain/broadcast-uploads.ts';
import { Broadcasts, type BroadcastDeps, type BroadcastJob, type SettleJob } from '../../shared/domain/broadcasts.ts';
import { ApiError } from '../../shared/domain/errors.ts';
import type { RecipientListStorage } from '../../shared/ports/broadcasts.ts';
import { startAwsEmulator, type RunningServer } from '../../local/servers.ts';
import { freshTable } from '../support/dynamodb.ts';

const PN = 'phone-number-id-8c269d706f26ca27f43f02e75cb429a0';
const BUCKET = 'lists';
let aws: RunningServer;
let s3: ReturnType<typeof mediaS3Client>;
let ranges: number[];
let lists: RecipientListStorage;

beforeAll(async () => {
  aws = await startAwsEmulator();
  s3 = mediaS3Client({ endpoint: aws.endpoint, region: 'us-east-1', credentials: { accessKeyId: 't', secretAccessKey: 't' } });
  const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const storage = new S3MediaStorage(s3, BUCKET);
  lists = {
    presignPut: (k, o) => storage.presignPut(k, o),
    head: (k) => storage.head(k),
    readRange: async (k, start, end) => {
      const bytes = await storage.readRange(k, start, end);
      ranges.push(bytes.length);
      return bytes;
    },
  };
}, 60_000);
afterAll(async () => {
  s3?.destroy();
  await aws?.stop();
});

/** The body's parameter count must be one: a row with two is refused by the template check. */
const sender = {
  resolvePhoneNumber: async () => PN,
  checkTemplate: async (_pn: string, t: { components?: unknown[] }) => {
    const body = (t.components ?? []).find((c: any) => c.type === 'body') as { parameters?: unknown[] } | undefined;
    if ((body?.parameters?.length ?? 1) !== 1) throw new ApiError('unprocessable', 'template_parameter_mismatch', 'body expects 1 parameter');
    return true;
  },
  templateCategory: async () => 'UTILITY',
  send: async () => {
    throw new Error('no send in this test');
  },
};

async function setUp(file: string, pageBytes: number, maxRecipients?: number) {
  const { doc, tableName } = await freshTable();
  const store = new DynamoDbBroadcasts(doc, tableName);
  const queued: (BroadcastJob | RecipientsLoadJob | SettleJob)[] = [];
  const broadcasts = new Broadcasts({
    store,
    pacer: store,
    pairs: store,
    queue: { enqueue: async (jobs) => void queued.push(...jobs) },
    sender: sender as unknown as BroadcastDeps['sender'],
    queries: { getMessage: async () => undefined },
    messagesPerSecond: () => 80,
    now: Date.now,
    sleep: async () => {},
    lists: () => lists,
    listPageBytes: pageBytes,
    ...(maxRecipients !== undefined && { listMaxRecipients: maxRecipients }),
  });
  const ticket = await broadcasts.startUpload(Buffer.byteLength(file));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: listKey(ticket.uploadId), Body: file }));
  ranges = [];
  return { store, broadcasts, queued, uploadId: ticket.uploadId };
}

const body1 = (x: string) => [{ type: 'body', parameters: [{ type: 'text', text: x }] }];

describe('uploaded recipient lists', () => {
  it('reads the list in pages, counts bad rows by reason, and loads a page twice without counting twice', async () => {
    // Prepare: 40 good rows, and one of each kind of bad row, over pages of 128 bytes
    const good = Array.from({ length: 40 }, (_, i) => `1415600${String(1000 + i)}`);
    const lines = [
      'to',
      ...good.slice(0, 20),
      'not a phone',
      `{"to":"+${good[20]}","parameters":${JSON.stringify(body1('Sheena'))}}`,
      '{"to": broken json',
      `{"to":"+${good[21]}","parameters":[{"type":"body","parameters":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}`,
      `{"to":"+${good[22]}","parameters":"nope"}`,
      '',
      ...good.slice(23, 30).map((g) => `${g}\r`),
      good[0]!, // a duplicate of a row on another page
      `1415${'9'.repeat(300)}`, // a line longer than a page
      ...good.slice(30),
    ];
    const file = `${lines.join('\n')}\n`;
    const { store, broadcasts, queued, uploadId } = await setUp(file, 128);

    // Act: create, then deliver every load job twice, as SQS may
    const created = await broadcasts.create({ from: PN, template: { name: 'hello_world', language: { code: 'en_US' } }, recipientsUpload: uploadId });
    const sendJobs: BroadcastJob[] = [];
    let pages = 0;
    while (queued.length) {
      const job = queued.shift()!;
      if ('load' in job) {
        pages++;
        await broadcasts.loadPage(job);
        await broadcasts.loadPage(job);
      } else if (!('settle' in job)) sendJobs.push(job);
    }
    const b = await broadcasts.get(created.id);
    const all = await store.listRecipients(created.id, { limit: 100 });

    // Assess
    expect(created).toMatchObject({ state: 'queued', total: 0, recipientsUpload: { uploadId, loading: true } });
    expect(pages).toBeGreaterThan(8);
    expect(Math.max(...ranges)).toBeLessThanOrEqual(128);
    const accepted = [...good.slice(0, 21), ...good.slice(23)];
    expect(all.items.map((r) => r.to).sort()).toEqual(accepted.sort());
    expect(all.items.find((r) => r.to === good[20])?.parameters).toEqual(body1('Sheena'));
    expect(b.total).toBe(accepted.length);
    expect(b.counts.queued).toBe(accepted.length);
    expect(new Set(sendJobs.map((j) => j.to))).toEqual(new Set(accepted));
    expect(b.recipientsUpload).toMatchObject({
      loading: false,
      rows: accepted.length + 6,
      rejected: 6,
      rejectedBy: { invalid_phone: 1, invalid_row: 1, template_refused: 1, invalid_parameters: 1, duplicate: 1, line_too_long: 1 },
    });
    expect(b.recipientsUpload!.rejectedSamples.map((s) => s.line).sort((x, y) => x - y)).toEqual([22, 24, 25, 26, 35, 36]);
  }, 60_000);

  it('adds recipients 99 to a write and counts each once when a page is added again with new ones among them', async () => {
    // Prepare: 250 recipients (three writes), and a retry of them with 20 new ones mixed in
    const { doc, tableName } = await freshTable();
    const store = new DynamoDbBroadcasts(doc, tableName);
    const recipient = (i: number, seq: number) => ({ to: `1415700${String(1000 + i)}`, seq, state: 'queued' as const });
    const first = Array.from({ length: 250 }, (_, i) => recipient(i, i));
    const again = [...first.slice(0, 100), ...Array.from({ length: 20 }, (_, i) => recipient(250 + i, 250 + i)), ...first.slice(100)];
    await store.create({ id: 'bc-chunks', phoneNumberId: PN, template: { name: 'hello_world', language: { code: 'en_US' } }, category: 'UTILITY', state: 'queued', total: 270, createdAt: new Date().toISOString(), counts: { queued: 0, sending: 0, sent: 0, failed: 0, in_doubt: 0, cancelled: 0, skipped: 0 } });

    // Act
    const firstExisting = await store.addRecipients('bc-chunks', first);
    const againExisting = await store.addRecipients('bc-chunks', again);
    const b = await store.get('bc-chunks');

    // Assess: the retry finds exactly the 250 with the seq each was added with, and counts only the 20
    expect(firstExisting).toEqual([]);
    expect(againExisting.sort((x, y) => x.seq - y.seq)).toEqual(first.map((r) => ({ to: r.to, seq: r.seq })));
    expect(b?.counts.queued).toBe(270);
    for (const r of [first[0]!, first[249]!, again[100]!]) expect((await store.getRecipient('bc-chunks', r.to))?.seq).toBe(r.seq);
  }, 60_000);

  it('does not complete before the last page is loaded, and completes after it', async () => {
    // Prepare
    const file = '14156001000\n14156001001\n14156001002\n';
    const { broadcasts, queued, uploadId } = await setUp(file, 12);
    const created = await broadcasts.create({ from: PN, template: { name: 'hello_world', language: { code: 'en_US' } }, recipientsUpload: uploadId });

    // Act: the first page's recipient is stopped (cancelled) before the rest loads
    await broadcasts.loadPage(queued.shift() as RecipientsLoadJob);
    await broadcasts.stop(created.id);
    const whileLoading = await broadcasts.get(created.id);
    while (queued.length) {
      const job = queued.shift()!;
      await broadcasts.handle(job);
    }
    const after = await broadcasts.get(created.id);

    // Assess: the stop held the rest of the list back
    expect(whileLoading.state).toBe('stopping');
    expect(after.state).toBe('stopped');
    expect(after.total).toBe(1);
    expect(after.counts.cancelled).toBe(1);
    expect(after.recipientsUpload?.loading).toBe(false);
  }, 60_000);

  it('limits a list by its recipients: the header, empty lines, refused rows and duplicates do not count', async () => {
    // Prepare: a limit of 4 recipients; 6 good rows among lines that are not recipients, over several pages
    const good = Array.from({ length: 6 }, (_, i) => `1415601${String(1000 + i)}`);
    const file = `${['to', '', good[0], 'not a phone', '', good[1], good[0], '', good[2], '{"to": broken', good[3], good[4], good[5]].join('\n')}\n`;
    const { store, broadcasts, queued, uploadId } = await setUp(file, 40, 4);

    // Act
    const created = await broadcasts.create({ from: PN, template: { name: 'hello_world', language: { code: 'en_US' } }, recipientsUpload: uploadId });
    let pages = 0;
    while (queued.length) {
      const job = queued.shift()!;
      if ('load' in job) pages++;
      if (!('to' in job)) await broadcasts.handle(job);
    }
    const b = await broadcasts.get(created.id);
    const all = await store.listRecipients(created.id, { limit: 100 });

    // Assess
    expect(pages).toBeGreaterThan(2);
    expect(all.items.map((r) => r.to).sort()).toEqual(good.slice(0, 4));
    expect(b.total).toBe(4);
    expect(b.recipientsUpload).toMatchObject({ loading: false, rows: 9, rejected: 5, rejectedBy: { invalid_phone: 1, invalid_row: 1, duplicate: 1, over_limit: 2 } });
  }, 60_000);

  it('refuses a broadcast whose list was never uploaded, and rows that are not recipients', async () => {
    const { broadcasts } = await setUp('x\n', 64);
    await expect(broadcasts.create({ from: PN, template: { name: 'hello_world', language: { code: 'en_US' } }, recipientsUpload: `rcl_${'0'.repeat(32)}` })).rejects.toMatchObject({
      code: 'recipients_upload_not_found',
    });
    const valid = () => true;
    expect(parseRow('+1 (415) 555-0100', valid)).toEqual({ ok: true, to: '14155550100' });
    expect(parseRow('{"to":"14155550100","extra":1}', valid)).toEqual({ ok: false, reason: 'invalid_row' });
    expect(parseRow('{"to":"abc"}', valid)).toEqual({ ok: false, reason: 'invalid_phone' });
  });
});
