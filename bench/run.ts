/**
 * `npm run bench`: every benchmark of the project, measured in one run on this machine.
 * Ratios are measured side by side; absolute times vary with the machine and its load.
 */
import { benchBundles } from './bundles.ts';
import { benchCost } from './cost.ts';
import { benchEndToEnd } from './e2e.ts';
import { atMost, printGoals, writeResults, type Goal } from './goals.ts';
import { benchInbound } from './inbound.ts';
import { benchMedia, printMediaBench } from './media.ts';

const fmt = (n: number, d = 2) => n.toFixed(d);
const startedAt = performance.now();
const goals: Goal[] = [];
const figures: Record<string, unknown> = {};
let complete = false;
// The goal table and the results file come out however the run ends: a later section that fails
// (a loaded machine) leaves the figures measured so far, marked incomplete.
process.on('exit', () => {
  printGoals(goals);
  const minutes = Number(((performance.now() - startedAt) / 60_000).toFixed(1));
  console.log(`results: ${writeResults(goals, { ...figures, complete, minutes })}`);
});

// What an event costs: write units, requests by service, invocations, cost per million.
const cost = await benchCost({ perKind: Number(process.env.BENCH_COST_EVENTS ?? 200) });
console.log('\n== Cost per event (the whole pipeline: inbound, the stream, events, webhook delivery; measured; USD without duration) ==');
console.table(
  Object.fromEntries(
    cost.kinds.map((k) => [
      k.kind,
      {
        'WCU/event': fmt(k.wcu),
        'of them refused (billed)': fmt(k.failedWcu),
        'RCU/event': fmt(k.rcu),
        'DynamoDB req': fmt(k.requests.DynamoDB),
        'SNS req': fmt(k.requests.SNS),
        'SQS req': fmt(k.requests.SQS),
        'invocations': fmt(Object.values(k.invocations).reduce((a, b) => a + b, 0), 3),
        'USD per million': fmt(k.costPerMillion),
        'x naive': fmt(k.costPerMillion / cost.naive.costPerMillion),
        'with local duration, x naive': fmt(k.costWithLocalDurationPerMillion / cost.naive.costWithLocalDurationPerMillion),
      },
    ]),
  ),
);
console.log(
  `naive design (SNS → a function per event → one PutItem): ${fmt(cost.naive.wcu)} WCU, ${fmt(cost.naive.costPerMillion)} USD per million events`,
);
const kind = (prefix: string) => cost.kinds.find((k) => k.kind.startsWith(prefix))!;
const newConv = kind('inbound message, new');
const existing = kind('inbound message, existing');
const redelivered = kind('inbound message, redelivered');
const status = kind('status');
goals.push(
  atMost('write units per inbound message (new conversation)', newConv.wcu, 4),
  atMost('write units per inbound message (existing conversation)', existing.wcu, 4),
  atMost('write units per status', status.wcu, 1),
  atMost('write units per redelivered message', redelivered.wcu, 1),
  atMost('cost per million inbound messages / naive', ((newConv.costPerMillion + existing.costPerMillion) / 2) / cost.naive.costPerMillion, 2),
  atMost('cost per million statuses / naive', status.costPerMillion / cost.naive.costPerMillion, 1.5),
);

figures.cost = cost;

// Bundles: size and cold load (CPU time, Tracer loaded), SDK bundled (as deployed) and from the runtime.
const bundles = await benchBundles({ runs: Number(process.env.BENCH_COLD_RUNS ?? 5) });
console.log('\n== Bundles: size and cold load vs `node -e 0` ==');
console.table(
  Object.fromEntries(
    bundles.bundles.map((b) => [`${b.name}, ${b.variant}`, { KiB: fmt(b.bytes / 1024, 1), 'cold cpu ms': Math.round(b.coldMs), 'wall ms': Math.round(b.wallMs), 'x node -e 0': fmt(b.ratio), deployed: b.deployed }]),
  ),
);
figures.bundles = bundles;
for (const b of bundles.bundles.filter((x) => x.deployed)) {
  goals.push(atMost(`cold start ${b.name} / node -e 0`, b.ratio, 2.5), atMost(`bundle ${b.name} KiB`, b.bytes / 1024, 500));
}

const inbound = await benchInbound();
console.log('\n== Inbound pipeline ==');
console.table({
  'floor: JSON.parse chain + schema parse': { 'CPU µs/event': fmt(inbound.cpu.floorUs, 1), 'x floor': '1.00' },
  'inbound handler, no-op store (our code)': { 'CPU µs/event': fmt(inbound.cpu.noopUs, 1), 'x floor': fmt(inbound.cpu.ratioNoop) },
  'inbound handler, DynamoDB Local (+ SDK)': { 'CPU µs/event': fmt(inbound.cpu.ddbUs, 1), 'x floor': fmt(inbound.cpu.ratioDdb) },
  'SDK alone: the same requests as bare PutItems': { 'CPU µs/event': fmt(inbound.cpu.sdkUs, 1), 'x floor': fmt(inbound.cpu.sdkUs / inbound.cpu.floorUs) },
});
console.log(
  `Handler with DynamoDB Local vs (floor + the SDK's own cost of the same requests): ${fmt(inbound.cpu.ratioDdbToFloorPlusSdk)}x`,
);
console.table({
  'inbound message (new)': inbound.requests.inbound,
  'status event': inbound.requests.status,
  'inbound message (redelivered)': inbound.requests.redelivered,
  'inbound message (late, older than the latest)': inbound.requests.lateOlder,
});
console.log(`DynamoDB requests per event above, counted on the client.`);
console.log(`Inbound bundle (as deployed: esbuild, ESM, minified, SDK bundled): ${(inbound.bundleBytes / 1024).toFixed(1)} KiB`);

const messages = Number(process.env.BENCH_E2E_MESSAGES ?? 1000);
const e2e = await benchEndToEnd({ messages, perSecond: 10 });
figures.e2e = e2e;
console.log('\n== Local runtime, end to end (sandbox inbound → readable in the API) ==');
console.log(`start → ready: ${(e2e.readyMs / 1000).toFixed(1)} s (fresh data dir)`);
console.table({
  [`${e2e.messages} messages at ${e2e.perSecond}/s`]: {
    'p50 ms': Math.round(e2e.p50),
    'p90 ms': Math.round(e2e.p90),
    'p99 ms': Math.round(e2e.p99),
    'max ms': Math.round(e2e.max),
  },
});

console.log('\n== Media Lambda: inbound copy with streamed SHA-256 ==');
printMediaBench(await benchMedia());

const { benchSend, printSendBench } = await import('./send.ts');
printSendBench(await benchSend());

const { benchFastClient, printFastClientBench } = await import('./fast-client.ts');
printFastClientBench(
  await benchFastClient({
    cycles: Number(process.env.BENCH_READ_REPLY_CYCLES ?? 1000),
    lanes: Number(process.env.BENCH_READ_REPLY_LANES ?? 8),
    burst: Number(process.env.BENCH_BURST_SENDS ?? 500),
    burstConcurrency: Number(process.env.BENCH_BURST_CONCURRENCY ?? 50),
  }),
);

// Its own process: the local runtime's handlers serve one runtime per process.
const { execFileSync } = await import('node:child_process');
execFileSync(process.execPath, [new URL('./events.ts', import.meta.url).pathname], { stdio: 'inherit', env: process.env });

complete = true;
