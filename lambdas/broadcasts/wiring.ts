/** The broadcast function's Lambda wiring, imported on its first invocation (shared/lazy.ts). */
import { setTimeout as sleep } from 'node:timers/promises';
import { documentClient } from '../../shared/adapters/aws-clients.ts';
import { broadcastDeps, messageSender } from '../../shared/adapters/broadcast-wiring.ts';
import { Broadcasts } from '../../shared/domain/broadcasts.ts';

/** A broadcast's sends read the template catalog once a second, not once a recipient. */
const TEMPLATE_READS_KEPT_MS = 1000;

export const broadcasts = (): Broadcasts => {
  const doc = documentClient();
  return new Broadcasts({ ...broadcastDeps(doc, messageSender(doc, { templateReadsKeptMs: TEMPLATE_READS_KEPT_MS })), sleep });
};
