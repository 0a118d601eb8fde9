/**
 * Uploaded recipient lists: broadcasts to more recipients than a request can carry (up to
 * 1,000,000), from a file put to the media bucket with a presigned URL, as media uploads are.
 *
 * The file: one recipient per line (UTF-8), either a phone number (`+14155550100`) or a JSON
 * object `{"to", "parameters"?}` (`parameters` as in an inline recipient); an optional first line
 * `to` (a CSV header) and empty lines are skipped.
 *
 * 1. `POST /v1/broadcasts/uploads {size}` → a presigned PUT bound to that size.
 * 2. `POST /v1/broadcasts {from, template, recipientsUpload}` checks the template and the file's
 *    presence, creates the broadcast `loading` with no recipient, and queues its first load job.
 * 3. A load job (`loadRecipientsPage`) reads one page of the file (a byte range of at most
 *    `LIST_PAGE_BYTES`, cut at its last line end: memory never holds the file), writes each good
 *    row as a recipient (conditional: a retried page adds nobody twice), tallies the page once
 *    (a conditional page marker and the broadcast's counts in one transaction), queues the rows'
 *    send jobs, then the next page's load job, and marks the page queued (a page delivered again
 *    after that queues nothing, so a duplicate never doubles the rest of the chain); the last
 *    page ends `loading`, and only then can the broadcast complete.
 * A bad row (not a phone number, not JSON, bad parameters, a duplicate, refused by the template
 * check, beyond the limit) is counted by reason and a few are kept as samples; it never stops the
 * others. The sequence number of a row is its line number, so every retry computes the same page.
 */
import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import type { BroadcastQueue, BroadcastStore, RecipientListStorage } from '../ports/broadcasts.ts';
import type { Broadcast, Recipient } from './broadcasts.ts';
import { ApiError, NotFoundError } from './errors.ts';
import { phoneDigits } from './ids.ts';
import { MB } from './media.ts';
import { RECIPIENT_LIST_PREFIX } from '../resource-spec.ts';

/** Where the lists live in the media bucket (the resource spec, which the construct reads too). */
export { RECIPIENT_LIST_PREFIX };
/** Recipients of one list at most: good rows after the millionth are refused as `over_limit` (empty lines, the header and refused rows do not count). */
export const MAX_UPLOADED_RECIPIENTS = 1_000_000;
/** Bytes of one list at most: a million rows with their parameters. */
export const MAX_LIST_BYTES = 512 * MB;
/** Bytes one load job reads: a page is cut at its last line end, so a line may be this long. */
export const LIST_PAGE_BYTES = 256 * 1024;
/** Rows one load job takes at most: its writes finish well within the job's time. */
export const LIST_PAGE_ROWS = 512;
/** The Content-Type the upload URL is signed for. */
export const LIST_CONTENT_TYPE = 'application/x-ndjson';
/** Lifetime of an upload URL. */
export const LIST_UPLOAD_URL_TTL_SECONDS = 15 * 60;
/** Refused rows kept as examples on the broadcast. */
export const MAX_REJECT_SAMPLES = 20;

export const REJECT_REASONS = ['invalid_row', 'invalid_phone', 'invalid_parameters', 'duplicate', 'template_refused', 'over_limit', 'line_too_long'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export const UPLOAD_ID_PATTERN = /^rcl_[0-9a-f]{32}$/;
export const listKey = (uploadId: string) => `${RECIPIENT_LIST_PREFIX}${uploadId}.ndjson`;

/** One page to load: where it starts in the file and the line number of its first line. */
export interface RecipientsLoadJob {
  broadcastId: string;
  load: {
    offset: number;
    line: number;
    /** The page starts inside a line already refused as too long: its rest is skipped. */
    skipPartial?: boolean;
    /** Recipients the pages before this one added (the limit counts them). */
    accepted?: number;
  };
}

export const StartListUploadSchema = z
  .strictObject({
    size: z
      .int({ error: 'size must be the number of bytes of the file' })
      .min(1, { error: 'size must be at least 1 byte: the list is empty' })
      .max(MAX_LIST_BYTES, { error: `a recipient list holds at most ${MAX_LIST_BYTES / MB} MB` }),
  })
  .meta({ id: 'StartRecipientsUpload' });

export interface ListUploadTicket {
  uploadId: string;
  uploadUrl: string;
  method: 'PUT';
  headers: Record<string, string>;
  expiresAt: string;
}

/** Starts an upload: a presigned PUT of exactly `size` bytes under a new id. */
export async function startRecipientsUpload(size: number, deps: { lists: RecipientListStorage; now: () => number }): Promise<ListUploadTicket> {
  const uploadId = `rcl_${randomBytes(16).toString('hex')}`;
  const { url, headers } = await deps.lists.presignPut(listKey(uploadId), { expiresInSeconds: LIST_UPLOAD_URL_TTL_SECONDS, contentType: LIST_CONTENT_TYPE, contentLength: size });
  return { uploadId, uploadUrl: url, method: 'PUT', headers, expiresAt: new Date(deps.now() + LIST_UPLOAD_URL_TTL_SECONDS * 1000).toISOString() };
}

/** The size of an uploaded list; a clear error when it is not there (yet). */
export async function uploadedListSize(uploadId: string, lists: RecipientListStorage): Promise<number> {
  const head = UPLOAD_ID_PATTERN.test(uploadId) ? await lists.head(listKey(uploadId)) : undefined;
  if (!head) {
    throw new NotFoundError(
      `No uploaded recipient list has the id ${uploadId.slice(0, 80)}: start one with POST /v1/broadcasts/uploads and PUT the file to its uploadUrl first.`,
      'recipients_upload_not_found',
    );
  }
  if (head.size === 0) throw new ApiError('unprocessable', 'recipients_upload_empty', `The recipient list ${uploadId} is empty: upload one recipient per line.`);
  return head.size;
}

const PHONE = /^\+?[0-9][0-9 ()-]{4,30}$/;
const RowSchema = z.strictObject({ to: z.string().regex(PHONE), parameters: z.array(z.unknown()).optional() });

export type ParsedRow = { ok: true; to: string; parameters?: unknown[] } | { ok: false; reason: RejectReason };

/** One line of the file (without its line end). */
export function parseRow(line: string, parameters: (p: unknown[]) => boolean): ParsedRow {
  if (line.startsWith('{')) {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      return { ok: false, reason: 'invalid_row' };
    }
    const parsed = RowSchema.safeParse(raw);
    if (!parsed.success) {
      const path = parsed.error.issues[0]?.path[0];
      return { ok: false, reason: path === 'to' ? 'invalid_phone' : path === 'parameters' ? 'invalid_parameters' : 'invalid_row' };
    }
    if (parsed.data.parameters && !parameters(parsed.data.parameters)) return { ok: false, reason: 'invalid_parameters' };
    return { ok: true, to: phoneDigits(parsed.data.to), ...(parsed.data.parameters && { parameters: parsed.data.parameters }) };
  }
  return PHONE.test(line) ? { ok: true, to: phoneDigits(line) } : { ok: false, reason: 'invalid_phone' };
}

export interface PageTally {
  /** Lines read (empty lines and the header not counted). */
  rows: number;
  accepted: number;
  rejectedBy: Partial<Record<RejectReason, number>>;
  /** The last page: the list is loaded. */
  last: boolean;
}

export interface LoadDeps {
  store: BroadcastStore;
  queue: BroadcastQueue;
  lists: RecipientListStorage;
  /** Whether a row's own components pass the template check of the broadcast's template. */
  rowTemplateOk: (b: Broadcast, components: unknown[]) => Promise<boolean>;
  /** Whether a row's `parameters` are template components at all. */
  componentsValid: (p: unknown[]) => boolean;
  /** Completes the broadcast when every recipient is done (after the last page). */
  settle: (broadcastId: string) => Promise<void>;
  /** @default LIST_PAGE_BYTES */
  pageBytes?: number;
  /** @default MAX_UPLOADED_RECIPIENTS */
  maxRecipients?: number;
}

const NEWLINE = 0x0a;

/** Loads one page of a broadcast's uploaded list (see the steps at the top of this file). */
export async function loadRecipientsPage(job: RecipientsLoadJob, deps: LoadDeps): Promise<void> {
  const b = await deps.store.get(job.broadcastId);
  if (!b?.upload || !b.upload.loading) return;
  const { offset, line: firstLine } = job.load;
  const size = b.upload.size;
  // A stopped broadcast loads no more: the rest of the list is never read.
  if (b.state === 'stopping' || b.state === 'stopped') {
    await deps.store.recordPage(b.id, offset, { rows: 0, accepted: 0, rejectedBy: {}, last: true }, []);
    await deps.settle(b.id);
    return;
  }
  const end = Math.min(size, offset + (deps.pageBytes ?? LIST_PAGE_BYTES));
  const bytes = await deps.lists.readRange(listKey(b.upload.id), offset, end);
  let eof = end >= size;
  // The page ends after its last whole line, and after LIST_PAGE_ROWS lines at most.
  let lastNewline = -1;
  for (let i = 0, count = 0; i < bytes.length; i++) {
    if (bytes[i] !== NEWLINE) continue;
    lastNewline = i;
    if (++count === LIST_PAGE_ROWS + (job.load.skipPartial ? 1 : 0)) {
      if (i + 1 < bytes.length) eof = false;
      break;
    }
  }
  const rejectedBy: Partial<Record<RejectReason, number>> = {};
  const samples: { line: number; reason: RejectReason }[] = [];
  const reject = (line: number, reason: RejectReason) => {
    rejectedBy[reason] = (rejectedBy[reason] ?? 0) + 1;
    if (samples.length < 5) samples.push({ line: line + 1, reason });
  };

  let rows = 0;
  let next: RecipientsLoadJob['load'] | undefined;
  let lines: string[];
  if (!eof && lastNewline < 0) {
    // No line end in a whole page: the line is too long (counted once), its rest skipped.
    lines = [];
    if (!job.load.skipPartial) {
      rows++;
      reject(firstLine, 'line_too_long');
    }
    next = { offset: end, line: job.load.skipPartial ? firstLine : firstLine + 1, skipPartial: true };
  } else {
    const cut = eof ? bytes.length : lastNewline + 1;
    lines = new TextDecoder().decode(bytes.subarray(0, cut)).split('\n');
    if (lines.at(-1) === '') lines.pop();
    if (job.load.skipPartial) lines.shift();
    if (!eof) next = { offset: offset + cut, line: firstLine + lines.length };
  }

  const accepted: Recipient[] = [];
  const before = job.load.accepted ?? 0;
  const seen = new Set<string>();
  const verdicts = new Map<string, boolean>();
  for (const [i, raw] of lines.entries()) {
    const lineNo = firstLine + i;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim() === '' || (lineNo === 0 && text.trim().toLowerCase() === 'to')) continue;
    rows++;
    const row = parseRow(text.trim(), deps.componentsValid);
    if (!row.ok) {
      reject(lineNo, row.reason);
      continue;
    }
    if (seen.has(row.to)) {
      reject(lineNo, 'duplicate');
      continue;
    }
    if (row.parameters) {
      const shape = JSON.stringify(row.parameters);
      if (!verdicts.has(shape)) verdicts.set(shape, await deps.rowTemplateOk(b, row.parameters));
      if (!verdicts.get(shape)) {
        reject(lineNo, 'template_refused');
        continue;
      }
    }
    if (before + accepted.length >= (deps.maxRecipients ?? MAX_UPLOADED_RECIPIENTS)) {
      reject(lineNo, 'over_limit');
      continue;
    }
    seen.add(row.to);
    accepted.push({ to: row.to, seq: lineNo, state: 'queued', ...(row.parameters && { parameters: row.parameters }) });
  }

  // A recipient already there from another line is a duplicate; from this line (a retried page), ours.
  const existing = await deps.store.addRecipients(b.id, accepted);
  const duplicates = new Set(existing.filter((e) => accepted.some((r) => r.to === e.to && r.seq !== e.seq)).map((e) => e.to));
  const added = accepted.filter((r) => !duplicates.has(r.to));
  for (const r of accepted) if (duplicates.has(r.to)) reject(r.seq, 'duplicate');

  const first = await deps.store.recordPage(b.id, offset, { rows, accepted: added.length, rejectedBy, last: next === undefined }, samples);
  // A page loaded again after its jobs were queued queues nothing: a duplicate would double the
  // rest of the chain. Loaded again before that (a crash in between), it queues them (again).
  if (first || !(await deps.store.pageQueued(b.id, offset))) {
    await deps.queue.enqueue(added.map((r) => ({ broadcastId: b.id, to: r.to, seq: r.seq })));
    if (next) await deps.queue.enqueue([{ broadcastId: b.id, load: { ...next, accepted: before + added.length } }]);
    await deps.store.markPageQueued(b.id, offset);
  }
  if (!next) await deps.settle(b.id);
}
