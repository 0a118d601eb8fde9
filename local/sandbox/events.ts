/**
 * What the sandbox knows of the event topic: the latest envelopes (for the console's live list),
 * and, for each inbound message on it, what Meta would know (`learnInbound`).
 */
import { parseEventBody } from '../../shared/domain/parse-event.ts';
import type { EventRecord, SandboxCore } from './types.ts';
import { learnInbound } from './users.ts';

/** Envelopes kept for the console. */
export const EVENTS_KEPT = 200;

let seq = 0;

/** `message:<type>`, `status:<status>` or the webhook field of each element of an envelope. */
export function kindsOf(envelope: unknown): string[] {
  try {
    const raw = (envelope as { whatsAppWebhookEntry?: unknown }).whatsAppWebhookEntry;
    const entry = typeof raw === 'string' ? JSON.parse(raw) : raw;
    const kinds: string[] = [];
    for (const change of (entry?.changes ?? []) as { field?: string; value?: any }[]) {
      const v = change.value ?? {};
      for (const m of v.messages ?? []) kinds.push(`message:${m?.type}`);
      for (const s of v.statuses ?? []) kinds.push(`status:${s?.status}`);
      if (!v.messages?.length && !v.statuses?.length) kinds.push(String(change.field ?? 'unknown'));
    }
    return kinds.length ? kinds : ['unknown'];
  } catch {
    return ['unreadable'];
  }
}

/** Adds an envelope to the list (oldest dropped beyond `EVENTS_KEPT`). */
export function recordEvent(core: SandboxCore, envelope: unknown): void {
  const { events } = core.state;
  const record: EventRecord = { seq: ++seq, at: new Date(core.state.now()).toISOString(), kinds: kindsOf(envelope), envelope };
  events.push(record);
  if (events.length > EVENTS_KEPT) events.splice(0, events.length - EVENTS_KEPT);
}

/** One SQS body from the topic: listed, and every inbound message on it learnt. */
export function observeBody(core: SandboxCore, body: string): void {
  let envelope: unknown = body;
  try {
    const notification = JSON.parse(body) as { Type?: string; Message?: string };
    envelope = notification.Type === 'Notification' && typeof notification.Message === 'string' ? JSON.parse(notification.Message) : notification;
  } catch {
    // not JSON: listed as it is
  }
  recordEvent(core, envelope);
  const parsed = parseEventBody(body, core.state.now());
  if (parsed.kind !== 'ok') return;
  for (const m of parsed.parsed.messages) learnInbound(core, m);
}
