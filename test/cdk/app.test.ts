import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WABA_ID = 'waba-0123456789abcdef0123456789abcdef';
const outDirs: string[] = [];
/** One synthesis of the app in a child process: seconds alone, much longer on a busy machine. */
const SYNTH_TIMEOUT_MS = 120_000;

/** Runs the CDK app the way the CLI does (context in CDK_CONTEXT_JSON, output in CDK_OUTDIR). */
async function runApp(context: Record<string, unknown>) {
  const outDir = mkdtempSync(join(tmpdir(), 'wa-synth-'));
  outDirs.push(outDir);
  const cdkJson = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: object };
  const env = {
    ...process.env,
    CDK_OUTDIR: outDir,
    CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...context }),
  };
  await promisify(execFile)(process.execPath, ['bin/app.ts'], { cwd: ROOT, env, timeout: SYNTH_TIMEOUT_MS });
  return (stackName: string) =>
    JSON.parse(readFileSync(join(outDir, `${stackName}.template.json`), 'utf8')) as {
      Resources: Record<string, { Type: string; DeletionPolicy?: string; Properties?: Record<string, unknown> }>;
    };
}

afterAll(() => {
  for (const dir of outDirs) rmSync(dir, { recursive: true, force: true });
});

describe('CDK app', () => {
  it('builds the stack from context and passes its cdk-nag checks', async () => {
    // Prepare
    const context = {
      stackName: 'WaDev',
      wabaId: WABA_ID,
      phoneNumberIds: ' phone-number-id-0a , ',
      retainData: 'false',
      metaApiVersion: 'v23.0',
      apiCloudWatchRole: 'false',
      mediaCorsOrigins: 'https://a.example.com, https://b.example.com',
    };

    // Act
    const template = (await runApp(context))('WaDev');

    // Assess
    const resources = Object.values(template.Resources);
    const destination = resources.find((r) => r.Type === 'Custom::WhatsAppEventDestination');
    const table = resources.find((r) => r.Type === 'AWS::DynamoDB::Table');
    expect(JSON.stringify(destination?.Properties?.Create)).toContain(WABA_ID);
    expect(table?.DeletionPolicy).toBe('Delete');
    expect(table?.Properties?.DeletionProtectionEnabled).toBe(false);
    const api = resources.find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties?.Description === 'WhatsApp backend HTTP API');
    const variables = (api?.Properties?.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables.META_API_VERSION).toBe('v23.0');
    expect(variables.PHONE_NUMBER_IDS).toBe('phone-number-id-0a');
    expect(resources.filter((r) => r.Type === 'AWS::ApiGateway::Account')).toEqual([]);
    const bucket = resources.find((r) => r.Type === 'AWS::S3::Bucket' && r.Properties?.CorsConfiguration !== undefined);
    expect(bucket?.DeletionPolicy).toBe('Delete');
    expect(JSON.stringify(bucket?.Properties?.CorsConfiguration)).toContain('"AllowedOrigins":["https://a.example.com","https://b.example.com"]');
    expect(JSON.stringify(bucket?.Properties?.BucketEncryption)).toContain('"SSEAlgorithm":"aws:kms"');
  }, SYNTH_TIMEOUT_MS);

  it('stops without phone number ids, naming the context key and how to find the ids', async () => {
    // Prepare / Act
    const failure = await runApp({ wabaId: WABA_ID, phoneNumberIds: ' , ' }).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );

    // Assess
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain('Context phoneNumberIds is missing');
    expect(failure?.stderr).toContain('-c phoneNumberIds=phone-number-id-<hex>');
    expect(failure?.stderr).toContain('get-linked-whatsapp-business-account');
    expect(failure?.stderr).toContain('-c discoverNumbers=true');
    expect(failure?.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  }, SYNTH_TIMEOUT_MS);

  it('stops on discoverNumbers given with the ids it would find, or with a value that is not a boolean', async () => {
    // Prepare / Act
    const both = await runApp({ discoverNumbers: 'true', phoneNumberIds: 'phone-number-id-0a' }).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    const typo = await runApp({ discoverNumbers: 'yes' }).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );

    // Assess
    expect(both?.code).toBe(1);
    expect(both?.stderr).toContain('discoverNumbers=true finds the WABAs and numbers itself');
    expect(typo?.stderr).toContain('Context discoverNumbers must be "true" or "false", got "yes"');
  }, SYNTH_TIMEOUT_MS);

  it('takes mediaEncryption=s3-managed to an SSE-S3 media bucket without a media key', async () => {
    // Prepare / Act
    const template = (await runApp({ phoneNumberIds: 'phone-number-id-0a', mediaEncryption: 's3-managed' }))('WhatsAppBackend');

    // Assess
    const resources = Object.values(template.Resources);
    const bucket = resources.find((r) => r.Type === 'AWS::S3::Bucket' && r.Properties?.LoggingConfiguration !== undefined);
    expect(JSON.stringify(bucket?.Properties?.BucketEncryption)).toContain('"SSEAlgorithm":"AES256"');
    const keys = resources.filter((r) => r.Type === 'AWS::KMS::Key').map((r) => String(r.Properties?.Description));
    expect(keys.some((d) => d.includes('media bucket'))).toBe(false);
  }, SYNTH_TIMEOUT_MS);

  it('refuses an unknown mediaEncryption', async () => {
    // Prepare / Act
    const failure = await runApp({ phoneNumberIds: 'phone-number-id-0a', mediaEncryption: 'sse-c' }).then(
      () => undefined,
      (error: { stderr?: string }) => error,
    );

    // Assess
    expect(failure?.stderr).toContain('mediaEncryption must be "kms" or "s3-managed", got "sse-c"');
  }, SYNTH_TIMEOUT_MS);
});
