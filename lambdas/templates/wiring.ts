/** The template sync's Lambda wiring, imported on its first invocation (shared/lazy.ts). */
import { documentClient, socialMessagingClient } from '../../shared/adapters/aws-clients.ts';
import { DynamoDbTemplates } from '../../shared/adapters/dynamodb-templates.ts';
import { SocialMessagingGateway } from '../../shared/adapters/socialmessaging-gateway.ts';
import { SocialMessagingTemplates } from '../../shared/adapters/socialmessaging-templates.ts';
import { loadConfig } from '../../shared/config.ts';
import { PhoneNumberResolver } from '../../shared/domain/send-message.ts';
import { TemplateCatalog } from '../../shared/domain/templates.ts';
import type { makeHandler } from './handler.ts';

export function templateSyncDeps(): Parameters<typeof makeHandler>[0] {
  const config = loadConfig(['TABLE_NAME', 'PHONE_NUMBER_IDS']);
  const client = socialMessagingClient();
  const store = new DynamoDbTemplates(documentClient(), config.TABLE_NAME);
  const numbers = new PhoneNumberResolver(new SocialMessagingGateway(client), config.PHONE_NUMBER_IDS.split(','));
  return { catalog: new TemplateCatalog({ source: new SocialMessagingTemplates(client), store, now: Date.now }), wabas: () => numbers.wabas() };
}
