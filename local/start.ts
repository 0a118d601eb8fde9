/**
 * `npm start`: the whole backend on loopback until Ctrl-C. `npm start -- --fresh` wipes `.local/`
 * first; `--webhook <url>` registers an endpoint for the events; `--bundled` runs the handlers'
 * bundles (`npm run bundle`) instead of their sources. Ports move with PORT, SANDBOX_PORT, AWS_PORT and DYNAMODB_PORT.
 */
import { parseArgs } from 'node:util';
import { banner, consoleLogger, startRuntime } from './runtime.ts';

const { values } = parseArgs({
  options: {
    fresh: { type: 'boolean', default: false },
    'data-dir': { type: 'string' },
    webhook: { type: 'string' },
    bundled: { type: 'boolean', default: false },
    'sandbox-config': { type: 'string' },
    mps: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(
    [
      'Usage: npm start [-- --fresh] [-- --data-dir <dir>] [-- --webhook <url>] [-- --bundled] [-- --sandbox-config <file>] [-- --mps <n>]',
      '  --fresh           start with empty tables, queues and buckets',
      '  --data-dir <dir>  where the local data lives (default .local)',
      '  --webhook <url>   deliver every event to this endpoint (signed; secret in runtime.json)',
      '  --bundled         run the bundles the stack deploys (npm run bundle; built when missing), not the sources',
      '  --sandbox-config <file>  the sandbox\'s numbers, WABAs, users and templates (default local/sandbox/sandbox.config.json)',
      '  --mps <n>         each number\'s messages a second in the sandbox (130429 above it) and the pace of broadcasts (default 80)',
      'Ports: PORT (3000), SANDBOX_PORT (3001), AWS_PORT (4566), DYNAMODB_PORT (8000); 0 picks a free one.',
    ].join('\n'),
  );
  process.exit(0);
}

const mps = values.mps === undefined ? undefined : Number(values.mps);
if (mps !== undefined && !(Number.isInteger(mps) && mps >= 1 && mps <= 1000)) {
  console.error(`[local] --mps takes a whole number of messages a second from 1 to 1000, not "${values.mps}"`);
  process.exit(1);
}

let runtime: Awaited<ReturnType<typeof startRuntime>>;
try {
  runtime = await startRuntime({
    fresh: values.fresh,
    dataDir: values['data-dir'] ?? '.local',
    webhook: values.webhook,
    handlerSource: values.bundled ? 'bundled' : 'sources',
    ...(values['sandbox-config'] !== undefined && { sandboxConfigPath: values['sandbox-config'] }),
    ...(mps !== undefined && { messagesPerSecond: mps }),
    // One line per delivery attempt: ids and outcome only, never the payload.
    onDelivery: (d) =>
      console.log(
        `[webhook] ${d.outcome === 'delivered' ? 'delivered' : d.outcome.toUpperCase()} ${d.eventType} ${d.eventId} → ${d.url}` +
          ` ${d.httpStatus ?? '-'} (attempt ${d.attempt}${d.error ? `, ${d.error}` : ''}${d.nextAttemptAt ? `, next ${d.nextAttemptAt}` : ''})`,
      ),
  });
} catch (err) {
  console.error(`[local] could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
console.log(banner(runtime.info));

let stoppingSince: number | undefined;
const shutdown = (reason: string) => {
  if (stoppingSince !== undefined) {
    // A terminal's Ctrl-C can reach us twice (directly and through npm); only a later one forces.
    if (Date.now() - stoppingSince < 1000) return;
    console.error(`[local] ${reason} again: exiting now`);
    process.exit(1); // the servers module kills DynamoDB Local on exit
  }
  stoppingSince = Date.now();
  console.log(`[local] ${reason}: stopping…`);
  runtime.stop().then(
    () => {
      console.log('[local] stopped');
      process.exit(0);
    },
    (err: unknown) => {
      consoleLogger.error('stop failed', { error: String(err) });
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGHUP', () => shutdown('SIGHUP'));

// `kill <npm pid>` stops npm and the shell it started, not this process: notice the orphaning
// and stop, so no server outlives `npm start`.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown('parent process exited');
}, 500).unref();
