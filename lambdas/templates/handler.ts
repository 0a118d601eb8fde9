/**
 * Syncs the template catalog of every WABA of the configured numbers: on a schedule, and once on
 * each deploy (a trigger). Template webhooks keep the catalog current in between; this catches
 * what a webhook did not bring (templates made in WhatsApp Manager, an outage of the event path).
 */
import type { TemplateCatalog, SyncResult } from '../../shared/domain/templates.ts';
import { logger } from '../../shared/observability.ts';
import { onFirstUse } from '../../shared/lazy.ts';

/** `wabas`: the WABAs to sync; one that fails is logged and the others are still synced. */
export function makeHandler(deps: { catalog: TemplateCatalog; wabas: () => Promise<string[]> }) {
  return async (): Promise<{ results: SyncResult[]; failed: string[] }> => {
    const results: SyncResult[] = [];
    const failed: string[] = [];
    for (const wabaId of await deps.wabas()) {
      try {
        results.push(await deps.catalog.sync(wabaId));
      } catch (err) {
        failed.push(wabaId);
        logger.error('template sync failed', { wabaId, error: (err as Error).name });
      }
    }
    logger.info('template catalog synced', { results, failed });
    if (failed.length) throw new Error(`template sync failed for ${failed.join(', ')}`);
    return { results, failed };
  };
}

const wired = onFirstUse(async () => makeHandler((await import('./wiring.ts')).templateSyncDeps()));
export const handler = async () => (await wired())();
