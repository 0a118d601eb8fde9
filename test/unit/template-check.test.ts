/** The check of a template send against the catalog, and template webhooks read as catalog changes. */
import type { ApiError } from '../../shared/domain/errors.ts';
import { httpStatusOf } from '../../lambdas/api/http-errors.ts';
import { describe, expect, it } from 'vitest';
import { checkTemplateSend, parameterMismatches, templateChangeOf, type CatalogTemplate } from '../../shared/domain/templates.ts';

const base: CatalogTemplate = { wabaId: 'waba-1', name: 'order_update', language: 'en_US', status: 'APPROVED', parameterFormat: 'positional' };
const positional: CatalogTemplate = {
  ...base,
  components: [
    { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}' },
    { type: 'BODY', text: 'Hi {{1}}, order {{2}} ships {{3}}.' },
    { type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'Stop' }, { type: 'URL', text: 'Track', url: 'https://x.example/{{1}}' }, { type: 'COPY_CODE', example: 'X' }] },
  ],
};
const named: CatalogTemplate = { ...base, parameterFormat: 'named', components: [{ type: 'BODY', text: 'Hi {{first_name}}, code {{code}}' }] };
const p = (...names: (string | undefined)[]) => names.map((n) => ({ type: 'text', ...(n !== undefined && { parameter_name: n }) }));
const req = (components: unknown[]) => ({ name: 'order_update', language: 'en_US', components: components as any });

describe('parameterMismatches', () => {
  it('accepts a positional send that fills every component, a quick reply with or without its payload', () => {
    const full = [
      { type: 'header', parameters: p('1') },
      { type: 'body', parameters: p(undefined, undefined, undefined) },
      { type: 'button', index: '1', parameters: p(undefined) },
      { type: 'button', index: 2, parameters: [{ type: 'coupon_code' }] },
    ];
    expect(parameterMismatches(positional, full)).toEqual([]);
    expect(parameterMismatches(positional, [...full, { type: 'button', index: '0', parameters: [{ type: 'payload' }] }])).toEqual([]);
  });

  it('names every component that does not fit, with the counts expected and given', () => {
    const mismatches = parameterMismatches(positional, [{ type: 'body', parameters: p(undefined, undefined) }, { type: 'footer', parameters: p(undefined) }]);
    expect(mismatches).toEqual([
      { component: 'header', expected: 1, given: 0 },
      { component: 'body', expected: 3, given: 2 },
      { component: 'button 1 (url)', expected: 1, given: 0 },
      { component: 'button 2 (copy_code)', expected: 1, given: 0 },
      { component: 'footer', expected: 0, given: 1 },
    ]);
  });

  it('requires the names of a named template, in any order', () => {
    expect(parameterMismatches(named, [{ type: 'body', parameters: p('code', 'first_name') }])).toEqual([]);
    expect(parameterMismatches(named, [{ type: 'body', parameters: p('first_name', 'coupon') }])).toEqual([
      { component: 'body', expected: 2, given: 2, expectedNames: ['first_name', 'code'], givenNames: ['first_name', 'coupon'] },
    ]);
  });
});

describe('checkTemplateSend', () => {
  it('sends a template the catalog never saw, or knows only by a webhook, unchecked', () => {
    expect(checkTemplateSend(req([]), undefined, [])).toBe(false);
    expect(checkTemplateSend(req([]), { ...base }, [])).toBe(false);
    expect(checkTemplateSend(req([{ type: 'body', parameters: p('code', 'first_name') }]), named, [])).toBe(true);
  });

  it('refuses a missing language, a deleted or unapproved template and wrong parameters, with Meta codes', () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return [httpStatusOf(err as ApiError), (err as any).code, (err as any).details.metaCode];
      }
      return undefined;
    };
    expect(codeOf(() => checkTemplateSend(req([]), undefined, ['es']))).toEqual([404, 'template_not_found', 132001]);
    expect(codeOf(() => checkTemplateSend(req([]), { ...positional, status: 'DELETED' }, []))).toEqual([404, 'template_not_found', 132001]);
    expect(codeOf(() => checkTemplateSend(req([]), { ...positional, status: 'PAUSED' }, []))).toEqual([409, 'template_not_approved', 132015]);
    expect(codeOf(() => checkTemplateSend(req([]), { ...positional, status: 'DISABLED' }, []))).toEqual([409, 'template_not_approved', 132016]);
    expect(codeOf(() => checkTemplateSend(req([]), { ...positional, status: 'REJECTED' }, []))).toEqual([409, 'template_not_approved', 132001]);
    expect(codeOf(() => checkTemplateSend(req([]), positional, []))).toEqual([422, 'template_parameter_mismatch', 132000]);
    expect(codeOf(() => checkTemplateSend(req([{ type: 'body', parameters: p('a', 'b') }]), named, []))).toEqual([422, 'template_parameter_mismatch', 132012]);
  });
});

describe('templateChangeOf', () => {
  const at = { wabaId: 'waba-1', atMs: 5 };
  it('reads status, quality and category webhooks, the language written either way', () => {
    const ids = { message_template_id: 1689556908129832, message_template_name: 'order_confirmation', message_template_language: 'en-US' };
    expect(templateChangeOf({ ...at, field: 'message_template_status_update', value: { event: 'APPROVED', reason: 'NONE', ...ids } })).toEqual({
      ...at, name: 'order_confirmation', language: 'en_US', metaTemplateId: '1689556908129832', status: 'APPROVED',
    });
    expect(templateChangeOf({ ...at, field: 'message_template_quality_update', value: { new_quality_score: 'RED', previous_quality_score: 'GREEN', ...ids } })).toMatchObject({ qualityScore: 'RED' });
    expect(templateChangeOf({ ...at, field: 'template_category_update', value: { new_category: 'MARKETING', previous_category: 'UTILITY', ...ids } })).toMatchObject({ category: 'MARKETING' });
  });

  it('ignores other fields and values without a template name or language', () => {
    expect(templateChangeOf({ ...at, field: 'phone_number_quality_update', value: { event: 'FLAGGED' } })).toBeUndefined();
    expect(templateChangeOf({ ...at, field: 'message_template_status_update', value: { event: 'APPROVED' } })).toBeUndefined();
    expect(templateChangeOf({ ...at, field: 'message_template_status_update', value: 'nonsense' })).toBeUndefined();
  });
});
