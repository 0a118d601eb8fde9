/** The broadcast function's Lambda wiring, imported on its first invocation (shared/lazy.ts). */
import { setTimeout as sleep } from 'node:timers/promises';
import { broadcastDeps } from '../../shared/adapters/broadcast-wiring.ts';
import { Broadcasts } from '../../shared/domain/broadcasts.ts';

export const broadcasts = (): Broadcasts => new Broadcasts({ ...broadcastDeps(), sleep });
