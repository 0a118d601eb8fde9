/**
 * Echo bot: a webhook receiver, no framework. It verifies each delivery (Standard Webhooks),
 * answers every inbound text through `POST /v1/messages`, and prints the statuses of its replies.
 *
 *   npm start -- --webhook http://127.0.0.1:9000/hook      # terminal 1
 *   node examples/echo-bot/bot.ts                          # terminal 2 (reads .local/runtime.json)
 *
 * Against a deployed stack: WB_API_URL=<ApiUrl output> WEBHOOK_SECRET=whsec_… and AWS credentials in
 * the environment; requests are then signed with SigV4 (aws4fetch).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { AwsClient } from 'aws4fetch';
import { Webhook } from 'standardwebhooks';

export interface EchoBotOptions {
  apiUrl: string;
  secret: string;
  port?: number;
  /** @default console.log */
  log?: (line: string) => void;
}

export function startEchoBot(opts: EchoBotOptions): Promise<Server> {
  const log = opts.log ?? console.log;
  const verifier = new Webhook(opts.secret);
  const seen = new Set<string>(); // deliveries are at least once: deduplicate by event id
  const aws = process.env.AWS_ACCESS_KEY_ID && opts.apiUrl.startsWith('https:')
    ? new AwsClient({ accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY!, sessionToken: process.env.AWS_SESSION_TOKEN, service: 'execute-api', region: process.env.AWS_REGION })
    : undefined;
  const post = (path: string, body: unknown, headers: Record<string, string>) => {
    const init = { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
    return aws ? aws.fetch(`${opts.apiUrl}${path}`, init) : fetch(`${opts.apiUrl}${path}`, init);
  };

  async function onEvent(event: { id: string; type: string; data: any }): Promise<void> {
    if (seen.has(event.id)) return;
    seen.add(event.id);
    const m = event.data;
    if (event.type === 'message.received' && m.type === 'text') {
      const to = m.contact?.waId ? { to: m.contact.waId } : { recipient: m.contact?.userId };
      // The event id as idempotency key: a redelivered event never sends a second reply.
      const res = await post('/v1/messages', { from: m.phoneNumberId, ...to, type: 'text', text: { body: `echo: ${m.content.body}` } }, { 'idempotency-key': event.id });
      log(`replied to ${m.id}: ${res.status} ${(await res.json() as { id?: string }).id ?? ''}`);
    } else if (event.type === 'message.status') log(`status ${m.id} ${m.status}`);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let event;
      try {
        event = verifier.verify(body, req.headers as Record<string, string>) as { id: string; type: string; data: unknown };
      } catch {
        res.writeHead(401).end();
        return;
      }
      // Answer at once; a failure to reply is logged, the delivery itself succeeded.
      res.writeHead(204).end();
      onEvent(event).catch((err: unknown) => log(`could not handle ${event.id}: ${String(err)}`));
    });
  });
  return new Promise((resolve) => server.listen(opts.port ?? 9000, '127.0.0.1', () => resolve(server)));
}

if (import.meta.main) {
  const local = existsSync('.local/runtime.json') ? JSON.parse(readFileSync('.local/runtime.json', 'utf8')) : {};
  const apiUrl = process.env.WB_API_URL ?? local.apiUrl;
  const secret = process.env.WEBHOOK_SECRET ?? local.webhook?.secret;
  if (!apiUrl || !secret) {
    console.error('Start the backend with `npm start -- --webhook http://127.0.0.1:9000/hook`, or set WB_API_URL and WEBHOOK_SECRET.');
    process.exit(1);
  }
  const port = Number(process.env.PORT ?? 9000);
  await startEchoBot({ apiUrl: apiUrl.replace(/\/$/, ''), secret, port });
  console.log(`echo bot listening on http://127.0.0.1:${port}/hook`);
}
