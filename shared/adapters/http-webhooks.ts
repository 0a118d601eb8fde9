/**
 * POSTs a signed delivery with node:http(s). Deployed, every address the host resolves to is
 * checked inside the connection's own DNS lookup, so the address connected to is the one checked
 * (no window for a DNS answer to change in between). Redirects are not followed.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { isRefusedAddress } from '../domain/webhooks.ts';
import type { WebhookTransport } from '../ports/webhooks.ts';

export class HttpWebhookTransport implements WebhookTransport {
  private readonly allowLoopback: boolean;
  private readonly timeoutMs: number;
  constructor(opts: { allowLoopback: boolean; timeoutMs?: number }) {
    this.allowLoopback = opts.allowLoopback;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number }> {
    const target = new URL(url);
    if (!this.allowLoopback && target.protocol !== 'https:') return Promise.reject(new Error('refused: not https'));
    const guarded: LookupFunction = (host, options, callback) =>
      dnsLookup(host, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
        if (err) return callback(err, '', 4);
        const refused = !this.allowLoopback && addresses.some((a) => isRefusedAddress(a.address));
        if (refused) return callback(new Error('refused: the host resolves to a private, loopback or link-local address'), '', 4);
        if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
        return callback(null, addresses[0]!.address, addresses[0]!.family);
      });
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        target,
        { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'whatsapp-backend-webhooks' }, lookup: guarded, timeout: this.timeoutMs },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timeout after ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}
