/**
 * `npm start -- --bundled`: the local runtime on the bundles `npm run bundle` builds with the stack's
 * esbuild options (dist/lambdas/<name>/index.mjs), not on the sources. A user's message goes through
 * the bundled inbound function and the bundled API answers it and sends a reply. (CI runs every
 * journey on the bundles too: `npm run test:bundled`.)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FUNCTION_HANDLERS } from '../../lib/bundling.ts';
import { startRuntime, type Runtime } from '../../local/runtime.ts';
import { bundleHandlers } from '../../scripts/bundle.ts';
import { eventually } from './support/target.ts';

let runtime: Runtime;
let dataDir: string;
let bundles: Record<string, string>;

beforeAll(async () => {
  // Built from today's sources: a bundle left from an earlier build would test old code.
  bundles = await bundleHandlers();
  dataDir = mkdtempSync(join(tmpdir(), 'wb-bundled-'));
  runtime = await startRuntime({ dataDir, fresh: true, ports: { api: 0, sandbox: 0, aws: 0, dynamodb: 0 }, logger: { info: () => {}, warn: () => {}, error: () => {} }, handlerSource: 'bundled' });
}, 300_000);

afterAll(async () => {
  await runtime?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

it('runs the bundles, says so in runtime.json, and serves a message end to end', async () => {
  // Prepare
  expect(Object.keys(bundles).sort()).toEqual([...FUNCTION_HANDLERS].sort());
  for (const file of Object.values(bundles)) expect(existsSync(file), file).toBe(true);
  expect(JSON.parse(readFileSync(join(dataDir, 'runtime.json'), 'utf8')).handlers).toBe('bundled');
  const pn = runtime.info.phoneNumbers[0]!.phoneNumberId;

  // Act
  const sent = (await (
    await fetch(`${runtime.info.sandboxUrl}/sandbox/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: '16505557001', to: pn, type: 'text', text: { body: 'bundled hello' } }),
    })
  ).json()) as { wamid: string };

  // Assess
  const message = await eventually(async () => {
    const res = await fetch(`${runtime.info.apiUrl}/v1/messages/${sent.wamid}`);
    return res.status === 200 ? ((await res.json()) as { status: string; content: unknown }) : undefined;
  }, 'the message through the bundled functions', 60_000);
  expect(message).toMatchObject({ status: 'received', content: { body: 'bundled hello' } });
  // The message opened the user's window: a reply goes out through the bundled API.
  const reply = await fetch(`${runtime.info.apiUrl}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from: pn, to: '16505557001', type: 'text', text: { body: 'bundled reply' } }),
  });
  expect(reply.status).toBe(202);
}, 300_000);
