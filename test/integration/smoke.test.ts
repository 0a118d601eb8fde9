import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startRuntime, type Runtime } from '../../local/runtime.ts';
import { executeApiSigner } from '../../scripts/sigv4.ts';
import { main, smoke, smokeTarget } from '../../scripts/smoke.ts';

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const dir = mkdtempSync(join(tmpdir(), 'wb-smoke-'));
let runtime: Runtime;

beforeAll(async () => {
  runtime = await startRuntime({ dataDir: dir, fresh: true, ports: { api: 0, sandbox: 0, aws: 0, dynamodb: 0 }, logger: quiet });
});
afterAll(async () => {
  await runtime?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run smoke against the local runtime', () => {
  it('finds the API answering, the topic accepting a publish and the event stored, from runtime.json', async () => {
    // Prepare
    const lines: string[] = [];

    // Act
    const ok = await main(['--runtime', join(dir, 'runtime.json')], (l) => lines.push(l));

    // Assess
    expect(lines.slice(1).map((l) => l.split(':')[0])).toEqual([
      'ok   the API answers',
      'ok   the event topic accepts a publish',
      'ok   the event arrives in the table',
    ]);
    expect(ok).toBe(true);
  });

  it('names the failing check and stops there', async () => {
    // Prepare: a topic that does not exist.
    const target = { ...smokeTarget({ runtime: join(dir, 'runtime.json') }), eventTopicArn: `${runtime.info.eventTopicArn}-gone` };

    // Act
    const results = await smoke(target);

    // Assess
    expect(results.map((r) => [r.name, r.ok])).toEqual([
      ['the API answers', true],
      ['the event topic accepts a publish', false],
    ]);
  });
});

describe('npm run smoke against a deployed stack', () => {
  it('reads the API URL, topic, table and Region from the cdk outputs file', () => {
    // Prepare
    const outputs = join(dir, 'cdk-outputs.json');
    writeFileSync(
      outputs,
      JSON.stringify({
        WaDev: {
          ApiUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/',
          EventTopicArn: 'arn:aws:sns:eu-west-1:111122223333:WaDev-Topic',
          TableName: 'WaDev-Table',
        },
      }),
    );

    // Act / Assess
    expect(smokeTarget({ outputs })).toEqual({
      kind: 'deployed',
      apiUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/',
      eventTopicArn: 'arn:aws:sns:eu-west-1:111122223333:WaDev-Topic',
      tableName: 'WaDev-Table',
      region: 'eu-west-1',
    });
  });

  it('signs API requests with SigV4 for execute-api in the stack Region', async () => {
    // Prepare
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'token');
    try {
      // Act
      const signed = await executeApiSigner('eu-west-1')(new Request('https://abc123.execute-api.eu-west-1.amazonaws.com/prod/v1/conversations?limit=1'));

      // Assess
      expect(signed.headers.get('authorization')).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
      );
      expect(signed.headers.get('x-amz-security-token')).toBe('token');
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
