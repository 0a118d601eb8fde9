/** Writes docs/openapi.json (the API's route table) and docs/asyncapi.json (the events) (`npm run openapi`). */
import { writeFileSync } from 'node:fs';
import { buildAsyncApi } from '../lambdas/api/asyncapi.ts';
import { openApiDocument } from '../lambdas/api/routes/index.ts';

writeFileSync(new URL('../docs/openapi.json', import.meta.url), `${JSON.stringify(openApiDocument(), null, 2)}\n`);
writeFileSync(new URL('../docs/asyncapi.json', import.meta.url), `${JSON.stringify(buildAsyncApi(), null, 2)}\n`);
console.log('docs/openapi.json and docs/asyncapi.json written');
