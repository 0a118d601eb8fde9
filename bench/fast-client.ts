/**
 * A client that reads and replies as fast as it can, and sends in bursts: used by `npm run bench`
 * (1,000 read-then-reply cycles, a burst of 500 sends) and, with small counts, by the fast-client
 * journey. It answers counts by HTTP status and error code, so a caller can check that none was
 * `window_closed` or `send_in_doubt`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRuntime } from '../local/runtime.ts';

export interface Reply {
  status: number;
  body: any;
}

export interface FastClientTarget {
  phoneNumbers: { phoneNumberId: string }[];
  api(method: string, path: string, body?: unknown): Promise<Reply>;
  sandbox(method: string, path: string, body?: unknown): Promise<Reply>;
}

export interface Tally {
  /** Answers by HTTP status. */
  byStatus: Record<number, number>;
  /** Error codes of the answers that were not 202. */
  byError: Record<string, number>;
}

function tally(replies: Reply[]): Tally {
  const byStatus: Record<number, number> = {};
  const byError: Record<string, number> = {};
  for (const r of replies) {
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    if (r.status !== 202) {
      const code = String(r.body?.error?.code ?? 'unknown');
      byError[code] = (byError[code] ?? 0) + 1;
    }
  }
  return { byStatus, byError };
}

/** A fresh user number for lane `lane`, cycle `i` (never in the not-on-WhatsApp range). */
const userOf = (prefix: string, lane: number, i: number) => `${prefix}${String(lane).padStart(2, '0')}${String(i).padStart(5, '0')}`;

/** Polls without pausing between reads: the fastest client there is. */
async function firstRead<T>(read: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('the inbound message never showed in the API');
  }
}

/**
 * `lanes` users at a time each write a message; the client reads it from the conversation as soon
 * as it shows and replies at once with a free-form text. Answers the replies' tally.
 */
export async function readThenReply(
  target: FastClientTarget,
  opts: { lanes: number; cyclesPerLane: number; phonePrefix: string },
): Promise<Tally & { cycles: number; readToReplyMs: number[] }> {
  const pn = target.phoneNumbers[0]!.phoneNumberId;
  const replies: Reply[] = [];
  const readToReplyMs: number[] = [];
  const lane = async (l: number) => {
    for (let i = 0; i < opts.cyclesPerLane; i++) {
      const user = userOf(opts.phonePrefix, l, i);
      const wrote = await target.sandbox('POST', '/sandbox/inbound', { from: user, to: pn, type: 'text', text: { body: `cycle ${i}` } });
      if (wrote.status !== 201) throw new Error(`the sandbox refused the inbound message: ${wrote.status}`);
      await firstRead(async () => {
        const page = await target.api('GET', `/v1/conversations/${pn}/${user}/messages`);
        return page.status === 200 && page.body.items?.some((m: { wamid?: string }) => m.wamid === wrote.body.wamid) ? true : undefined;
      });
      const t0 = performance.now();
      replies.push(await target.api('POST', '/v1/messages', { from: pn, to: user, type: 'text', text: { body: `reply ${i}` } }));
      readToReplyMs.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: opts.lanes }, (_, l) => lane(l)));
  return { cycles: replies.length, readToReplyMs, ...tally(replies) };
}

/**
 * `bursts` bursts of `perBurst` template sends to fresh users, `pauseMs` apart, each burst sent as
 * fast as the client can with at most `concurrency` requests in flight (default: all at once), as
 * a client with a connection pool does. Answers their tally.
 */
export async function burstSends(
  target: FastClientTarget,
  opts: { bursts: number; perBurst: number; pauseMs: number; phonePrefix: string; concurrency?: number },
): Promise<Tally & { sends: number }> {
  const pn = target.phoneNumbers[0]!.phoneNumberId;
  const replies: Reply[] = [];
  for (let b = 0; b < opts.bursts; b++) {
    if (b > 0) await new Promise((r) => setTimeout(r, opts.pauseMs));
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < opts.perBurst; i = next++) {
        replies.push(
          await target.api('POST', '/v1/messages', {
            from: pn,
            to: userOf(opts.phonePrefix, b, i),
            type: 'template',
            template: { name: 'hello_world', language: { code: 'en_US' } },
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? opts.perBurst, opts.perBurst) }, worker));
  }
  return { sends: replies.length, ...tally(replies) };
}

/** One request; a network failure is counted as `network:<code>`, not thrown. */
async function call(base: string, method: string, path: string, body?: unknown): Promise<Reply> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  } catch (err) {
    const code = ((err as Error).cause as { code?: string } | undefined)?.code ?? (err as Error).name;
    return { status: 0, body: { error: { code: `network:${code}` } } };
  }
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;

/**
 * The bench: a fresh local runtime, `cycles` read-then-reply cycles in `lanes` lanes, then one
 * burst of `burst` sends with `burstConcurrency` in flight. (Five hundred requests at once into
 * the one local API process mostly measure its queue: past API Gateway's 29 s they answer 504.)
 */
export async function benchFastClient(opts: { cycles: number; lanes: number; burst: number; burstConcurrency: number }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-bench-fast-'));
  const quiet = { info: () => {}, warn: () => {}, error: (m: string) => console.error(m) };
  const runtime = await startRuntime({ dataDir, fresh: true, ports: { api: 0, sandbox: 0, aws: 0, dynamodb: 0 }, logger: quiet });
  try {
    const target: FastClientTarget = {
      phoneNumbers: runtime.info.phoneNumbers,
      api: (m, p, b) => call(runtime.info.apiUrl, m, p, b),
      sandbox: (m, p, b) => call(runtime.info.sandboxUrl!, m, p, b),
    };
    const t0 = performance.now();
    const cycles = await readThenReply(target, { lanes: opts.lanes, cyclesPerLane: Math.ceil(opts.cycles / opts.lanes), phonePrefix: '1739' });
    const cyclesMs = performance.now() - t0;
    const t1 = performance.now();
    const burst = await burstSends(target, { bursts: 1, perBurst: opts.burst, pauseMs: 0, phonePrefix: '1740', concurrency: opts.burstConcurrency });
    const burstMs = performance.now() - t1;
    const sorted = [...cycles.readToReplyMs].sort((a, b) => a - b);
    return {
      cycles: { ...cycles, seconds: cyclesMs / 1000, replyP50Ms: percentile(sorted, 50), replyP99Ms: percentile(sorted, 99) },
      burst: { ...burst, seconds: burstMs / 1000 },
      burstConcurrency: opts.burstConcurrency,
    };
  } finally {
    await runtime.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function printFastClientBench(r: Awaited<ReturnType<typeof benchFastClient>>): void {
  const errors = (byError: Record<string, number>) => Object.entries(byError).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none';
  console.log('\n== A fast client (local runtime): read-then-reply and a burst of sends ==');
  console.table({
    [`${r.cycles.cycles} read-then-reply cycles`]: {
      '202': r.cycles.byStatus[202] ?? 0,
      window_closed: r.cycles.byError.window_closed ?? 0,
      'other errors': errors(Object.fromEntries(Object.entries(r.cycles.byError).filter(([k]) => k !== 'window_closed'))),
      seconds: r.cycles.seconds.toFixed(1),
    },
    [`burst of ${r.burst.sends} sends (${r.burstConcurrency} in flight)`]: {
      '202': r.burst.byStatus[202] ?? 0,
      send_in_doubt: r.burst.byError.send_in_doubt ?? 0,
      'other errors': errors(Object.fromEntries(Object.entries(r.burst.byError).filter(([k]) => k !== 'send_in_doubt'))),
      seconds: r.burst.seconds.toFixed(1),
    },
  });
  console.log(`Reply answer time after the read: p50 ${Math.round(r.cycles.replyP50Ms)} ms, p99 ${Math.round(r.cycles.replyP99Ms)} ms (targets: window_closed 0, send_in_doubt 0).`);
}
