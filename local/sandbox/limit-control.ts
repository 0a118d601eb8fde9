/**
 * The sandbox's control of Meta's messaging limit: `POST /sandbox/limits` changes the tier it
 * enforces (see `limits.ts`) and sends the webhook Meta sends; `GET` shows what it enforces.
 */
import * as z from 'zod';
import { ControlError } from './http.ts';
import { MESSAGING_TIERS, type MessagingTier } from './limits.ts';
import type { SandboxCore } from './types.ts';
import { envelopeOf, unixSeconds } from './webhooks.ts';

/** The tier's name in a webhook (`UNLIMITED` is `TIER_UNLIMITED` there). */
const webhookTier = (tier: MessagingTier) => (tier === 'UNLIMITED' ? 'TIER_UNLIMITED' : tier);

/**
 * Meta changes the business's messaging limit: the sandbox enforces the new tier from now on and
 * sends `phone_number_quality_update` for each of its numbers (`UPGRADE` or `DOWNGRADE`, the old and
 * the new tier in `current_limit` and `max_daily_conversations_per_business`), as Meta does.
 */
export async function setMessagingTier(core: SandboxCore, tier: MessagingTier): Promise<void> {
  const { config } = core.state;
  const old = config.limits.messagingTier;
  config.limits.messagingTier = tier;
  const nowMs = core.state.now();
  for (const number of config.phoneNumbers) {
    const entry = {
      id: number.metaWabaId,
      time: Number(unixSeconds(nowMs)),
      changes: [
        {
          field: 'phone_number_quality_update',
          value: {
            display_phone_number: number.displayPhoneNumber,
            event: MESSAGING_TIERS[tier] >= MESSAGING_TIERS[old] ? 'UPGRADE' : 'DOWNGRADE',
            old_limit: webhookTier(old),
            current_limit: webhookTier(tier),
            max_daily_conversations_per_business: webhookTier(tier),
          },
        },
      ],
    };
    await core.publish(envelopeOf({ number, entry, region: core.opts.region, accountId: core.opts.accountId, nowMs }), false);
  }
}

const LimitsSchema = z.strictObject({ messagingTier: z.enum(Object.keys(MESSAGING_TIERS) as [MessagingTier, ...MessagingTier[]]) });

const limitsBody = (core: SandboxCore) => {
  const { messagesPerSecond, messagingTier, pairRateBurst } = core.state.config.limits;
  return { messagesPerSecond, messagingTier, pairRateBurst, uniqueUsersLast24h: core.sendTimes.uniqueUsers.size };
};

export const LIMIT_CONTROL_ROUTES = {
  /** `GET /sandbox/limits`: what the sandbox enforces; `POST {messagingTier}` changes the tier (see `setMessagingTier`). */
  '/sandbox/limits': {
    GET: async (core: SandboxCore) => ({ status: 200, body: limitsBody(core) }),
    POST: async (core: SandboxCore, _query: URLSearchParams, body: unknown) => {
      const parsed = LimitsSchema.safeParse(body ?? {});
      if (!parsed.success) throw new ControlError(400, 'invalid_request', `Give {"messagingTier": one of ${Object.keys(MESSAGING_TIERS).join(', ')}}.`);
      try {
        await setMessagingTier(core, parsed.data.messagingTier);
      } catch (err) {
        throw new ControlError(502, 'publish_failed', `Publishing the messaging-limit webhook failed: ${(err as Error).name}.`);
      }
      return { status: 200, body: limitsBody(core) };
    },
  },
} as const;
