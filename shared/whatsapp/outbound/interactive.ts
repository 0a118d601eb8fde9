/** The `interactive` object of an outbound message: buttons, lists, CTA URL, location request, Flow, product and product list. */
import * as z from 'zod';
import { INTERACTIVE_TYPES, OUTBOUND_LIMITS } from './limits.ts';
import { arrayOf, chars, httpUrl, idXorLink, mediaId, objectError, requireUnique, unionError } from './fields.ts';
import { mediaObject } from './media.ts';

export const Footer = z.strictObject(
  { text: chars('footer text', OUTBOUND_LIMITS.footerText) },
  { error: objectError('footer') },
);
export const body = (max: number, label = 'body text') =>
  z.strictObject({ text: chars(label, max) }, { error: objectError('body') });

export const HeaderText = z.strictObject({
  type: z.literal('text'),
  text: chars('header text', OUTBOUND_LIMITS.headerText),
  sub_text: chars('header sub_text').optional(),
});
export const HEADER_TYPES = ['text', 'image', 'video', 'document'] as const;
export const HeaderAny = z.discriminatedUnion(
  'type',
  [
    HeaderText,
    z.strictObject({ type: z.literal('image'), image: mediaObject('image', 'header image') }),
    z.strictObject({ type: z.literal('video'), video: mediaObject('video', 'header video') }),
    z.strictObject({ type: z.literal('document'), document: headerDocument() }),
  ],
  { error: unionError('header', HEADER_TYPES) },
);
export function headerDocument() {
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
export const headerTextOnly = (what: string) =>
  z.discriminatedUnion('type', [HeaderText], {
    error: (iss: { code: string; input?: unknown }) => {
      if (iss.code === 'invalid_union') return `${what} only take a header of type "text"`;
      if (iss.code !== 'invalid_type') return undefined;
      return iss.input === undefined ? `${what} need a text header` : 'header must be an object';
    },
  });

export const ReplyButton = z.strictObject({
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

export const ButtonAction = z
  .strictObject(
    { buttons: arrayOf(ReplyButton, 'reply buttons', 1, OUTBOUND_LIMITS.replyButtons) },
    { error: objectError('interactive action') },
  )
  .check((ctx) => {
    const bs = ctx.value.buttons;
    requireUnique(ctx, bs.map((b, i) => ({ value: b.reply.title, path: ['buttons', i, 'reply', 'title'] })), 'reply button titles');
    requireUnique(ctx, bs.map((b, i) => ({ value: b.reply.id, path: ['buttons', i, 'reply', 'id'] })), 'reply button ids');
  });

export const ListRow = z.strictObject({
  id: chars('list row ids', OUTBOUND_LIMITS.listRowId),
  title: chars('list row titles', OUTBOUND_LIMITS.listRowTitle),
  description: chars('list row descriptions', OUTBOUND_LIMITS.listRowDescription).optional(),
});
/** Meta requires a title on every section once there is more than one. */
export function requireSectionTitles(ctx: { value: { sections: Array<{ title?: string | undefined }> }; issues: unknown[] }, what: string): void {
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

export const ListAction = z
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

export const CtaUrlAction = z.strictObject(
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

export const LocationRequestAction = z.strictObject(
  { name: z.literal('send_location', { error: 'interactive action name must be "send_location"' }) },
  { error: objectError('interactive action') },
);

export const FlowAction = z.strictObject(
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

export const ProductAction = z.strictObject(
  {
    catalog_id: chars('catalog_id'),
    product_retailer_id: chars('product_retailer_id'),
  },
  { error: objectError('interactive action') },
);

export const ProductListAction = z
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

export const InteractiveObject = z.discriminatedUnion(
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
