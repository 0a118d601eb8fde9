/**
 * One run of the broadcast bench, in its own process (the handlers read their configuration once
 * per process, as a Lambda container does): a local runtime whose sandbox enforces
 * `messagesPerSecond` per number, a broadcast of `recipients` simulated users through the HTTP API,
 * and what the sandbox's send log and the broadcast say about it. Prints one JSON line.
 *
 * Usage: node bench/broadcast-phase.ts <messagesPerSecond> <recipients> [<pace factor>]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handler as apiHandler } from '../lambdas/api/handler.ts';
import { handler as broadcastsHandler } from '../lambdas/broadcasts/handler.ts';
import { startRuntime } from '../local/runtime.ts';
import { DEFAULT_CONFIG_PATH, loadSandboxConfig } from '../local/sandbox/config.ts';
import { installSdkRecorder, recordedAs, recordedCommands } from '../test/support/sdk-recorder.ts';

const [mps, recipients, pace] = [Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4] ?? 0)];
installSdkRecorder();
const dir = mkdtempSync(join(tmpdir(), 'wb-bench-bc-'));
const configPath = join(dir, 'sandbox.config.json');
const config = loadSandboxConfig(DEFAULT_CONFIG_PATH);
writeFileSync(configPath, JSON.stringify({ ...config, limits: { ...config.limits, messagesPerSecond: mps } }));
const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const runtime = await startRuntime({
  dataDir: join(dir, 'data'),
  fresh: true,
  // The run's data is thrown away: DynamoDB Local keeps it in memory, and serves more requests a second.
  dynamoDbInMemory: true,
  ports: { api: 0, sandbox: 0, aws: 0, dynamodb: 0 },
  logger: quiet,
  sandboxConfigPath: configPath,
  handlers: { queues: { 'broadcast-sends': recordedAs('broadcasts', broadcastsHandler) }, api: recordedAs('api', apiHandler) },
});
// The pacing the runtime configures (the sandbox's limit), or the factor asked for.
if (pace > 0) process.env.BROADCAST_MPS = String(mps * pace);
const pacedAt = Number(process.env.BROADCAST_MPS);

const json = async (url: string, init?: RequestInit) => (await fetch(url, { headers: { 'content-type': 'application/json' }, ...init })).json() as Promise<any>;
const pn = runtime.info.phoneNumbers[0]!;
const users = Array.from({ length: recipients }, (_, i) => `1777${String(1_000_000 + i).slice(-7)}`);
const startedAt = Date.now();
// The list is uploaded (POST /v1/broadcasts/uploads, a presigned PUT), as a large list is.
const list = `${users.join('\n')}\n`;
const ticket = await json(`${runtime.info.apiUrl}/v1/broadcasts/uploads`, { method: 'POST', body: JSON.stringify({ size: Buffer.byteLength(list) }) });
const put = await fetch(ticket.uploadUrl, { method: 'PUT', headers: ticket.headers, body: list });
if (!put.ok) throw new Error(`upload refused: HTTP ${put.status}`);
const created = await json(`${runtime.info.apiUrl}/v1/broadcasts`, {
  method: 'POST',
  body: JSON.stringify({ from: pn.phoneNumberId, template: { name: 'hello_world', language: { code: 'en_US' } }, recipientsUpload: ticket.uploadId }),
});
if (!created.id) throw new Error(`broadcast refused: ${JSON.stringify(created)}`);
// What the API did to create it; the polling below (GET reads every sent message) is not counted.
const createCommands = recordedCommands().filter((c) => c.fn === 'api').length;
let view: any;
for (;;) {
  view = await json(`${runtime.info.apiUrl}/v1/broadcasts/${created.id}`);
  if (view.state === 'completed' && (view.statuses?.read ?? 0) + (view.statuses?.failed ?? 0) >= recipients) break;
  if (Date.now() - startedAt > 30 * 60_000) throw new Error('the broadcast did not finish in 30 minutes');
  await new Promise((r) => setTimeout(r, 5000));
}
const wallSeconds = (Date.now() - startedAt) / 1000;
const outbox = (await json(`${runtime.info.sandboxUrl}/sandbox/outbox`)) as { to: string; acceptedAt: string; errorCodes?: number[] }[];
const sent = outbox.filter((m) => m.to.startsWith('1777')).map((m) => ({ ...m, at: Date.parse(m.acceptedAt) })).sort((a, b) => a.at - b.at);

// From the sandbox's own send log: the busiest second, sends over the cap, pair-rate breaches.
let busiest = 0;
let overCap = 0;
for (let i = 0, j = 0; i < sent.length; i++) {
  while (sent[i]!.at - sent[j]!.at >= 1000) j++;
  const inWindow = i - j + 1;
  busiest = Math.max(busiest, inWindow);
  if (inWindow > mps) overCap++;
}
const perUser = new Map<string, number[]>();
for (const m of sent) perUser.set(m.to, [...(perUser.get(m.to) ?? []), m.at]);
const pairViolations = [...perUser.values()].filter((ats) => ats.some((a, k) => k > 0 && a - ats[k - 1]! < 6000)).length;
const delivered = sent.filter((m) => !m.errorCodes?.length);
const failedBy = (code: number) => sent.filter((m) => (m.errorCodes ?? []).includes(code)).length;
const sendSeconds = sent.length > 1 ? (sent.at(-1)!.at - sent[0]!.at) / 1000 : 0;
const requests: Record<string, number> = {};
const byCommand: Record<string, number> = {};
const sendSide = [...recordedCommands().filter((c) => c.fn === 'api').slice(0, createCommands), ...recordedCommands().filter((c) => c.fn === 'broadcasts')];
for (const c of sendSide) {
  requests[c.service] = (requests[c.service] ?? 0) + 1;
  // DynamoDB commands by the kind of their (first) item: `UpdateItem PACE`, `TransactWriteItems BCAST`…
  const key = c.input.Key ?? c.input.Item ?? c.input.TransactItems?.[0]?.Update?.Key ?? c.input.TransactItems?.[0]?.Put?.Item ?? c.input.TransactItems?.[0]?.ConditionCheck?.Key;
  const kind = typeof key?.PK === 'string' ? ` ${key.PK.split('#')[0]}` : '';
  byCommand[`${c.service}.${c.operation}${kind}`] = (byCommand[`${c.service}.${c.operation}${kind}`] ?? 0) + 1;
}
// How long each send's call to AWS took (request to answer): a permit is held for it, and a second after.
const sendCallMs = sendSide.filter((c) => c.operation === 'SendWhatsAppMessage' && c.ms !== undefined).map((c) => c.ms!).sort((a, b) => a - b);
const quantile = (q: number) => (sendCallMs.length ? Math.round(sendCallMs[Math.min(sendCallMs.length - 1, Math.floor(q * sendCallMs.length))]!) : 0);

console.log(
  JSON.stringify({
    cap: mps,
    pacedAt,
    recipients,
    sent: sent.length,
    uniqueRecipients: perUser.size,
    achievedMps: sendSeconds > 0 ? (sent.length - 1) / sendSeconds : 0,
    busiestSecond: busiest,
    sendsOverCap: overCap,
    rateLimitErrors: failedBy(130429),
    pairRateErrors: failedBy(131056),
    pairRateViolations: pairViolations,
    // Locally the messaging-limit tier is unlimited: a violation is a user sent to twice, not counting
    // a send Meta refused (its resend is allowed).
    tierViolations: delivered.length - new Set(delivered.map((m) => m.to)).size,
    counts: view.counts,
    statuses: view.statuses,
    failures: view.failures,
    // The API's create and the broadcast function (loading, pacing, sending); not the status path.
    requestsPerRecipient: Object.fromEntries(Object.entries(requests).map(([k, v]) => [k, v / recipients])),
    requestsPerRecipientByCommand: Object.fromEntries(Object.entries(byCommand).sort(([, a], [, b]) => b - a).map(([k, v]) => [k, Number((v / recipients).toFixed(3))])),
    sendCallMs: { p50: quantile(0.5), p99: quantile(0.99), calls: sendCallMs.length },
    wallSeconds,
    sendSeconds,
  }),
);
await runtime.stop();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
