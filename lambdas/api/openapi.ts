/** The OpenAPI 3.1 document of the API, generated from the route table's zod schemas. */
import * as z from 'zod';
import { ErrorBodySchema } from '../../shared/domain/resources.ts';
import type { AnyRoute } from './route.ts';

const schemaOf = (s: z.ZodType) => z.toJSONSchema(s, { target: 'draft-2020-12', unrepresentable: 'any', io: 'input' });

function parameters(route: AnyRoute) {
  const out: unknown[] = [];
  const add = (where: 'path' | 'query' | 'header', obj: z.ZodObject | undefined) => {
    if (!obj) return;
    const js = schemaOf(obj) as { properties?: Record<string, unknown>; required?: string[] };
    for (const [name, schema] of Object.entries(js.properties ?? {})) {
      out.push({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema });
    }
  };
  add('path', route.params);
  add('query', route.query);
  add('header', route.headers);
  return out;
}

export function buildOpenApi(routes: AnyRoute[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const responses: Record<string, unknown> = {};
    for (const [code, res] of Object.entries(r.responses)) {
      responses[code] = {
        description: res.description,
        ...(res.schema && { content: { 'application/json': { schema: schemaOf(res.schema) } } }),
      };
    }
    for (const code of r.errors ?? []) {
      responses[String(code)] = { description: 'Error', content: { 'application/json': { schema: schemaOf(ErrorBodySchema) } } };
    }
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      parameters: parameters(r),
      ...(r.body && { requestBody: { required: true, content: { 'application/json': { schema: { ...schemaOf(r.body), ...(r.bodyDescription && { description: r.bodyDescription }) } } } } }),
      responses,
      security: [{ sigv4: [] }],
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'whatsapp-backend',
      version: '1.0.0',
      description: 'WhatsApp messaging on AWS End User Messaging Social. Deployed: API Gateway with IAM (SigV4) auth.',
    },
    components: {
      securitySchemes: { sigv4: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'AWS Signature Version 4 (IAM)' } },
    },
    paths,
  };
}
