/**
 * Who is a WhatsApp user, as Meta sees it: every number is, except a user configured
 * `onWhatsApp: false` and the numbers matching `notOnWhatsAppPattern` (unless configured as
 * users). A user who wrote to a business (seen on the event topic, whoever published it) is known
 * by name and BSUID, and their 24-hour window with that number opened at the message's time.
 */
import type { InboundMessage } from '../../shared/domain/types.ts';
import type { SandboxConfig } from './config.ts';
import type { KnownUser, SandboxCore, SandboxState } from './types.ts';
import { windowKey } from './types.ts';

const patterns = new WeakMap<SandboxConfig, RegExp>();

/** Whether Meta would deliver to this phone (digits): its configuration, else the pattern. */
export function isOnWhatsApp(state: SandboxState, phone: string): boolean {
  const known = state.users.get(phone);
  if (known) return known.onWhatsApp;
  let pattern = patterns.get(state.config);
  if (!pattern) {
    pattern = new RegExp(state.config.notOnWhatsAppPattern);
    patterns.set(state.config, pattern);
  }
  return !pattern.test(phone);
}

/**
 * The user a send is addressed to: by phone (`to`), any number not excluded is a user, known or
 * not; by BSUID (`recipient`), only a user whose BSUID WhatsApp issued to this business, that is
 * one configured or seen writing. Undefined: not on WhatsApp (131026).
 */
export function recipientFor(state: SandboxState, toDigits: string, bsuid: string): KnownUser | undefined {
  if (toDigits) {
    const known = state.users.get(toDigits);
    if (known) return known.onWhatsApp ? known : undefined;
    return isOnWhatsApp(state, toDigits) ? { phone: toDigits, onWhatsApp: true } : undefined;
  }
  if (bsuid) for (const u of state.users.values()) if (u.userId === bsuid) return u;
  return undefined;
}

/** The key of a user in `state.users` and of their windows: the phone, else the BSUID. */
export function userKey(user: { phone?: string; userId?: string }): string | undefined {
  return user.phone ?? user.userId;
}

/**
 * What Meta knows once it delivered `m` to the business: the sender is a WhatsApp user (named,
 * with their BSUID) and their window with that number is open from the message's time (never
 * moved back by an older message). A message to a number the sandbox does not simulate is ignored.
 */
export function learnInbound(core: SandboxCore, m: InboundMessage): void {
  const { state } = core;
  const number = core.findNumber(m.business.phoneNumberId) ?? core.findNumber(m.business.metaPhoneNumberId);
  if (!number) return;
  const phone = m.contact.waId !== undefined && /^[0-9]{6,15}$/.test(m.contact.waId) ? m.contact.waId : undefined;
  const key = userKey({ phone, userId: m.contact.userId });
  if (key === undefined) return;
  const known = state.users.get(key);
  // Meta delivered a message from this user: whatever the configuration said, they are on WhatsApp.
  state.users.set(key, {
    ...known,
    ...(phone !== undefined && { phone }),
    ...(m.contact.userId !== undefined && { userId: m.contact.userId }),
    ...(m.contact.name !== undefined && { name: m.contact.name }),
    onWhatsApp: true,
  });
  if (m.type !== 'system') {
    const wKey = windowKey(number.phoneNumberId, key);
    const previous = state.lastInboundMs.get(wKey);
    if (previous === undefined || previous < m.timestampMs) state.lastInboundMs.set(wKey, m.timestampMs);
  }
  if (!state.inbound.has(m.wamid)) {
    state.inbound.set(m.wamid, {
      phoneNumberId: number.phoneNumberId,
      from: key,
      type: m.type,
      content: m.content,
      ...(m.context?.replyTo !== undefined && { replyTo: m.context.replyTo }),
      atMs: m.timestampMs,
    });
  }
}
