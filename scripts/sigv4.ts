/** SigV4 signing of fetch requests for API Gateway with IAM auth (service `execute-api`). */
import { createHash, createHmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';

/** The hash the signer wants, from node:crypto. */
class NodeSha256 {
  private readonly h;
  constructor(secret?: string | Uint8Array) {
    this.h = secret ? createHmac('sha256', secret) : createHash('sha256');
  }
  update(data: string | Uint8Array) {
    this.h.update(data);
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
  reset() {}
}

/** A function that signs a request with the default credential chain (environment, profile, role). */
export function executeApiSigner(region: string): (r: Request) => Promise<Request> {
  const signer = new SignatureV4({ service: 'execute-api', region, credentials: defaultProvider(), sha256: NodeSha256 as never });
  return async (r: Request) => {
    const url = new URL(r.url);
    const body = r.body ? await r.text() : undefined;
    const signed = await signer.sign({
      method: r.method,
      protocol: url.protocol,
      hostname: url.hostname,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { host: url.host, ...Object.fromEntries(r.headers) },
      ...(body !== undefined && { body }),
    });
    return new Request(r.url, { method: r.method, headers: signed.headers as Record<string, string>, ...(body !== undefined && { body }) });
  };
}
