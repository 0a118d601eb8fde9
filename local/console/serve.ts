/**
 * The console: a page served by the local runtime on the API's origin (`/console`), so it calls
 * the API without CORS. Its files are plain HTML, CSS and JS beside this module (no build step);
 * `/console/sandbox/*` is passed through to the sandbox's control routes (`/sandbox/*`);
 * `/console/events?after=<seq>` lists the domain events the runtime saw on the events topic.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RecentEvents } from './recent-events.ts';

const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/console': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/console/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/** Sandbox bodies are small JSON documents; anything larger is refused. */
const MAX_PROXY_BODY_BYTES = 1024 * 1024;

async function readAll(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_PROXY_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

/** The gateway's `localRoutes` for the console; `sandboxUrl` null when the sandbox is off. */
export function consoleRoutes(sandboxUrl: string | null, events?: RecentEvents): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const page = FILES[path];
    if (page && (req.method === 'GET' || req.method === 'HEAD')) {
      send(res, 200, page.type, await readFile(new URL(`./${page.file}`, import.meta.url)));
      return true;
    }
    if (path === '/console/events' && req.method === 'GET') {
      const after = Number(url.searchParams.get('after') ?? 0);
      if (!Number.isInteger(after) || after < 0) {
        send(res, 400, 'application/json', JSON.stringify({ error: { code: 'invalid_request', message: 'after must be a whole number of 0 or more.' } }));
        return true;
      }
      send(res, 200, 'application/json', JSON.stringify({ items: events?.after(after) ?? [] }));
      return true;
    }
    if (!path.startsWith('/console/sandbox/')) return false;
    if (!sandboxUrl) {
      send(res, 503, 'application/json', JSON.stringify({ error: { code: 'sandbox_off', message: 'The runtime runs without the sandbox.' } }));
      return true;
    }
    const body = await readAll(req);
    if (!body) {
      send(res, 413, 'application/json', JSON.stringify({ error: { code: 'payload_too_large', message: 'The request body is too large.' } }));
      return true;
    }
    const target = `${sandboxUrl}/sandbox/${path.slice('/console/sandbox/'.length)}${url.search}`;
    const method = req.method ?? 'GET';
    const answer = await fetch(target, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body.length && method !== 'GET' && method !== 'HEAD' ? { body } : {}),
    });
    send(res, answer.status, answer.headers.get('content-type') ?? 'application/json', Buffer.from(await answer.arrayBuffer()));
    return true;
  };
}
