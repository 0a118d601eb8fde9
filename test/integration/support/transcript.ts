/**
 * An opt-in transcript of the journeys' HTTP exchanges: with `WB_TRANSCRIPT_DIR` set, every request a
 * journey makes (to the API and to the sandbox WABA) and its answer are written to
 * `<dir>/<journey file>.txt` when the file's tests end. Ids, timestamps, ports and signatures are
 * masked (each distinct id keeps its own stable placeholder, so "the same id again" still shows), and
 * a poll that repeats the same request keeps only its last answer, so two runs of the same code write
 * the same text. Two things the backend does not decide are left out: the sandbox WABA's own progress
 * of a sent message (`status`, `statuses` in its outbox, which move on its timers), and the order of
 * list items with the same timestamp (ordered by their random ids; written here by their content).
 * Compare a branch's transcript with a baseline to see that no answer changed:
 *   WB_TRANSCRIPT_DIR=/tmp/transcript npx vitest run test/integration
 *   diff -r test/integration/transcript /tmp/transcript
 * `test/integration/transcript/` holds the one recorded before the read model, send path and error
 * translation were restructured. One exchange may still differ between runs: two messages of the
 * same second paged one per page (`limit=1`) come in the order of their random ids.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, expect } from 'vitest';

interface Exchange {
  test: string;
  request: string;
  answer: string;
}

const dir = process.env.WB_TRANSCRIPT_DIR;
const exchanges: Exchange[] = [];

const KEPT_HEADERS = ['content-type', 'location', 'retry-after', 'idempotency-replayed', 'cache-control', 'allow'];

class Masker {
  private readonly names = new Map<string, string>();
  private name(kind: string, value: string): string {
    const key = `${kind}:${value}`;
    let n = this.names.get(key);
    if (!n) {
      n = `<${kind}${[...this.names.keys()].filter((k) => k.startsWith(`${kind}:`)).length + 1}>`;
      this.names.set(key, n);
    }
    return n;
  }
  text(s: string): string {
    return s
      .replace(/https?:\/\/(localhost|127\.0\.0\.1)(:\d+)?/g, 'http://<host>')
      .replace(/X-Amz-[A-Za-z-]+=[^&"\s]+/g, (m) => `${m.split('=')[0]}=<masked>`)
      .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, '<time>')
      // The day folder of a stored file's S3 key (the day of the run).
      .replace(/\/\d{4}\/\d{2}\/\d{2}\//g, '/<day>/')
      .replace(/msg_[0-9a-f]{32}/g, (m) => this.name('msg', m))
      .replace(/upl_[0-9a-f]{32}/g, (m) => this.name('upl', m))
      .replace(/\b[0-9a-f]{64}\b/g, (m) => this.name('hash', m))
      .replace(/\b[0-9a-f]{32}\b/g, (m) => this.name('hex', m))
      .replace(/\b\d{15,17}\b/g, (m) => this.name('num', m))
      .replace(/wamid\.[A-Za-z0-9_=+/-]+/g, (m) => this.name('wamid', m))
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, (m) => this.name('uuid', m))
      .replace(/("(?:cursor|nextCursor|next_cursor)"\s*:\s*")[^"]+/g, (_m, p: string) => `${p}<cursor>`)
      .replace(/([?&]cursor=)[^&"\s]+/g, (_m, p: string) => `${p}<cursor>`)
      .replace(/([?&](?:mid|hash|ext)=)[^&"\s]+/g, (_m, p: string) => `${p}<masked>`)
      .replace(/\b1[5-9]\d{8}(\d{3})?\b/g, '<epoch>');
  }
}

/** The sandbox's outbox without its own, timer-driven progress of each message. */
function withoutSandboxProgress(body: unknown): unknown {
  if (!Array.isArray(body)) return body;
  return body.map((e) => {
    if (typeof e !== 'object' || e === null) return e;
    const { status: _s, statuses: _ss, ...rest } = e as Record<string, unknown>;
    return rest;
  });
}

/** A page whose items tie on `timestamp` comes in the order of their random ids: tied items by content here. */
function tiesByContent(body: unknown): unknown {
  const items = (body as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) return body;
  const stamp = (i: unknown) => String((i as { timestamp?: unknown } | null)?.timestamp ?? '');
  const content = (i: unknown) => {
    const { id: _i, wamid: _w, ...rest } = (i ?? {}) as Record<string, unknown>;
    return JSON.stringify(rest);
  };
  const sorted = [...items];
  for (let a = 0; a < sorted.length; ) {
    let b = a + 1;
    while (b < sorted.length && stamp(sorted[b]) === stamp(sorted[a])) b++;
    const tied = sorted.slice(a, b).sort((x, y) => content(x).localeCompare(content(y)));
    sorted.splice(a, tied.length, ...tied);
    a = b;
  }
  return { ...(body as object), items: sorted };
}

function show(body: unknown): string {
  if (body === undefined) return '';
  return typeof body === 'string' ? JSON.stringify(body) : JSON.stringify(body, null, 2);
}

/** Records one exchange (a no-op unless `WB_TRANSCRIPT_DIR` is set). */
export function record(target: 'api' | 'sandbox', method: string, path: string, body: unknown, headers: Record<string, string>, status: number, answerHeaders: Headers, answer: unknown): void {
  if (!dir) return;
  const state = expect.getState();
  const sent = Object.entries(headers)
    .filter(([k]) => k.toLowerCase() !== 'content-type')
    .map(([k, v]) => `${k}: ${v}\n`)
    .join('');
  const got = KEPT_HEADERS.flatMap((h) => (answerHeaders.get(h) === null ? [] : [`${h}: ${answerHeaders.get(h)}\n`])).join('');
  const shown = target === 'sandbox' && path.startsWith('/sandbox/outbox') ? withoutSandboxProgress(answer) : tiesByContent(answer);
  const exchange = {
    test: state.currentTestName ?? '(setup)',
    request: `${target} ${method} ${path}\n${sent}${show(body)}`,
    answer: `${status}\n${got}${show(shown)}`,
  };
  const last = exchanges.at(-1);
  // A poll repeats the same request until its answer changes: keep only the last answer.
  if (last && last.test === exchange.test && last.request === exchange.request) exchanges.pop();
  exchanges.push(exchange);
}

if (dir) {
  afterAll(() => {
    const file = basename(expect.getState().testPath ?? 'journey');
    const masker = new Masker();
    let test = '';
    const out: string[] = [];
    for (const e of exchanges) {
      if (e.test !== test) out.push(`\n### ${(test = e.test)}\n`);
      out.push(`> ${masker.text(e.request)}\n< ${masker.text(e.answer)}\n`);
    }
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${file}.txt`), out.join('\n'));
  });
}
