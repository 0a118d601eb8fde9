/**
 * End-to-end latency of the local runtime: a simulated user's message posted to the sandbox →
 * readable through the API, over many messages sent at a steady rate; and the time from start to
 * ready. Each message is polled every 100 ms (from
 * 300 ms on), so latencies are accurate to about 100 ms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRuntime } from '../local/runtime.ts';

const quiet = { info: () => {}, warn: () => {}, error: (m: string) => console.error(m) };

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

export async function benchEndToEnd(opts: { messages: number; perSecond: number }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-bench-'));
  const t0 = performance.now();
  const runtime = await startRuntime({ dataDir, fresh: true, ports: { api: 0, sandbox: 0, aws: 0, dynamodb: 0 }, logger: quiet });
  const readyMs = performance.now() - t0;
  try {
    const { apiUrl, sandboxUrl, phoneNumbers } = runtime.info;
    const to = phoneNumbers[0]!.phoneNumberId;
    const latencies: number[] = [];
    const oneMessage = async (i: number) => {
      const from = `1650777${String(i % 50).padStart(4, '0')}`;
      const start = performance.now();
      const res = await fetch(`${sandboxUrl}/sandbox/inbound`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ from, to, type: 'text', text: { body: `message ${i}` } }),
      });
      const { wamid } = (await res.json()) as { wamid: string };
      // The first look comes after the queue's batching window has had a chance to pass.
      await new Promise((d) => setTimeout(d, 300));
      for (;;) {
        const r = await fetch(`${apiUrl}/v1/messages/${encodeURIComponent(wamid)}`);
        await r.arrayBuffer();
        if (r.status === 200) break;
        if (performance.now() - start > 30_000) throw new Error(`message ${i} not readable after 30 s`);
        await new Promise((d) => setTimeout(d, 100));
      }
      latencies.push(performance.now() - start);
    };
    const inflight: Promise<void>[] = [];
    const gap = 1000 / opts.perSecond;
    const begin = performance.now();
    for (let i = 0; i < opts.messages; i++) {
      const due = begin + i * gap;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((d) => setTimeout(d, wait));
      inflight.push(oneMessage(i));
    }
    await Promise.all(inflight);
    latencies.sort((a, b) => a - b);
    return {
      readyMs,
      messages: latencies.length,
      perSecond: opts.perSecond,
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1]!,
    };
  } finally {
    await runtime.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
