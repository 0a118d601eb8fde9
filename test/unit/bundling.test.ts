/** Every function folder under lambdas/ is bundled: `npm run bundle` and `npm start -- --bundled` build and run each one. */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FUNCTION_HANDLERS } from '../../lib/bundling.ts';
import { QUEUES } from '../../shared/resource-spec.ts';

describe('the bundled functions', () => {
  it('are exactly the folders of lambdas/, and include every queue handler', () => {
    const folders = readdirSync(new URL('../../lambdas/', import.meta.url), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    expect([...FUNCTION_HANDLERS].sort()).toEqual(folders);
    for (const q of QUEUES) expect(FUNCTION_HANDLERS as readonly string[], q.name).toContain(q.handler);
  });
});
