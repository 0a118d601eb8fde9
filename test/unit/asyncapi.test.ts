import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { buildAsyncApi } from '../../lambdas/api/asyncapi.ts';
import { makeHandler } from '../../lambdas/api/handler.ts';
import type { ApiDeps } from '../../lambdas/api/routes/index.ts';
import { EVENT_TYPES } from '../../shared/domain/events.ts';
import { call } from '../support/api.ts';

describe('AsyncAPI document', () => {
  it('is a valid AsyncAPI 3 document (the AsyncAPI parser finds no error) naming every event type', async () => {
    const { document, diagnostics } = await new Parser().parse(JSON.stringify(buildAsyncApi()));
    expect(diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join('.')}: ${d.message}`)).toEqual([]);
    expect(document?.version()).toBe('3.0.0');
    expect(document!.messages().all().map((m) => m.name()).sort()).toEqual([...EVENT_TYPES].sort());
    const status = document!.messages().all().find((m) => m.name() === 'message.status')!;
    expect(Object.keys(status.payload()!.properties() ?? {})).toEqual(expect.arrayContaining(['specversion', 'id', 'type', 'time', 'subject', 'sequence', 'data']));
  });

  it('is served at /v1/asyncapi.json and kept in docs/asyncapi.json (npm run openapi rewrites it)', async () => {
    const res = await call(makeHandler({} as ApiDeps), 'GET', '/v1/asyncapi.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(buildAsyncApi());
    expect(JSON.parse(readFileSync(new URL('../../docs/asyncapi.json', import.meta.url), 'utf8'))).toEqual(buildAsyncApi());
  });
});
