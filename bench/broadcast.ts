/**
 * The broadcast bench: a broadcast to simulated users through the local runtime, whose sandbox
 * enforces a per-number cap the local send path can sustain.
 * 1. Probe: `BENCH_BROADCAST_PROBE` recipients (default 200) unpaced under a cap of 1,000 → the
 *    rate this machine's local send path sustains.
 * 2. The broadcast: `BENCH_BROADCAST_RECIPIENTS` (default 5,000) under a cap of
 *    `BENCH_BROADCAST_CAP`, default 80% of the probe's rate; the runtime paces at the cap (its slots at `PACING_SHARE` of it; send permits hold the cap).
 * Each run is its own process (the handlers read their configuration once per process).
 * `node bench/broadcast.ts` runs this section alone.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { atMost, printGoals, type Goal } from './goals.ts';

export interface BroadcastRun {
  cap: number;
  pacedAt: number;
  recipients: number;
  /** SendWhatsAppMessage's latency: a permit is held for it and a second after. */
  sendCallMs: { p50: number; p99: number; calls: number };
  sent: number;
  achievedMps: number;
  busiestSecond: number;
  sendsOverCap: number;
  rateLimitErrors: number;
  pairRateErrors: number;
  pairRateViolations: number;
  tierViolations: number;
  statuses: Record<string, number>;
  requestsPerRecipient: Record<string, number>;
  wallSeconds: number;
  sendSeconds: number;
}

function run(cap: number, recipients: number, pace?: number): BroadcastRun {
  const out = execFileSync(process.execPath, [fileURLToPath(new URL('./broadcast-phase.ts', import.meta.url)), String(cap), String(recipients), ...(pace ? [String(pace)] : [])], {
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as BroadcastRun;
}

export function benchBroadcast(opts: { probe: number; recipients: number; cap?: number }): { probe?: BroadcastRun; run: BroadcastRun; goals: Goal[] } {
  const probe = opts.cap === undefined ? run(1000, opts.probe, 1) : undefined;
  const cap = opts.cap ?? Math.max(1, Math.floor(probe!.achievedMps * 0.8));
  const result = run(cap, opts.recipients);
  const requests = Object.values(result.requestsPerRecipient).reduce((a, b) => a + b, 0);
  const goals: Goal[] = [
    { name: 'broadcast achieved mps / cap', value: Number((result.achievedMps / cap).toFixed(3)), goal: '≥ 0.95', pass: result.achievedMps / cap >= 0.95 },
    atMost('broadcast rate-limit errors (130429)', result.rateLimitErrors, 0),
    atMost('broadcast pair-rate violations (131056 or < 6 s apart)', result.pairRateErrors + result.pairRateViolations, 0),
    atMost('broadcast tier violations (a user sent twice)', result.tierViolations, 0),
    atMost('broadcast sends over the cap in any second', result.sendsOverCap, 0),
    atMost('broadcast AWS requests per recipient (send side)', requests, 25),
  ];
  return { ...(probe && { probe }), run: result, goals };
}

export function printBroadcastBench(r: ReturnType<typeof benchBroadcast>): void {
  console.log('\n== Broadcast through the sandbox under a per-number cap (uploaded list) ==');
  const row = (x: BroadcastRun) => ({
    cap: x.cap,
    'paced at': x.pacedAt,
    recipients: x.recipients,
    sent: x.sent,
    'achieved mps': x.achievedMps.toFixed(2),
    'busiest second': x.busiestSecond,
    'send call p50/p99 ms': `${x.sendCallMs.p50}/${x.sendCallMs.p99}`,
    '130429': x.rateLimitErrors,
    read: x.statuses?.read ?? 0,
    'send s': x.sendSeconds.toFixed(1),
    'wall s': x.wallSeconds.toFixed(1),
  });
  console.table({ ...(r.probe && { 'probe (unpaced)': row(r.probe) }), broadcast: row(r.run) });
  console.log(`AWS requests per recipient (the API's create and the broadcast function): ${JSON.stringify(Object.fromEntries(Object.entries(r.run.requestsPerRecipient).map(([k, v]) => [k, Number(v.toFixed(2))])))}`);
}

export const broadcastOptions = () => ({
  probe: Number(process.env.BENCH_BROADCAST_PROBE ?? 200),
  recipients: Number(process.env.BENCH_BROADCAST_RECIPIENTS ?? 5000),
  ...(process.env.BENCH_BROADCAST_CAP && { cap: Number(process.env.BENCH_BROADCAST_CAP) }),
});

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = benchBroadcast(broadcastOptions());
  printBroadcastBench(r);
  printGoals(r.goals);
}
