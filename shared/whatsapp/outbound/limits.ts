/** Limits of outbound messages (facts §3, §7.3, §1.2) and the names of the outbound types. One table, so a changed Meta limit is a one-line edit. */

/** Meta's limit on `biz_opaque_callback_data`. */
export const CALLBACK_DATA_MAX = 512;

/** Length of the project's own id at the front of `biz_opaque_callback_data` (`msg_` + 32 hex + `|`). */
export const OWN_CALLBACK_PREFIX = 'msg_'.length + 32 + 1;

export const OUTBOUND_LIMITS = {
  textBody: 4096,
  mediaCaption: 1024,
  documentFilename: 255,
  mediaIdLength: 100,
  /** What is left of Meta's 512 for the caller once the project's id is in front. */
  callerCallbackData: CALLBACK_DATA_MAX - OWN_CALLBACK_PREFIX,
  interactiveBody: 1024,
  /** Meta's current list-message page says 4096; older pages say 1024. We accept 4096. */
  listBody: 4096,
  headerText: 60,
  footerText: 60,
  replyButtons: 3,
  replyButtonTitle: 20,
  replyButtonId: 256,
  listButtonLabel: 20,
  listSections: 10,
  listRowsTotal: 10,
  listSectionTitle: 24,
  listRowTitle: 24,
  listRowDescription: 72,
  listRowId: 200,
  ctaDisplayText: 20,
  flowCta: 30,
  productSections: 10,
  productItemsTotal: 30,
  productSectionTitle: 24,
  templateName: 512,
  templateLanguageCode: 6,
  couponCode: 15,
  /** Maximum digits of an E.164 number; the shortest national numbers give 7. */
  phoneDigitsMin: 7,
  phoneDigitsMax: 15,
  bsuidMax: 128,
  /** AWS limit on the SendWhatsAppMessage `message` blob, in bytes. */
  messageBytes: 2_048_000,
} as const;

/** The outbound message types this API accepts (facts §3). */
export const OUTBOUND_TYPES = [
  'text',
  'image',
  'video',
  'audio',
  'document',
  'sticker',
  'reaction',
  'location',
  'contacts',
  'interactive',
  'template',
] as const;
export type OutboundType = (typeof OUTBOUND_TYPES)[number];

export const INTERACTIVE_TYPES = [
  'button',
  'list',
  'cta_url',
  'location_request_message',
  'flow',
  'product',
  'product_list',
] as const;

export const TEMPLATE_COMPONENT_TYPES = ['header', 'body', 'button', 'carousel', 'limited_time_offer'] as const;

/** Template parameter types validated field by field (facts §7.3). */
export const TEMPLATE_PARAMETER_TYPES = [
  'text',
  'currency',
  'date_time',
  'image',
  'video',
  'document',
  'location',
  'payload',
  'coupon_code',
] as const;
/** Parameter types Meta documents for catalog / offer templates: passed through, only `type` checked. */
export const TEMPLATE_PASSTHROUGH_PARAMETER_TYPES = ['action', 'product', 'limited_time_offer'] as const;

export const MEDIA_KINDS = ['image', 'video', 'audio', 'document', 'sticker'] as const;
export type MediaKind = (typeof MEDIA_KINDS)[number];
