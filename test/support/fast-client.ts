/**
 * A client that reads and replies as fast as it can, and sends in bursts: used by the fast-client
 * journey and by `npm run bench`. It answers counts by HTTP status and error code, so a caller can
 * assert none was `window_closed` or `send_in_doubt`.
 */
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
 * `bursts` bursts of `perBurst` concurrent template sends to fresh users, `pauseMs` apart. Answers
 * their tally.
 */
export async function burstSends(
  target: FastClientTarget,
  opts: { bursts: number; perBurst: number; pauseMs: number; phonePrefix: string },
): Promise<Tally & { sends: number }> {
  const pn = target.phoneNumbers[0]!.phoneNumberId;
  const replies: Reply[] = [];
  for (let b = 0; b < opts.bursts; b++) {
    if (b > 0) await new Promise((r) => setTimeout(r, opts.pauseMs));
    const burst = Array.from({ length: opts.perBurst }, (_, i) =>
      target.api('POST', '/v1/messages', {
        from: pn,
        to: userOf(opts.phonePrefix, b, i),
        type: 'template',
        template: { name: 'hello_world', language: { code: 'en_US' } },
      }),
    );
    replies.push(...(await Promise.all(burst)));
  }
  return { sends: replies.length, ...tally(replies) };
}
