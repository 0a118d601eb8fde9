/**
 * The body of `POST /v1/messages`: Meta's Cloud API send-message JSON plus `from` (the business
 * number). Every outbound type is checked against Meta's documented limits before anything is sent,
 * so a mistake comes back as a 400 with the path of the offending field instead of a `failed`
 * status minutes later.
 *
 * Objects are strict (an unknown key is an error, so typos surface), except inside template
 * components and Flow payloads, whose contents Meta extends often.
 *
 * Lengths are counted in Unicode code points (an emoji counts as one character). Meta documents its
 * limits in "characters" without saying how it counts; code points are the lenient reading.
 */
import { z } from 'zod';
import { CALLBACK_DATA_MAX } from '../domain/callback.ts';
import { phoneDigits } from '../domain/ids.ts';
import { fieldPath } from '../domain/errors.ts';
import { unreachableHostReason } from '../domain/public-url.ts';

// ---------------------------------------------------------------------------------------------
// Limits (facts §3, §7.3, §1.2). One table, so a changed Meta limit is a one-line edit.
// ---------------------------------------------------------------------------------------------

/** Length of the project's own id at the front of `biz_opaque_callback_data` (`msg_` + 32 hex + `|`). */
const OWN_CALLBACK_PREFIX = 'msg_'.length + 32 + 1;

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

const TEMPLATE_COMPONENT_TYPES = ['header', 'body', 'button', 'carousel', 'limited_time_offer'] as const;

/** Template parameter types validated field by field (facts §7.3). */
const TEMPLATE_PARAMETER_TYPES = [
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
const TEMPLATE_PASSTHROUGH_PARAMETER_TYPES = ['action', 'product', 'limited_time_offer'] as const;

const MEDIA_KINDS = ['image', 'video', 'audio', 'document', 'sticker'] as const;
type MediaKind = (typeof MEDIA_KINDS)[number];

// ---------------------------------------------------------------------------------------------
// Small building blocks
// ---------------------------------------------------------------------------------------------

/** Number of Unicode code points. */
function charCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

const list = (values: readonly string[]): string => values.join(', ');

/**
 * A string of 1..max characters (code points). `label` starts the sentence of every message, e.g.
 * "reply button titles must be at most 20 characters (got 23)".
 */
function chars(label: string, max: number = Number.POSITIVE_INFINITY) {
  return z
    .string({ error: typeError(label, 'a string') })
    .check((ctx) => {
      const n = charCount(ctx.value);
      if (n === 0) {
        ctx.issues.push({ code: 'custom', input: ctx.value, message: `${label} must not be empty` });
      } else if (n > max) {
        ctx.issues.push({
          code: 'custom',
          input: ctx.value,
          message: `${label} must be at most ${max} characters (got ${n})`,
        });
      }
    });
}

function httpUrl(label: string) {
  return z
    .string({ error: typeError(label, 'a string') })
    .check((ctx) => {
      const ok = URL.canParse(ctx.value) && /^https?:$/.test(new URL(ctx.value).protocol);
      if (!ok) {
        ctx.issues.push({ code: 'custom', input: ctx.value, message: `${label} must be an http or https URL` });
        return;
      }
      // Meta downloads the link from the internet: a host it can never reach is refused here.
      const unreachable = unreachableHostReason(ctx.value);
      if (unreachable) {
        ctx.issues.push({ code: 'custom', input: ctx.value, message: `${label} must be a public URL Meta can fetch: it ${unreachable}` });
      }
    });
}

function mediaId(label: string) {
  return z
    .string({ error: `${label} must be a string` })
    .regex(new RegExp(`^[A-Za-z0-9]{1,${OUTBOUND_LIMITS.mediaIdLength}}$`), {
      error: `${label} must be a WhatsApp media id (letters and digits, as returned by the media upload)`,
    });
}

/** `id` XOR `link`, reported on the object (neither) or on `link` (both). */
function idXorLink(label: string) {
  return (ctx: { value: { id?: unknown; link?: unknown }; issues: z.core.$ZodRawIssue[] }) => {
    const hasId = ctx.value.id !== undefined;
    const hasLink = ctx.value.link !== undefined;
    if (hasId && hasLink) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        path: ['link'],
        message: `${label} takes either an id or a link, not both`,
      });
    } else if (!hasId && !hasLink) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `${label} needs an id (an uploaded media id) or a link (an http or https URL)`,
      });
    }
  };
}

/** Pushes an error at `path` when a value appears twice. */
function requireUnique(
  ctx: { value: unknown; issues: z.core.$ZodRawIssue[] },
  entries: ReadonlyArray<{ value: string; path: PropertyKey[] }>,
  what: string,
): void {
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.value)) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        path: e.path,
        message: `${what} must be unique ("${e.value}" is used more than once)`,
      });
      return;
    }
    seen.add(e.value);
  }
}

/**
 * A schema-level error function also receives the schema's other issues (unknown keys, sizes);
 * these wordings are for a missing or mistyped value only and leave the rest to their own messages.
 */
const typeError =
  (label: string, expected: string) =>
  (iss: { code: string; input?: unknown }): string | undefined => {
    if (iss.code !== 'invalid_type') return undefined;
    return iss.input === undefined ? `${label} is required` : `${label} must be ${expected}`;
  };
const objectError = (label: string) => typeError(label, 'an object');

/** Error function of a union discriminated on `type`: missing value, not an object, unknown type. */
const unionError =
  (label: string, types: readonly string[], missing = `${label} is required`) =>
  (iss: { code: string; input?: unknown }): string | undefined => {
    if (iss.code === 'invalid_type') return iss.input === undefined ? missing : `${label} must be an object`;
    if (iss.code !== 'invalid_union') return undefined;
    const t = (iss.input as { type?: unknown } | undefined)?.type;
    return t === undefined
      ? `${label} type is required: one of ${list(types)}`
      : `${label} type must be one of ${list(types)} (got ${JSON.stringify(t)})`;
  };

const arrayOf = <T extends z.ZodType>(item: T, label: string, min: number, max = Number.POSITIVE_INFINITY) =>
  z
    .array(item, { error: typeError(label, 'an array') })
    .min(min, { error: min === 1 ? `${label} must not be empty` : `${label} needs at least ${min} entries` })
    .max(max, { error: (iss) => `${label} can have at most ${max} entries (got ${(iss.input as unknown[]).length})` });

const latitude = z
  .union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/)], {
    error: 'latitude must be a number between -90 and 90',
  })
  .refine((v) => Math.abs(Number(v)) <= 90, { error: 'latitude must be between -90 and 90' });
const longitude = z
  .union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/)], {
    error: 'longitude must be a number between -180 and 180',
  })
  .refine((v) => Math.abs(Number(v)) <= 180, { error: 'longitude must be between -180 and 180' });

// ---------------------------------------------------------------------------------------------
// Media, text, reaction, location, contacts
// ---------------------------------------------------------------------------------------------

const TextObject = z.strictObject(
  {
    body: chars('text body', OUTBOUND_LIMITS.textBody),
    preview_url: z.boolean({ error: 'text.preview_url must be true or false' }).optional(),
  },
  { error: objectError('text') },
);

function mediaObject(kind: MediaKind, label: string = kind) {
  const base = {
    id: mediaId(`${label} id`).optional(),
    link: httpUrl(`${label} link`).optional(),
  };
  const schema = (() => {
    switch (kind) {
      case 'image':
      case 'video':
        return z.strictObject(
          { ...base, caption: chars(`${label} caption`, OUTBOUND_LIMITS.mediaCaption).optional() },
          { error: objectError(label) },
        );
      case 'document':
        return z.strictObject(
          {
            ...base,
            caption: chars(`${label} caption`, OUTBOUND_LIMITS.mediaCaption).optional(),
            filename: chars(`${label} filename`, OUTBOUND_LIMITS.documentFilename).optional(),
          },
          { error: objectError(label) },
        );
      case 'audio':
        return z.strictObject(
          { ...base, voice: z.boolean({ error: 'audio.voice must be true or false' }).optional() },
          { error: objectError(label) },
        );
      case 'sticker':
        return z.strictObject(base, { error: objectError(label) });
    }
  })();
  return schema.check(idXorLink(label));
}

const emojiSegmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const EMOJI_CHAR = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u;

/** One emoji (a single grapheme containing a pictograph, flag or keycap), or "" to remove the reaction. */
function isReactionEmoji(s: string): boolean {
  if (s === '') return true;
  let graphemes = 0;
  for (const _ of emojiSegmenter.segment(s)) if (++graphemes > 1) return false;
  return EMOJI_CHAR.test(s);
}

const ReactionObject = z.strictObject(
  {
    message_id: chars('reaction message_id (the wamid reacted to)'),
    emoji: z
      .string({ error: 'reaction emoji must be a string' })
      .refine(isReactionEmoji, { error: 'reaction emoji must be a single emoji, or "" to remove the reaction' })
      .optional(),
  },
  { error: objectError('reaction') },
);

const LocationObject = z.strictObject(
  {
    latitude,
    longitude,
    name: chars('location name').optional(),
    address: chars('location address').optional(),
  },
  { error: objectError('location') },
);

const HOME_WORK = z.enum(['HOME', 'WORK'], { error: 'type must be HOME or WORK' });

const isCalendarDate = (s: string): boolean => {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s);
};

const ContactCard = z.strictObject(
  {
    name: z.strictObject(
      {
        formatted_name: chars('contact name.formatted_name'),
        first_name: chars('contact first_name').optional(),
        last_name: chars('contact last_name').optional(),
        middle_name: chars('contact middle_name').optional(),
        suffix: chars('contact suffix').optional(),
        prefix: chars('contact prefix').optional(),
      },
      { error: typeError('contact name (with formatted_name)', 'an object') },
    ),
    phones: arrayOf(
      z.strictObject({
        phone: chars('contact phone'),
        type: chars('contact phone type').optional(),
        wa_id: z.string().regex(/^\d+$/, { error: 'contact phone wa_id must be digits' }).optional(),
      }),
      'contact phones',
      1,
    ).optional(),
    emails: arrayOf(
      z.strictObject({ email: chars('contact email'), type: HOME_WORK.optional() }),
      'contact emails',
      1,
    ).optional(),
    urls: arrayOf(
      z.strictObject({ url: chars('contact url'), type: HOME_WORK.optional() }),
      'contact urls',
      1,
    ).optional(),
    addresses: arrayOf(
      z.strictObject({
        street: chars('address street').optional(),
        city: chars('address city').optional(),
        state: chars('address state').optional(),
        zip: chars('address zip').optional(),
        country: chars('address country').optional(),
        country_code: z
          .string()
          .regex(/^[A-Za-z]{2}$/, { error: 'address country_code must be a two-letter ISO country code' })
          .optional(),
        type: HOME_WORK.optional(),
      }),
      'contact addresses',
      1,
    ).optional(),
    org: z
      .strictObject({
        company: chars('org company').optional(),
        department: chars('org department').optional(),
        title: chars('org title').optional(),
      })
      .optional(),
    birthday: z
      .string()
      .refine(isCalendarDate, { error: 'contact birthday must be a date written YYYY-MM-DD' })
      .optional(),
  },
  { error: objectError('contact') },
);

// ---------------------------------------------------------------------------------------------
// Interactive
// ---------------------------------------------------------------------------------------------

const Footer = z.strictObject(
  { text: chars('footer text', OUTBOUND_LIMITS.footerText) },
  { error: objectError('footer') },
);
const body = (max: number, label = 'body text') =>
  z.strictObject({ text: chars(label, max) }, { error: objectError('body') });

const HeaderText = z.strictObject({
  type: z.literal('text'),
  text: chars('header text', OUTBOUND_LIMITS.headerText),
  sub_text: chars('header sub_text').optional(),
});
const HEADER_TYPES = ['text', 'image', 'video', 'document'] as const;
const HeaderAny = z.discriminatedUnion(
  'type',
  [
    HeaderText,
    z.strictObject({ type: z.literal('image'), image: mediaObject('image', 'header image') }),
    z.strictObject({ type: z.literal('video'), video: mediaObject('video', 'header video') }),
    z.strictObject({ type: z.literal('document'), document: headerDocument() }),
  ],
  { error: unionError('header', HEADER_TYPES) },
);
function headerDocument() {
  return z
    .strictObject(
      {
        id: mediaId('header document id').optional(),
        link: httpUrl('header document link').optional(),
        filename: chars('header document filename', OUTBOUND_LIMITS.documentFilename).optional(),
      },
      { error: objectError('header document') },
    )
    .check(idXorLink('header document'));
}
const headerTextOnly = (what: string) =>
  z.discriminatedUnion('type', [HeaderText], {
    error: (iss: { code: string; input?: unknown }) => {
      if (iss.code === 'invalid_union') return `${what} only take a header of type "text"`;
      if (iss.code !== 'invalid_type') return undefined;
      return iss.input === undefined ? `${what} need a text header` : 'header must be an object';
    },
  });

const ReplyButton = z.strictObject({
  type: z.literal('reply', { error: 'reply button type must be "reply"' }),
  reply: z.strictObject(
    {
      id: chars('reply button ids', OUTBOUND_LIMITS.replyButtonId).refine((s) => s.trim() === s, {
        error: 'reply button ids must not start or end with spaces',
      }),
      title: chars('reply button titles', OUTBOUND_LIMITS.replyButtonTitle),
    },
    { error: objectError('reply button reply') },
  ),
});

const ButtonAction = z
  .strictObject(
    { buttons: arrayOf(ReplyButton, 'reply buttons', 1, OUTBOUND_LIMITS.replyButtons) },
    { error: objectError('interactive action') },
  )
  .check((ctx) => {
    const bs = ctx.value.buttons;
    requireUnique(ctx, bs.map((b, i) => ({ value: b.reply.title, path: ['buttons', i, 'reply', 'title'] })), 'reply button titles');
    requireUnique(ctx, bs.map((b, i) => ({ value: b.reply.id, path: ['buttons', i, 'reply', 'id'] })), 'reply button ids');
  });

const ListRow = z.strictObject({
  id: chars('list row ids', OUTBOUND_LIMITS.listRowId),
  title: chars('list row titles', OUTBOUND_LIMITS.listRowTitle),
  description: chars('list row descriptions', OUTBOUND_LIMITS.listRowDescription).optional(),
});
/** Meta requires a title on every section once there is more than one. */
function requireSectionTitles(ctx: { value: { sections: Array<{ title?: string | undefined }> }; issues: unknown[] }, what: string): void {
  const { sections } = ctx.value;
  if (sections.length < 2) return;
  const i = sections.findIndex((s) => s.title === undefined);
  if (i >= 0) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      path: ['sections', i, 'title'],
      message: `every ${what} section needs a title when there is more than one section`,
    });
  }
}

const ListAction = z
  .strictObject(
    {
      button: chars('list button label', OUTBOUND_LIMITS.listButtonLabel),
      sections: arrayOf(
        z.strictObject({
          title: chars('list section titles', OUTBOUND_LIMITS.listSectionTitle).optional(),
          rows: arrayOf(ListRow, 'list section rows', 1),
        }),
        'list sections',
        1,
        OUTBOUND_LIMITS.listSections,
      ),
    },
    { error: objectError('interactive action') },
  )
  .check((ctx) => {
    requireSectionTitles(ctx, 'list');
    const { sections } = ctx.value;
    const rows = sections.flatMap((s, si) => s.rows.map((r, ri) => ({ r, path: ['sections', si, 'rows', ri] })));
    if (rows.length > OUTBOUND_LIMITS.listRowsTotal) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        path: rows[OUTBOUND_LIMITS.listRowsTotal]!.path,
        message: `a list message can have at most ${OUTBOUND_LIMITS.listRowsTotal} rows in all sections together (got ${rows.length})`,
      });
    }
    requireUnique(ctx, rows.map(({ r, path }) => ({ value: r.id, path: [...path, 'id'] })), 'list row ids');
  });

const CtaUrlAction = z.strictObject(
  {
    name: z.literal('cta_url', { error: 'interactive action name must be "cta_url"' }),
    parameters: z.strictObject(
      {
        display_text: chars('cta_url display_text', OUTBOUND_LIMITS.ctaDisplayText),
        url: httpUrl('cta_url url'),
      },
      { error: objectError('cta_url action parameters') },
    ),
  },
  { error: objectError('interactive action') },
);

const LocationRequestAction = z.strictObject(
  { name: z.literal('send_location', { error: 'interactive action name must be "send_location"' }) },
  { error: objectError('interactive action') },
);

const FlowAction = z.strictObject(
  {
    name: z.literal('flow', { error: 'interactive action name must be "flow"' }),
    parameters: z
      .strictObject(
        {
          flow_message_version: z.literal('3', { error: 'flow_message_version must be "3"' }),
          flow_id: chars('flow_id').optional(),
          flow_name: chars('flow_name').optional(),
          flow_cta: chars('flow_cta', OUTBOUND_LIMITS.flowCta),
          mode: z.enum(['draft', 'published'], { error: 'flow mode must be "draft" or "published"' }).optional(),
          flow_token: chars('flow_token').optional(),
          flow_action: z
            .enum(['navigate', 'data_exchange'], { error: 'flow_action must be "navigate" or "data_exchange"' })
            .optional(),
          // Loose: the screen's data is the Flow's own business.
          flow_action_payload: z
            .looseObject(
              {
                screen: chars('flow_action_payload screen').optional(),
                data: z
                  .record(z.string(), z.unknown(), { error: 'flow_action_payload data must be an object' })
                  .refine((d) => Object.keys(d).length > 0, {
                    error: 'flow_action_payload data must not be an empty object (leave it out instead)',
                  })
                  .optional(),
              },
              { error: 'flow_action_payload must be an object' },
            )
            .optional(),
        },
        { error: objectError('flow action parameters') },
      )
      .check((ctx) => {
        const { flow_id, flow_name } = ctx.value;
        if ((flow_id === undefined) === (flow_name === undefined)) {
          ctx.issues.push({
            code: 'custom',
            input: ctx.value,
            path: flow_id === undefined ? ['flow_id'] : ['flow_name'],
            message: 'give exactly one of flow_id and flow_name',
          });
        }
      }),
  },
  { error: objectError('interactive action') },
);

const ProductAction = z.strictObject(
  {
    catalog_id: chars('catalog_id'),
    product_retailer_id: chars('product_retailer_id'),
  },
  { error: objectError('interactive action') },
);

const ProductListAction = z
  .strictObject(
    {
      catalog_id: chars('catalog_id'),
      sections: arrayOf(
        z.strictObject({
          title: chars('product section titles', OUTBOUND_LIMITS.productSectionTitle).optional(),
          product_items: arrayOf(
            z.strictObject({ product_retailer_id: chars('product_retailer_id') }),
            'product_items',
            1,
          ),
        }),
        'product sections',
        1,
        OUTBOUND_LIMITS.productSections,
      ),
    },
    { error: objectError('interactive action') },
  )
  .check((ctx) => {
    requireSectionTitles(ctx, 'product');
    const { sections } = ctx.value;
    const items = sections.flatMap((s, si) => s.product_items.map((_, ii) => ['sections', si, 'product_items', ii]));
    if (items.length > OUTBOUND_LIMITS.productItemsTotal) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        path: items[OUTBOUND_LIMITS.productItemsTotal]!,
        message: `a product list can have at most ${OUTBOUND_LIMITS.productItemsTotal} products in all sections together (got ${items.length})`,
      });
    }
  });

const InteractiveObject = z.discriminatedUnion(
  'type',
  [
    z.strictObject({
      type: z.literal('button'),
      header: HeaderAny.optional(),
      body: body(OUTBOUND_LIMITS.interactiveBody),
      footer: Footer.optional(),
      action: ButtonAction,
    }),
    z.strictObject({
      type: z.literal('list'),
      header: headerTextOnly('list messages').optional(),
      body: body(OUTBOUND_LIMITS.listBody),
      footer: Footer.optional(),
      action: ListAction,
    }),
    z.strictObject({
      type: z.literal('cta_url'),
      header: HeaderAny.optional(),
      body: body(OUTBOUND_LIMITS.interactiveBody),
      footer: Footer.optional(),
      action: CtaUrlAction,
    }),
    z.strictObject({
      type: z.literal('location_request_message'),
      body: body(OUTBOUND_LIMITS.interactiveBody),
      action: LocationRequestAction,
    }),
    z.strictObject({
      type: z.literal('flow'),
      header: HeaderAny.optional(),
      body: body(OUTBOUND_LIMITS.interactiveBody),
      footer: Footer.optional(),
      action: FlowAction,
    }),
    z.strictObject({
      type: z.literal('product'),
      header: z.never({ error: 'single-product messages cannot have a header' }).optional(),
      body: body(OUTBOUND_LIMITS.interactiveBody).optional(),
      footer: Footer.optional(),
      action: ProductAction,
    }),
    z.strictObject({
      type: z.literal('product_list'),
      header: headerTextOnly('product list messages'),
      body: body(OUTBOUND_LIMITS.interactiveBody),
      footer: Footer.optional(),
      action: ProductListAction,
    }),
  ],
  { error: unionError('interactive', INTERACTIVE_TYPES, 'interactive is required when type is "interactive"') },
);

// ---------------------------------------------------------------------------------------------
// Template
// ---------------------------------------------------------------------------------------------

const templateMedia = (kind: 'image' | 'video' | 'document') =>
  z
    .looseObject(
      {
        id: mediaId(`template ${kind} id`).optional(),
        link: httpUrl(`template ${kind} link`).optional(),
        filename: chars('template document filename').optional(),
      },
      { error: objectError(`template ${kind} parameter object`) },
    )
    .check(idXorLink(`template ${kind} parameter`));

const TemplateParameter = z.discriminatedUnion(
  'type',
  [
    z.looseObject({
      type: z.literal('text'),
      text: chars('template text parameters'),
      parameter_name: z
        .string()
        .regex(/^[a-z0-9_]+$/, { error: 'parameter_name must be lowercase letters, digits and underscores' })
        .optional(),
    }),
    z.looseObject({
      type: z.literal('currency'),
      currency: z.looseObject(
        {
          fallback_value: chars('currency fallback_value'),
          code: z.string().regex(/^[A-Z]{3}$/, { error: 'currency code must be an ISO 4217 code such as USD' }),
          amount_1000: z.number({ error: 'currency amount_1000 must be an integer' }).int({
            error: 'currency amount_1000 must be an integer (the amount times 1000)',
          }),
        },
        { error: objectError('currency') },
      ),
    }),
    z.looseObject({
      type: z.literal('date_time'),
      date_time: z.looseObject({ fallback_value: chars('date_time fallback_value') }, { error: objectError('date_time') }),
    }),
    z.looseObject({ type: z.literal('image'), image: templateMedia('image') }),
    z.looseObject({ type: z.literal('video'), video: templateMedia('video') }),
    z.looseObject({ type: z.literal('document'), document: templateMedia('document') }),
    z.looseObject({
      type: z.literal('location'),
      location: z.looseObject(
        { latitude, longitude, name: chars('location name').optional(), address: chars('location address').optional() },
        { error: objectError('location') },
      ),
    }),
    z.looseObject({ type: z.literal('payload'), payload: chars('button payload') }),
    z.looseObject({ type: z.literal('coupon_code'), coupon_code: chars('coupon_code', OUTBOUND_LIMITS.couponCode) }),
    ...TEMPLATE_PASSTHROUGH_PARAMETER_TYPES.map((t) => z.looseObject({ type: z.literal(t) })),
  ],
  { error: unionError('template parameter', [...TEMPLATE_PARAMETER_TYPES, ...TEMPLATE_PASSTHROUGH_PARAMETER_TYPES]) },
);

const TemplateComponent = z
  .looseObject(
    {
      type: z.enum(TEMPLATE_COMPONENT_TYPES, {
        error: `template component type must be one of ${list(TEMPLATE_COMPONENT_TYPES)}`,
      }),
      sub_type: z.string({ error: 'button sub_type must be a string' }).regex(/^[a-z_]+$/, {
        error: 'button sub_type must be lowercase, e.g. quick_reply, url, copy_code, flow',
      }).optional(),
      index: z
        .union([z.string().regex(/^\d$/), z.number().int().min(0).max(9)], {
          error: 'button index must be "0" to "9"',
        })
        .optional(),
      parameters: z.array(TemplateParameter, { error: 'template component parameters must be an array' }).optional(),
    },
    { error: objectError('template component') },
  )
  .check((ctx) => {
    const c = ctx.value;
    if (c.type === 'button') {
      if (c.sub_type === undefined) {
        ctx.issues.push({ code: 'custom', input: c, path: ['sub_type'], message: 'button components need a sub_type (e.g. quick_reply, url, copy_code)' });
      }
      if (c.index === undefined) {
        ctx.issues.push({ code: 'custom', input: c, path: ['index'], message: 'button components need the index of the button ("0" to "9")' });
      }
    }
    if (c.type === 'header' && (c.parameters?.length ?? 0) > 1) {
      ctx.issues.push({
        code: 'custom',
        input: c,
        path: ['parameters', 1],
        message: `a template header takes at most one parameter (got ${c.parameters!.length})`,
      });
    }
  });

const TemplateObject = z.strictObject(
  {
    name: z
      .string({ error: typeError('template name', 'a string') })
      .regex(/^[a-z0-9_]+$/, { error: 'template name must be lowercase letters, digits and underscores' })
      .max(OUTBOUND_LIMITS.templateName, {
        error: (iss) => `template name must be at most ${OUTBOUND_LIMITS.templateName} characters (got ${(iss.input as string).length})`,
      }),
    language: z.strictObject(
      {
        code: z
          .string({ error: typeError('template language code', 'a string') })
          .regex(/^[a-z]{2,3}(_[A-Za-z0-9]{2,3})?$/, {
            error: 'template language code must look like "en" or "en_US"',
          })
          .max(OUTBOUND_LIMITS.templateLanguageCode, {
            error: `template language code must be at most ${OUTBOUND_LIMITS.templateLanguageCode} characters`,
          }),
        policy: z.literal('deterministic', { error: 'template language policy must be "deterministic"' }).optional(),
      },
      { error: objectError('template language') },
    ),
    components: z.array(TemplateComponent, { error: 'template components must be an array' }).optional(),
  },
  { error: objectError('template') },
);

// ---------------------------------------------------------------------------------------------
// The request
// ---------------------------------------------------------------------------------------------

/** `phone-number-id-<hex>`, its ARN, or the display number (digits, optional leading `+`). */
const FROM_PATTERNS = [
  /^phone-number-id-[0-9a-zA-Z]+$/,
  /^arn:aws[a-z-]*:social-messaging:[a-z0-9-]+:\d{12}:phone-number-id\/[0-9a-zA-Z]+$/,
  /^\+?\d{6,15}$/,
];
const From = z
  .string({
    error: typeError('from (the business number as its phone number id, its ARN or its display number)', 'a string'),
  })
  .refine((s) => FROM_PATTERNS.some((p) => p.test(s)), {
    error: 'from must be the business number as its phone number id (phone-number-id-…), its ARN, or its display number (digits)',
  });

const BSUID = new RegExp(`^[A-Z]{2}\\.[A-Za-z0-9]{1,${OUTBOUND_LIMITS.bsuidMax}}$`);
/** Characters people put in phone numbers besides digits. */
const PHONE_SHAPE = /^\+?[0-9 ().-]+$/;

const common = {
  from: From,
  to: z.string({ error: 'to must be a string' }).optional(),
  recipient: z
    .string({ error: 'recipient must be a string' })
    .regex(BSUID, { error: 'recipient must be a business-scoped user id such as US.13491208655302741918' })
    .optional(),
  messaging_product: z
    .literal('whatsapp', { error: 'messaging_product must be "whatsapp" (or left out)' })
    .optional(),
  recipient_type: z
    .enum(['individual', 'group'], { error: 'recipient_type must be "individual" or "group"' })
    .optional(),
  context: z
    .strictObject({ message_id: chars('context.message_id (the wamid replied to)') }, { error: objectError('context') })
    .optional(),
  biz_opaque_callback_data: chars('biz_opaque_callback_data', OUTBOUND_LIMITS.callerCallbackData).optional(),
};

const variant = <T extends OutboundType, S extends z.ZodType>(type: T, object: S) =>
  z.strictObject({ ...common, type: z.literal(type), [type]: object } as typeof common & { type: z.ZodLiteral<T> } & {
    [K in T]: S;
  });

/** Checks that need more than one field: who the message goes to. */
function checkRecipient(ctx: {
  value: { to?: string | undefined; recipient?: string | undefined; recipient_type?: 'individual' | 'group' | undefined };
  issues: z.core.$ZodRawIssue[];
}): void {
  const { to, recipient, recipient_type } = ctx.value;
  const push = (path: string, message: string) =>
    ctx.issues.push({ code: 'custom', input: ctx.value, path: [path], message });
  if (recipient_type === 'group') {
    if (to === undefined || to.trim() === '') push('to', 'to must be the group id when recipient_type is "group"');
    else if (recipient !== undefined) push('recipient', 'recipient (a user id) cannot be used when recipient_type is "group"');
    return;
  }
  if (to === undefined) {
    if (recipient === undefined) {
      push('to', "to is required: the user's phone number in E.164 (e.g. +16505551234), or give a business-scoped user id in recipient");
    }
    return;
  }
  const digits = phoneDigits(to);
  if (!PHONE_SHAPE.test(to) || digits.length < OUTBOUND_LIMITS.phoneDigitsMin || digits.length > OUTBOUND_LIMITS.phoneDigitsMax) {
    push('to', `to must be a phone number in E.164 with country code, e.g. +16505551234 (${OUTBOUND_LIMITS.phoneDigitsMin} to ${OUTBOUND_LIMITS.phoneDigitsMax} digits)`);
  }
}

export const SendMessageRequest = z
  .discriminatedUnion(
    'type',
    [
      variant('text', TextObject),
      variant('image', mediaObject('image')),
      variant('video', mediaObject('video')),
      variant('audio', mediaObject('audio')),
      variant('document', mediaObject('document')),
      variant('sticker', mediaObject('sticker')),
      z.strictObject({
        ...common,
        context: z.never({ error: 'reactions cannot be replies: remove context' }).optional(),
        type: z.literal('reaction'),
        reaction: ReactionObject,
      }),
      variant('location', LocationObject),
      variant('contacts', arrayOf(ContactCard, 'contacts', 1)),
      variant('interactive', InteractiveObject),
      variant('template', TemplateObject),
    ],
    {
      error: (iss: { code: string; input?: unknown }) => {
        if (iss.code === 'invalid_type') return 'the request body must be a JSON object';
        if (iss.code !== 'invalid_union') return undefined;
        const t = (iss.input as { type?: unknown } | undefined)?.type;
        return t === undefined
          ? `type is required: one of ${list(OUTBOUND_TYPES)}`
          : `type must be one of ${list(OUTBOUND_TYPES)} (got ${JSON.stringify(t)})`;
      },
    },
  )
  .check(checkRecipient);

export type SendMessageRequest = z.infer<typeof SendMessageRequest>;

// ---------------------------------------------------------------------------------------------
// Parsing with actionable errors
// ---------------------------------------------------------------------------------------------

export type ParseResult =
  | { ok: true; value: SendMessageRequest }
  | { ok: false; error: { path: string; message: string } };

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * Messages for issues no schema words itself (types, unknown keys). Schema-level messages win over
 * this one; it is the per-parse fallback.
 */
function fallbackMessage(iss: z.core.$ZodRawIssue): string | undefined {
  const path = (iss.path ?? []) as PropertyKey[];
  const where = fieldPath(path);
  switch (iss.code) {
    case 'invalid_type': {
      if (path.length === 0) return 'the request body must be a JSON object';
      const key = String(path[path.length - 1]);
      if (iss.input === undefined) {
        if (path.length === 1 && (OUTBOUND_TYPES as readonly string[]).includes(key)) {
          return `${key} is required when type is "${key}"`;
        }
        return `${where} is required`;
      }
      return `${where} must be ${iss.expected === 'object' ? 'an object' : `a ${iss.expected}`} (got ${kindOf(iss.input)})`;
    }
    case 'unrecognized_keys': {
      const key = iss.keys[0] ?? '';
      const input = iss.input as Record<string, unknown> | undefined;
      if (path.length === 0 && (OUTBOUND_TYPES as readonly string[]).includes(key) && typeof input?.type === 'string') {
        return `${key} is not allowed when type is "${input.type}": send one message type per request`;
      }
      return `unknown field ${fieldPath([...path, key])}: check the spelling (WhatsApp rejects fields it does not know)`;
    }
    case 'invalid_value':
      return `${where} must be ${iss.values.map((v) => JSON.stringify(v)).join(' or ')}`;
    case 'invalid_union':
      return `${where} is not valid here`;
    default:
      return undefined;
  }
}

/**
 * Validates a `POST /v1/messages` body. Never throws. On failure, `path` is the path of the
 * offending field (`''` for the body itself) and `message` says what to change.
 */
export function parseSendMessageRequest(body: unknown): ParseResult {
  const r = SendMessageRequest.safeParse(body, { error: fallbackMessage });
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
    return { ok: false, error: { path: fieldPath(path), message: issue.message } };
  }
  const bytes = new TextEncoder().encode(JSON.stringify(toMetaMessage(r.data, 'x'.repeat(CALLBACK_DATA_MAX)))).length;
  if (bytes > OUTBOUND_LIMITS.messageBytes) {
    return {
      ok: false,
      error: { path: '', message: `the message is too large: at most ${OUTBOUND_LIMITS.messageBytes} bytes of JSON (got ${bytes})` },
    };
  }
  return { ok: true, value: r.data };
}

// ---------------------------------------------------------------------------------------------
// Helpers over a valid request
// ---------------------------------------------------------------------------------------------

/** E.164 with a leading `+`: the format AWS's own samples send. */
function toE164(phone: string): string {
  return `+${phoneDigits(phone)}`;
}

/**
 * The exact JSON passed to SendWhatsAppMessage: `from` removed, `messaging_product` set, `to` in
 * E.164 with `+` (a group id is kept as is), and `biz_opaque_callback_data` = `callbackData`
 * (the caller builds it with `encodeCallbackData`).
 */
export function toMetaMessage(req: SendMessageRequest, callbackData: string): Record<string, unknown> {
  if (callbackData.length > CALLBACK_DATA_MAX) {
    throw new RangeError(`biz_opaque_callback_data is longer than ${CALLBACK_DATA_MAX} characters`);
  }
  const out: Record<string, unknown> = { messaging_product: 'whatsapp' };
  if (req.recipient_type !== undefined) out.recipient_type = req.recipient_type;
  if (req.to !== undefined) out.to = req.recipient_type === 'group' ? req.to : toE164(req.to);
  if (req.recipient !== undefined) out.recipient = req.recipient;
  out.type = req.type;
  if (req.context !== undefined) out.context = structuredClone(req.context);
  out[req.type] = structuredClone((req as Record<string, unknown>)[req.type]);
  out.biz_opaque_callback_data = callbackData;
  return out;
}

export function isTemplate(req: SendMessageRequest): req is Extract<SendMessageRequest, { type: 'template' }> {
  return req.type === 'template';
}

/**
 * The conversation key of the recipient: the digits of `to` (a user's wa_id), else the BSUID in
 * `recipient`. A group's id is returned as given.
 */
export function recipientContactId(req: SendMessageRequest): string {
  if (req.to !== undefined) return req.recipient_type === 'group' ? req.to : phoneDigits(req.to);
  // The schema guarantees one of the two for non-group requests.
  return req.recipient!;
}

/** Collects `id`s of `{type: image|video|document, <type>: {id}}` parameters, also inside carousel cards. */
function collectTemplateMediaIds(components: unknown, into: string[]): void {
  if (!Array.isArray(components)) return;
  for (const c of components) {
    if (typeof c !== 'object' || c === null) continue;
    const comp = c as Record<string, unknown>;
    if (Array.isArray(comp.parameters)) {
      for (const p of comp.parameters as Array<Record<string, unknown>>) {
        const t = p?.type;
        if (t === 'image' || t === 'video' || t === 'document') {
          const id = (p[t] as { id?: unknown } | undefined)?.id;
          if (typeof id === 'string') into.push(id);
        }
      }
    }
    if (Array.isArray(comp.cards)) {
      for (const card of comp.cards as Array<Record<string, unknown>>) collectTemplateMediaIds(card?.components, into);
    }
  }
}

/** Media ids the message references (not links): the media object, an interactive header, template parameters. */
export function mediaIdsOf(req: SendMessageRequest): string[] {
  const ids: string[] = [];
  switch (req.type) {
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker': {
      const id = (req as unknown as Record<MediaKind, { id?: string }>)[req.type].id;
      if (id !== undefined) ids.push(id);
      break;
    }
    case 'interactive': {
      const header = 'header' in req.interactive ? req.interactive.header : undefined;
      if (header !== undefined && header.type !== 'text') {
        const media = (header as Record<string, unknown>)[header.type] as { id?: string };
        if (media.id !== undefined) ids.push(media.id);
      }
      break;
    }
    case 'template':
      collectTemplateMediaIds(req.template.components, ids);
      break;
    default:
      break;
  }
  return [...new Set(ids)];
}

/**
 * Body of a mark-as-read request for an inbound message (sent through SendWhatsAppMessage).
 * `typingIndicator` also shows "typing…" to the user until the reply or for 25 seconds.
 */
export function markReadMessage(
  wamid: string,
  typingIndicator?: boolean,
): { messaging_product: 'whatsapp'; status: 'read'; message_id: string; typing_indicator?: { type: 'text' } } {
  return {
    messaging_product: 'whatsapp',
    status: 'read',
    message_id: wamid,
    ...(typingIndicator ? { typing_indicator: { type: 'text' as const } } : {}),
  };
}
