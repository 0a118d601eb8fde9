/**
 * Control routes that show the WhatsApp side, for the console and for tests: the users the
 * sandbox knows (configured, added, or seen writing), one user's chat with the business numbers,
 * and the latest envelopes on the event topic.
 */
import { z } from 'zod';
import { phoneDigits } from '../../shared/domain/ids.ts';
import { isWindowOpen } from '../../shared/domain/window.ts';
import { ControlError } from './http.ts';
import type { KnownUser, SandboxCore } from './types.ts';
import { windowKey } from './types.ts';
import { isOnWhatsApp, userKey } from './users.ts';

export interface ControlAnswer {
  status: number;
  body: unknown;
}

export type ControlHandler = (core: SandboxCore, query: URLSearchParams, body: unknown) => Promise<ControlAnswer>;

const NewUserSchema = z.strictObject({
  phone: z.string().regex(/^\+?[0-9][0-9 ()-]{4,}$/, 'phone must be the user phone number (digits)'),
  name: z.string().min(1).max(100).optional(),
  userId: z.string().regex(/^[A-Z]{2}\.[0-9A-Za-z]+$/, 'userId must look like CC.<alphanumerics>').optional(),
});

function userView(core: SandboxCore, u: KnownUser) {
  const now = core.state.now();
  const key = userKey(u)!;
  const windows = core.state.config.phoneNumbers.flatMap((n) => {
    const last = core.state.lastInboundMs.get(windowKey(n.phoneNumberId, key));
    return last === undefined ? [] : [{ phoneNumberId: n.phoneNumberId, lastInboundAt: new Date(last).toISOString(), open: isWindowOpen(last, now) }];
  });
  return { ...u, key, windows };
}

/** The user of `?user=` (phone digits or BSUID): known, or any number on WhatsApp. */
function userOf(core: SandboxCore, query: URLSearchParams): KnownUser {
  const raw = query.get('user');
  if (!raw) throw new ControlError(400, 'invalid_request', 'Give ?user=<phone digits or BSUID>.');
  const key = /^\+?[0-9 ()-]+$/.test(raw) ? phoneDigits(raw) : raw;
  const known = core.state.users.get(key) ?? [...core.state.users.values()].find((u) => u.userId === key);
  if (known) return known;
  if (/^[0-9]+$/.test(key)) return { phone: key, onWhatsApp: isOnWhatsApp(core.state, key) };
  throw new ControlError(404, 'unknown_user', 'No user with that BSUID.');
}

export const VIEW_ROUTES: Readonly<Record<string, Readonly<Record<string, ControlHandler>>>> = {
  '/sandbox/users': {
    GET: async (core) => ({ status: 200, body: [...core.state.users.values()].map((u) => userView(core, u)) }),
    POST: async (core, _q, body) => {
      const parsed = NewUserSchema.safeParse(body ?? {});
      if (!parsed.success) {
        throw new ControlError(400, 'invalid_request', 'The user is not valid.', parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
      }
      const phone = phoneDigits(parsed.data.phone);
      const known = core.state.users.get(phone);
      const user: KnownUser = {
        ...known,
        phone,
        onWhatsApp: known?.onWhatsApp ?? isOnWhatsApp(core.state, phone),
        ...(parsed.data.name !== undefined && { name: parsed.data.name }),
        ...(parsed.data.userId !== undefined && { userId: parsed.data.userId }),
      };
      core.state.users.set(phone, user);
      return { status: known ? 200 : 201, body: userView(core, user) };
    },
  },
  '/sandbox/chat': {
    /** One user's chat with the business numbers, oldest first: what they sent and what they got. */
    GET: async (core, query) => {
      const user = userOf(core, query);
      const ids = new Set([user.phone, user.userId].filter((x): x is string => x !== undefined));
      const sent = [...core.state.inbound.entries()]
        .filter(([, r]) => ids.has(r.from))
        .map(([wamid, r]) => ({
          direction: 'inbound' as const,
          wamid,
          phoneNumberId: r.phoneNumberId,
          type: r.type,
          content: r.content,
          ...(r.replyTo !== undefined && { replyTo: r.replyTo }),
          at: new Date(r.atMs).toISOString(),
        }));
      const received = core.state.outbox
        .filter((e) => e.kind === 'message' && e.to !== null && ids.has(e.to))
        .map((e) => {
          const message = e.message as Record<string, unknown>;
          const type = typeof message.type === 'string' ? message.type : 'text';
          return {
            direction: 'outbound' as const,
            wamid: e.wamid,
            phoneNumberId: e.phoneNumberId,
            type,
            content: message[type] ?? null,
            status: e.status,
            statuses: [...e.statuses],
            at: e.acceptedAt,
          };
        });
      const messages = [...sent, ...received].sort((a, b) => a.at.localeCompare(b.at));
      return { status: 200, body: { user: userView(core, user), messages } };
    },
  },
  '/sandbox/events': {
    /** The latest envelopes on the topic; `?after=<seq>` only those after one already seen. */
    GET: async (core, query) => {
      const after = Number(query.get('after') ?? 0) || 0;
      return { status: 200, body: core.state.events.filter((e) => e.seq > after) };
    },
  },
};
