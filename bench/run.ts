/**
 * `npm run bench`: every benchmark of the project, measured in one run on this machine.
 * Ratios are measured side by side; absolute times vary with the machine and its load.
 */
import { benchInbound } from './inbound.ts';

const fmt = (n: number, d = 2) => n.toFixed(d);

const inbound = await benchInbound();
console.log('\n== Inbound pipeline ==');
console.table({
  'floor: JSON.parse chain + schema parse': { 'CPU µs/event': fmt(inbound.cpu.floorUs, 1), 'x floor': '1.00' },
  'inbound handler, no-op store (our code)': { 'CPU µs/event': fmt(inbound.cpu.noopUs, 1), 'x floor': fmt(inbound.cpu.ratioNoop) },
  'inbound handler, DynamoDB Local (+ SDK)': { 'CPU µs/event': fmt(inbound.cpu.ddbUs, 1), 'x floor': fmt(inbound.cpu.ratioDdb) },
});
console.table({
  'inbound message (new)': inbound.requests.inbound,
  'status event': inbound.requests.status,
  'inbound message (redelivered)': inbound.requests.redelivered,
  'inbound message (late, older than the latest)': inbound.requests.lateOlder,
});
console.log(`DynamoDB requests per event above (target: status ≤ 1 write, inbound ≤ 2 writes, 0 reads).`);
console.log(`Inbound bundle (esbuild, ESM, minified, @aws-sdk external): ${(inbound.bundleBytes / 1024).toFixed(1)} KiB`);
