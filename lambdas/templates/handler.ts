/**
 * Syncs the template catalog of every WABA of the configured numbers: on a schedule, and once on
 * each deploy (a trigger). Template webhooks keep the catalog current in between; this catches
 * what a webhook did not bring (templates made in WhatsApp Manager, an outage of the event path).
 */
import { DynamoDbTemplates } from '../../shared/adapters/dynamodb-templates.ts';
import { documentClient, socialMessagingClient } from '../../shared/adapters/aws-clients.ts';
import { SocialMessagingGateway } from '../../shared/adapters/socialmessaging-gateway.ts';
import { SocialMessagingTemplates } from '../../shared/adapters/socialmessaging-templates.ts';
import { loadConfig } from '../../shared/config.ts';
import { PhoneNumberResolver } from '../../shared/domain/send-message.ts';
import { TemplateCatalog, type SyncResult } from '../../shared/domain/templates.ts';
import { logger } from '../../shared/observability.ts';

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

let wired: ReturnType<typeof makeHandler> | undefined;
export const handler = () =>
  (wired ??= (() => {
    const config = loadConfig(['TABLE_NAME', 'PHONE_NUMBER_IDS']);
    const client = socialMessagingClient();
    const store = new DynamoDbTemplates(documentClient(), config.TABLE_NAME);
    const numbers = new PhoneNumberResolver(new SocialMessagingGateway(client), config.PHONE_NUMBER_IDS.split(','));
    return makeHandler({ catalog: new TemplateCatalog({ source: new SocialMessagingTemplates(client), store, now: Date.now }), wabas: () => numbers.wabas() });
  })())();
