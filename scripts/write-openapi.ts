/** Writes docs/openapi.json from the API's route table (`npm run openapi`). */
import { writeFileSync } from 'node:fs';
import { openApiDocument } from '../lambdas/api/routes/index.ts';

writeFileSync(new URL('../docs/openapi.json', import.meta.url), `${JSON.stringify(openApiDocument(), null, 2)}\n`);
console.log('docs/openapi.json written');
