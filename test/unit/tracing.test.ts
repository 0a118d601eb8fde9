import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { tracer, tracingWanted } from '../../shared/tracing.ts';
import { freshTable } from '../support/dynamodb.ts';

interface XraySegment {
  name: string;
  id: string;
  parent_id?: string;
  annotations?: Record<string, unknown>;
  aws?: { operation?: string; table_name?: string };
  namespace?: string;
  fault?: boolean;
  error?: boolean;
  cause?: unknown;
  subsegments?: XraySegment[];
}

const PROBE = fileURLToPath(new URL('../support/trace-probe.ts', import.meta.url));
const TRACE_ID = '1-5759e988-bd862e3fe1be46a994272793';

/** Runs the probe as Lambda would, with an X-Ray daemon of the test's own; answers what it received. */
async function traceProbe(tableName: string): Promise<XraySegment[]> {
  const daemon = createSocket('udp4');
  const received: XraySegment[] = [];
  daemon.on('message', (datagram) => {
    // Each datagram: a header line, then one segment document.
    const [, document] = datagram.toString('utf8').split('\n', 2);
    if (document) received.push(JSON.parse(document) as XraySegment);
  });
  daemon.bind(0, '127.0.0.1');
  await once(daemon, 'listening');
  const child = spawn(process.execPath, [PROBE], {
    env: {
      PATH: process.env.PATH,
      AWS_LAMBDA_FUNCTION_NAME: 'probe',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      LAMBDA_TASK_ROOT: '/var/task',
      _X_AMZN_TRACE_ID: `Root=${TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1`,
      AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
      AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
      AWS_REGION: 'us-east-1',
      POWERTOOLS_SERVICE_NAME: 'trace-probe',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      PROBE_DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'),
      PROBE_TABLE: tableName,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  // Both invocations' subsegments, or the probe's end (then the assertions below say what is missing).
  const bothSent = new Promise<void>((resolve) => {
    const check = () => received.filter((s) => s.name === '## probe').length >= 2 && resolve();
    daemon.on('message', check);
  });
  await Promise.race([bothSent, exited]);
  child.stdin.end();
  const [code] = await exited;
  daemon.close();
  expect(code, output).toBe(0);
  return received;
}

describe('tracing', () => {
  it('is wanted in Lambda only, unless POWERTOOLS_TRACE_ENABLED says otherwise', () => {
    expect(tracingWanted({ AWS_LAMBDA_FUNCTION_NAME: 'f' })).toBe(true);
    expect(tracingWanted({ AWS_LAMBDA_FUNCTION_NAME: 'f', POWERTOOLS_TRACE_ENABLED: 'false' })).toBe(false);
    expect(tracingWanted({})).toBe(false);
    expect(tracingWanted({ POWERTOOLS_TRACE_ENABLED: 'true' })).toBe(true);
  });

  it('never loads the tracer outside Lambda', () => {
    expect(tracer).toBeUndefined();
  });

  it("sends a subsegment per invocation and per SDK call to the X-Ray daemon, with no phone number in an error's trace", async () => {
    // Prepare
    const { tableName } = await freshTable();

    // Act
    const segments = await traceProbe(tableName);

    // Assess
    const invocations = segments.filter((s) => s.name === '## probe');
    expect(invocations).toHaveLength(2);
    const first = invocations.find((s) => !s.fault);
    const second = invocations.find((s) => s.fault);
    expect(first!.annotations).toEqual({ ColdStart: true, Service: 'trace-probe' });
    expect(second!.annotations).toEqual({ ColdStart: false, Service: 'trace-probe' });
    const sdkCalls = [...segments, ...segments.flatMap((s) => s.subsegments ?? [])].filter((s) => s.namespace === 'aws');
    expect(sdkCalls).toContainEqual(expect.objectContaining({ name: 'DynamoDB', parent_id: first!.id, aws: expect.objectContaining({ operation: 'GetItem', table_name: tableName }) }));
    expect(second!.fault || second!.error).toBe(true);
    const secondTrace = JSON.stringify(second);
    expect(secondTrace).toContain('the send to ###### failed');
    expect(secondTrace).not.toMatch(/650.?555/);
  });
});
