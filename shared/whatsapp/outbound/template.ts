/** The `template` object of an outbound message: components and their parameters. */
import * as z from 'zod';
import { OUTBOUND_LIMITS, TEMPLATE_COMPONENT_TYPES, TEMPLATE_PARAMETER_TYPES, TEMPLATE_PASSTHROUGH_PARAMETER_TYPES } from './limits.ts';
import { chars, httpUrl, idXorLink, latitude, list, longitude, mediaId, objectError, typeError, unionError } from './fields.ts';

export const templateMedia = (kind: 'image' | 'video' | 'document') =>
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

export const TemplateParameter = z.discriminatedUnion(
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

export const TemplateComponent = z
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

export const TemplateObject = z.strictObject(
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
