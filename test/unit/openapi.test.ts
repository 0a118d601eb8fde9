import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeHandler } from '../../lambdas/api/handler.ts';
import { openApiDocument, type ApiDeps } from '../../lambdas/api/routes/index.ts';
import { call } from '../support/api.ts';

/** Every route of the public contract (api-contract.md §3). */
const CONTRACT_ROUTES = [
  'post /v1/messages',
  'get /v1/messages/{id}',
  'post /v1/messages/{id}/read',
  'post /v1/media',
  'post /v1/media/{uploadId}/complete',
  'get /v1/messages/{id}/media',
  'get /v1/conversations',
  'get /v1/conversations/{phoneNumberId}/{contactId}/messages',
  'get /v1/quarantine',
  'post /v1/quarantine/{id}/replay',
  'get /v1/openapi.json',
];

const doc = openApiDocument();
const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));

describe('OpenAPI document', () => {
  it('is OpenAPI 3.1 and documents every route of the contract', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(CONTRACT_ROUTES.filter((r) => !documented.includes(r))).toEqual([]);
  });

  it('routes every documented operation to a handler', async () => {
    const api = makeHandler({} as ApiDeps);
    for (const op of documented) {
      const [method, path] = op.split(' ') as [string, string];
      const concrete = path.replace(/\{(\w+)\}/g, 'x');
      const res = await call(api, method.toUpperCase(), concrete, method === 'post' ? { body: '{' } : {});
      expect.soft(res.body?.error?.code, op).not.toBe('route_not_found');
    }
  });

  it('is served at /v1/openapi.json and kept in docs/openapi.json (npm run openapi rewrites it)', async () => {
    const res = await call(makeHandler({} as ApiDeps), 'GET', '/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(doc);
    const committed = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'));
    expect(committed, 'docs/openapi.json is stale: run npm run openapi').toEqual(JSON.parse(JSON.stringify(doc)));
  });
});
