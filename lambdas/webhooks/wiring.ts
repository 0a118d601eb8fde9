/** The webhook function's Lambda wiring, imported on its first invocation (shared/lazy.ts). */
import { documentClient } from '../../shared/adapters/aws-clients.ts';
import { HttpWebhookTransport } from '../../shared/adapters/http-webhooks.ts';
import { webhookAdapters } from '../../shared/adapters/webhook-wiring.ts';
import type { DeliveryDeps } from '../../shared/domain/deliver-webhooks.ts';
import { logger } from '../../shared/observability.ts';

export function deliveryDeps(opts: { onDelivery?: DeliveryDeps['onDelivery'] }): DeliveryDeps {
  const adapters = webhookAdapters(documentClient());
  return {
    ...adapters,
    transport: new HttpWebhookTransport({ allowLoopback: adapters.allowLoopback }),
    now: Date.now,
    onDelivery:
      opts.onDelivery ??
      ((d) => logger.info('webhook delivery', { webhookId: d.webhookId, eventId: d.eventId, eventType: d.eventType, attempt: d.attempt, outcome: d.outcome, httpStatus: d.httpStatus })),
  };
}
