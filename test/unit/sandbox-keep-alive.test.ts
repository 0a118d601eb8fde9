import { request, Agent } from 'node:http';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { IDLE_SOCKET_TIMEOUT_MS, keepAliveAgents } from '../../shared/adapters/aws-clients.ts';
import { createSandbox, parseSandboxConfig } from '../../local/sandbox/index.ts';
import { SERVER_KEEP_ALIVE_TIMEOUT_MS } from '../../local/keep-alive.ts';

/** Node's own default `server.keepAliveTimeout`, which the sandbox used to keep. */
const NODE_DEFAULT_KEEP_ALIVE_MS = 5_000;

function get(url: string, agent: Agent): Promise<{ status: number; localPort: number }> {
  return new Promise((done, fail) => {
    const req = request(`${url}/sandbox/phone-numbers`, { agent }, (res) => {
      const localPort = res.socket.localPort!;
      res.resume();
      res.on('end', () => done({ status: res.statusCode!, localPort }));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('keep-alive between the SDK clients and the sandbox', () => {
  it('lets SDK clients drop idle sockets before the sandbox closes them', () => {
    expect(IDLE_SOCKET_TIMEOUT_MS).toBeLessThan(NODE_DEFAULT_KEEP_ALIVE_MS);
    expect(IDLE_SOCKET_TIMEOUT_MS).toBeLessThan(SERVER_KEEP_ALIVE_TIMEOUT_MS);
    const { httpAgent, httpsAgent } = keepAliveAgents();
    for (const agent of [httpAgent, httpsAgent]) expect((agent as unknown as { options: object }).options).toMatchObject({ keepAlive: true, timeout: IDLE_SOCKET_TIMEOUT_MS });
  });

  it('keeps an idle connection open past Node’s default, so a client reusing it is never reset', async () => {
    const dummy = { region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };
    const sandbox = createSandbox({
      config: parseSandboxConfig({}),
      sns: new SNSClient(dummy),
      s3: new S3Client(dummy),
      topicArn: 'arn:aws:sns:us-east-1:000000000000:t',
      region: 'us-east-1',
      accountId: '000000000000',
      log: () => {},
    });
    const running = await sandbox.listen(0);
    // A client that keeps idle sockets forever: only the server can close them.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get(running.url, agent);
      await new Promise((r) => setTimeout(r, NODE_DEFAULT_KEEP_ALIVE_MS + 500));
      const second = await get(running.url, agent);
      expect([first.status, second.status]).toEqual([200, 200]);
      // The same socket served both: the server did not close it after 5 s of idleness.
      expect(second.localPort).toBe(first.localPort);
    } finally {
      agent.destroy();
      await running.close();
    }
  }, 20_000);
});
