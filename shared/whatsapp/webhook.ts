/**
 * Schemas of what End User Messaging Social publishes to the event destination: the AWS envelope
 * (SNS `Message`), and inside it one Meta webhook entry (`whatsAppWebhookEntry`, a JSON string).
 * Loose objects throughout: Meta adds fields often, and everything received is kept verbatim.
 */
import * as z from 'zod';

const digitsOrNumber = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(String);

export const MetaErrorSchema = z.looseObject({
  code: z.number().int(),
  title: z.string().optional(),
  message: z.string().optional(),
  error_data: z.looseObject({ details: z.string().optional() }).optional(),
  href: z.string().optional(),
});

export const WebhookContactSchema = z.looseObject({
  wa_id: z.string().optional(),
  user_id: z.string().optional(),
  profile: z.looseObject({ name: z.string().optional(), username: z.string().optional() }).optional(),
});

const MediaObject = z.looseObject({
  id: z.string().min(1),
  mime_type: z.string().optional(),
  sha256: z.string().optional(),
  caption: z.string().optional(),
  filename: z.string().optional(),
  url: z.string().optional(),
});

/** Interactive replies this project knows (button, list, Flow). */
const INTERACTIVE_REPLY_SCHEMAS = {
  button_reply: z.looseObject({ button_reply: z.looseObject({ id: z.string(), title: z.string() }) }),
  list_reply: z.looseObject({
    list_reply: z.looseObject({ id: z.string(), title: z.string(), description: z.string().optional() }),
  }),
  nfm_reply: z.looseObject({
    nfm_reply: z.looseObject({ name: z.string().optional(), body: z.string().optional(), response_json: z.string() }),
  }),
} as const;

/** The object of each inbound type this project knows (facts §4.2). Unknown types are kept verbatim. */
export const INBOUND_TYPE_SCHEMAS = {
  text: z.looseObject({ body: z.string() }),
  image: MediaObject,
  video: MediaObject,
  audio: MediaObject.extend({ voice: z.boolean().optional() }),
  document: MediaObject,
  sticker: MediaObject.extend({ animated: z.boolean().optional() }),
  location: z.looseObject({
    latitude: z.number(),
    longitude: z.number(),
    name: z.string().optional(),
    address: z.string().optional(),
    url: z.string().optional(),
  }),
  contacts: z.array(z.looseObject({ name: z.looseObject({ formatted_name: z.string().optional() }).optional() })),
  interactive: z.looseObject({ type: z.string().min(1) }).check((ctx) => {
    // Known replies are checked; a reply type Meta adds later is kept verbatim, like an unknown type.
    // Own keys only: a `type` such as `constructor` names no schema.
    if (!Object.hasOwn(INTERACTIVE_REPLY_SCHEMAS, ctx.value.type)) return;
    const known = INTERACTIVE_REPLY_SCHEMAS[ctx.value.type as keyof typeof INTERACTIVE_REPLY_SCHEMAS];
    const r = known.safeParse(ctx.value);
    if (!r.success) for (const issue of r.error.issues) ctx.issues.push({ ...issue, input: ctx.value } as never);
  }),
  button: z.looseObject({ payload: z.string().optional(), text: z.string() }),
  reaction: z.looseObject({ message_id: z.string().min(1), emoji: z.string().optional() }),
  order: z.looseObject({
    catalog_id: z.string(),
    text: z.string().optional(),
    product_items: z.array(
      z.looseObject({
        product_retailer_id: z.string(),
        quantity: z.number(),
        item_price: z.number(),
        currency: z.string(),
      }),
    ),
  }),
  system: z.looseObject({ body: z.string().optional(), type: z.string().optional(), wa_id: z.string().optional() }),
  unsupported: z.looseObject({ type: z.string().optional() }),
} as const;

export type KnownInboundType = keyof typeof INBOUND_TYPE_SCHEMAS;

/** Whether an inbound `type` is one of ours: own keys only, so `constructor` or `__proto__` is an unknown type. */
export const isKnownInboundType = (type: string): type is KnownInboundType => Object.hasOwn(INBOUND_TYPE_SCHEMAS, type);
export const MEDIA_TYPES: ReadonlySet<string> = new Set(['image', 'video', 'audio', 'document', 'sticker']);

export const WebhookMessageSchema = z
  .looseObject({
    id: z.string().min(1),
    from: z.string().optional(),
    from_user_id: z.string().optional(),
    timestamp: digitsOrNumber,
    type: z.string().min(1),
    context: z
      .looseObject({
        from: z.string().optional(),
        id: z.string().optional(),
        forwarded: z.boolean().optional(),
        frequently_forwarded: z.boolean().optional(),
        referred_product: z
          .looseObject({ catalog_id: z.string().optional(), product_retailer_id: z.string().optional() })
          .optional(),
      })
      .optional(),
    referral: z.record(z.string(), z.unknown()).optional(),
    errors: z.array(MetaErrorSchema).optional(),
  })
  .refine((m) => m.type === 'system' || m.from !== undefined || m.from_user_id !== undefined, {
    message: 'a message needs `from` or `from_user_id`',
    path: ['from'],
  });

export const WebhookStatusSchema = z.looseObject({
  id: z.string().min(1),
  status: z.string().min(1),
  timestamp: digitsOrNumber,
  recipient_id: z.string().optional(),
  recipient_user_id: z.string().optional(),
  recipient_type: z.string().optional(),
  recipient_participant_id: z.string().optional(),
  recipient_identity_key_hash: z.string().optional(),
  biz_opaque_callback_data: z.string().optional(),
  conversation: z.record(z.string(), z.unknown()).optional(),
  pricing: z.record(z.string(), z.unknown()).optional(),
  errors: z.array(MetaErrorSchema).optional(),
});

/** `value` of a `messages` change. Elements are validated one by one, so one bad element spoils nothing else. */
export const MessagesValueSchema = z.looseObject({
  messaging_product: z.string().optional(),
  metadata: z.looseObject({ display_phone_number: z.string().optional(), phone_number_id: z.string().min(1) }),
  contacts: z.array(WebhookContactSchema).optional(),
  messages: z.array(z.unknown()).optional(),
  statuses: z.array(z.unknown()).optional(),
  errors: z.array(z.unknown()).optional(),
});

export const WebhookEntrySchema = z.looseObject({
  id: z.string().min(1),
  changes: z.array(z.looseObject({ field: z.string().min(1), value: z.unknown() })),
});

/** The AWS envelope: the SNS `Message` once parsed (facts §2.1). */
export const EumEnvelopeSchema = z.looseObject({
  /**
   * AWS documents the context only for message events; account events (templates, quality, account
   * updates) may carry no phone numbers, or no context at all. Only a `messages` change needs its
   * number here, and is reported as a problem when it is missing.
   */
  context: z
    .looseObject({
      MetaWabaIds: z.array(z.looseObject({ wabaId: z.string(), arn: z.string().optional() })).optional(),
      MetaPhoneNumberIds: z.array(z.looseObject({ metaPhoneNumberId: z.string(), arn: z.string() })).optional(),
    })
    .optional(),
  /** A JSON string in every capture; an object is accepted too (AWS's own sample parses defensively). */
  whatsAppWebhookEntry: z.union([z.string(), z.record(z.string(), z.unknown())]),
  aws_account_id: z.string().optional(),
  message_timestamp: z.string().optional(),
  messageId: z.string().optional(),
});

export type EumEnvelope = z.infer<typeof EumEnvelopeSchema>;
export type WebhookMessage = z.infer<typeof WebhookMessageSchema>;
export type WebhookStatus = z.infer<typeof WebhookStatusSchema>;
