/**
 * Schemas of what End User Messaging Social publishes to the event destination: the AWS envelope
 * (SNS `Message`), and inside it one Meta webhook entry (`whatsAppWebhookEntry`, a JSON string).
 * Loose objects throughout: Meta adds fields often, and everything received is kept verbatim.
 */
import * as z from 'zod/mini';
import '../zod-locale.ts';

const digitsOrNumber = z.pipe(z.union([z.string().check(z.regex(/^\d+$/)), z.int().check(z.nonnegative())]), z.transform(String));

export const MetaErrorSchema = z.looseObject({
  code: z.int(),
  title: z.optional(z.string()),
  message: z.optional(z.string()),
  error_data: z.optional(z.looseObject({ details: z.optional(z.string()) })),
  href: z.optional(z.string()),
});

export const WebhookContactSchema = z.looseObject({
  wa_id: z.optional(z.string()),
  user_id: z.optional(z.string()),
  profile: z.optional(z.looseObject({ name: z.optional(z.string()), username: z.optional(z.string()) })),
});

const MediaObject = z.looseObject({
  id: z.string().check(z.minLength(1)),
  mime_type: z.optional(z.string()),
  sha256: z.optional(z.string()),
  caption: z.optional(z.string()),
  filename: z.optional(z.string()),
  url: z.optional(z.string()),
});

/** Interactive replies this project knows (button, list, Flow). */
const INTERACTIVE_REPLY_SCHEMAS = {
  button_reply: z.looseObject({ button_reply: z.looseObject({ id: z.string(), title: z.string() }) }),
  list_reply: z.looseObject({
    list_reply: z.looseObject({ id: z.string(), title: z.string(), description: z.optional(z.string()) }),
  }),
  nfm_reply: z.looseObject({
    nfm_reply: z.looseObject({ name: z.optional(z.string()), body: z.optional(z.string()), response_json: z.string() }),
  }),
} as const;

/** The object of each inbound type this project knows (facts §4.2). Unknown types are kept verbatim. */
export const INBOUND_TYPE_SCHEMAS = {
  text: z.looseObject({ body: z.string() }),
  image: MediaObject,
  video: MediaObject,
  audio: z.extend(MediaObject, { voice: z.optional(z.boolean()) }),
  document: MediaObject,
  sticker: z.extend(MediaObject, { animated: z.optional(z.boolean()) }),
  location: z.looseObject({
    latitude: z.number(),
    longitude: z.number(),
    name: z.optional(z.string()),
    address: z.optional(z.string()),
    url: z.optional(z.string()),
  }),
  contacts: z.array(z.looseObject({ name: z.optional(z.looseObject({ formatted_name: z.optional(z.string()) })) })),
  interactive: z.looseObject({ type: z.string().check(z.minLength(1)) }).check((ctx) => {
    // Known replies are checked; a reply type Meta adds later is kept verbatim, like an unknown type.
    // Own keys only: a `type` such as `constructor` names no schema.
    if (!Object.hasOwn(INTERACTIVE_REPLY_SCHEMAS, ctx.value.type)) return;
    const known = INTERACTIVE_REPLY_SCHEMAS[ctx.value.type as keyof typeof INTERACTIVE_REPLY_SCHEMAS];
    const r = known.safeParse(ctx.value);
    if (!r.success) for (const issue of r.error.issues) ctx.issues.push({ ...issue, input: ctx.value } as never);
  }),
  button: z.looseObject({ payload: z.optional(z.string()), text: z.string() }),
  reaction: z.looseObject({ message_id: z.string().check(z.minLength(1)), emoji: z.optional(z.string()) }),
  order: z.looseObject({
    catalog_id: z.string(),
    text: z.optional(z.string()),
    product_items: z.array(
      z.looseObject({
        product_retailer_id: z.string(),
        quantity: z.number(),
        item_price: z.number(),
        currency: z.string(),
      }),
    ),
  }),
  system: z.looseObject({ body: z.optional(z.string()), type: z.optional(z.string()), wa_id: z.optional(z.string()) }),
  unsupported: z.looseObject({ type: z.optional(z.string()) }),
} as const;

export type KnownInboundType = keyof typeof INBOUND_TYPE_SCHEMAS;

/** Whether an inbound `type` is one of ours: own keys only, so `constructor` or `__proto__` is an unknown type. */
export const isKnownInboundType = (type: string): type is KnownInboundType => Object.hasOwn(INBOUND_TYPE_SCHEMAS, type);
export const MEDIA_TYPES: ReadonlySet<string> = new Set(['image', 'video', 'audio', 'document', 'sticker']);

export const WebhookMessageSchema = z
  .looseObject({
    id: z.string().check(z.minLength(1)),
    from: z.optional(z.string()),
    from_user_id: z.optional(z.string()),
    timestamp: digitsOrNumber,
    type: z.string().check(z.minLength(1)),
    context: z.optional(
      z.looseObject({
        from: z.optional(z.string()),
        id: z.optional(z.string()),
        forwarded: z.optional(z.boolean()),
        frequently_forwarded: z.optional(z.boolean()),
        referred_product: z.optional(z.looseObject({ catalog_id: z.optional(z.string()), product_retailer_id: z.optional(z.string()) })),
      }),
    ),
    referral: z.optional(z.record(z.string(), z.unknown())),
    errors: z.optional(z.array(MetaErrorSchema)),
  })
  .check(
    z.refine((m) => m.type === 'system' || m.from !== undefined || m.from_user_id !== undefined, {
      message: 'a message needs `from` or `from_user_id`',
      path: ['from'],
    }),
  );

export const WebhookStatusSchema = z.looseObject({
  id: z.string().check(z.minLength(1)),
  status: z.string().check(z.minLength(1)),
  timestamp: digitsOrNumber,
  recipient_id: z.optional(z.string()),
  recipient_user_id: z.optional(z.string()),
  recipient_type: z.optional(z.string()),
  recipient_participant_id: z.optional(z.string()),
  recipient_identity_key_hash: z.optional(z.string()),
  biz_opaque_callback_data: z.optional(z.string()),
  conversation: z.optional(z.record(z.string(), z.unknown())),
  pricing: z.optional(z.record(z.string(), z.unknown())),
  errors: z.optional(z.array(MetaErrorSchema)),
});

/** `value` of a `messages` change. Elements are validated one by one, so one bad element spoils nothing else. */
export const MessagesValueSchema = z.looseObject({
  messaging_product: z.optional(z.string()),
  metadata: z.looseObject({ display_phone_number: z.optional(z.string()), phone_number_id: z.string().check(z.minLength(1)) }),
  contacts: z.optional(z.array(WebhookContactSchema)),
  messages: z.optional(z.array(z.unknown())),
  statuses: z.optional(z.array(z.unknown())),
  errors: z.optional(z.array(z.unknown())),
});

export const WebhookEntrySchema = z.looseObject({
  id: z.string().check(z.minLength(1)),
  changes: z.array(z.looseObject({ field: z.string().check(z.minLength(1)), value: z.unknown() })),
});

/** The AWS envelope: the SNS `Message` once parsed (facts §2.1). */
export const EumEnvelopeSchema = z.looseObject({
  /**
   * AWS documents the context only for message events; account events (templates, quality, account
   * updates) may carry no phone numbers, or no context at all. Only a `messages` change needs its
   * number here, and is reported as a problem when it is missing.
   */
  context: z.optional(
    z.looseObject({
      MetaWabaIds: z.optional(z.array(z.looseObject({ wabaId: z.string(), arn: z.optional(z.string()) }))),
      MetaPhoneNumberIds: z.optional(z.array(z.looseObject({ metaPhoneNumberId: z.string(), arn: z.string() }))),
    }),
  ),
  /** A JSON string in every capture; an object is accepted too (AWS's own sample parses defensively). */
  whatsAppWebhookEntry: z.union([z.string(), z.record(z.string(), z.unknown())]),
  aws_account_id: z.optional(z.string()),
  message_timestamp: z.optional(z.string()),
  messageId: z.optional(z.string()),
});

export type EumEnvelope = z.infer<typeof EumEnvelopeSchema>;
export type WebhookMessage = z.infer<typeof WebhookMessageSchema>;
export type WebhookStatus = z.infer<typeof WebhookStatusSchema>;
