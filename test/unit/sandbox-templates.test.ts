/**
 * The sandbox's templates through the real SDK client: the catalog of the config, every page of
 * ListWhatsAppMessageTemplates, GetWhatsAppMessageTemplate, create (PENDING, then APPROVED with a
 * status webhook), delete, and Meta's refusal of a template send as a `failed` status.
 */
import {
  CreateWhatsAppMessageTemplateCommand,
  DeleteWhatsAppMessageTemplateCommand,
  GetWhatsAppMessageTemplateCommand,
  ListWhatsAppMessageTemplatesCommand,
  SendWhatsAppMessageCommand,
} from '@aws-sdk/client-socialmessaging';
import { describe, expect, it } from 'vitest';
import { parseSandboxConfig } from '../../local/sandbox/index.ts';
import { blob, drain, useSandboxSuite, whatsAppStatusesFor } from '../sandbox/harness.ts';

const suite = useSandboxSuite(Date.parse('2026-03-01T10:00:00.000Z'), {
  afterEachTest: (sb) => sb.call('POST', '/sandbox/clock', { advanceMs: 10_000 }),
});
const waba = () => suite.sb.config.phoneNumbers[0]!.wabaId;
let n = 0;
const user = () => `1415666${String(1000 + ++n)}`;

async function sendTemplate(template: Record<string, unknown>) {
  const out = await suite.sb.sm.send(
    new SendWhatsAppMessageCommand({
      originationPhoneNumberId: suite.sb.config.phoneNumbers[0]!.phoneNumberId,
      message: blob({ messaging_product: 'whatsapp', to: `+${user()}`, type: 'template', template }),
      metaApiVersion: 'v20.0',
    }),
  );
  const statuses = whatsAppStatusesFor(await drain(suite.emu, suite.sb.sandbox), out.messageId);
  return statuses;
}

async function listAll(maxResults: number) {
  const names: string[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const page = await suite.sb.sm.send(new ListWhatsAppMessageTemplatesCommand({ id: waba(), maxResults, ...(nextToken && { nextToken }) }));
    for (const t of page.templates ?? []) names.push(`${t.templateName}/${t.templateLanguage}/${t.templateStatus}`);
    nextToken = page.nextToken;
    pages++;
  } while (nextToken);
  return { names, pages };
}

describe('sandbox templates', () => {
  it('lists the configured catalog over several pages, Meta hello_world among them', async () => {
    const { names, pages } = await listAll(3);

    expect(pages).toBe(Math.ceil(suite.sb.config.templates.length / 3));
    expect(names).toHaveLength(suite.sb.config.templates.length);
    expect(names).toContain('hello_world/en_US/APPROVED');
    expect(names).toContain('spring_sale/en_US/PAUSED');
  });

  it('answers a template whole by name and language, or by its id', async () => {
    const byName = await suite.sb.sm.send(new GetWhatsAppMessageTemplateCommand({ id: waba(), templateName: 'welcome_offer', templateLanguageCode: 'en_US' }));
    const t = JSON.parse(byName.template!);
    const byId = await suite.sb.sm.send(new GetWhatsAppMessageTemplateCommand({ id: waba(), metaTemplateId: t.id }));

    expect(t).toMatchObject({ name: 'welcome_offer', language: 'en_US', status: 'APPROVED', category: 'MARKETING', parameter_format: 'NAMED' });
    expect(t.components.map((c: { type: string }) => c.type)).toEqual(['HEADER', 'BODY', 'FOOTER']);
    expect(JSON.parse(byId.template!)).toEqual(t);
    await expect(
      suite.sb.sm.send(new GetWhatsAppMessageTemplateCommand({ id: waba(), templateName: 'nope', templateLanguageCode: 'en_US' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('creates a template PENDING, approves it with a status webhook, and deletes it with another', async () => {
    const definition = { name: 'shipping_notice', language: 'en_US', category: 'UTILITY', components: [{ type: 'BODY', text: 'Your parcel {{1}} is on its way.', example: { body_text: [['P-1']] } }] };

    const created = await suite.sb.sm.send(new CreateWhatsAppMessageTemplateCommand({ id: waba(), templateDefinition: blob(definition) }));
    const review = await drain(suite.emu, suite.sb.sandbox);
    const again = suite.sb.sm.send(new CreateWhatsAppMessageTemplateCommand({ id: waba(), templateDefinition: blob(definition) }));
    await expect(again).rejects.toMatchObject({ name: 'InvalidParametersException' });
    await suite.sb.sm.send(new DeleteWhatsAppMessageTemplateCommand({ id: waba(), templateName: 'shipping_notice' }));
    const deletion = await drain(suite.emu, suite.sb.sandbox);

    expect(created).toMatchObject({ templateStatus: 'PENDING', category: 'UTILITY', metaTemplateId: expect.stringMatching(/^1\d{15}$/) });
    const statusOf = (r: (typeof review)[number]) => (r.entry.changes[0]!.field === 'message_template_status_update' ? r.value : undefined);
    expect(review.map(statusOf)).toEqual([
      { event: 'APPROVED', message_template_id: Number(created.metaTemplateId), message_template_name: 'shipping_notice', message_template_language: 'en_US', reason: 'NONE', message_template_category: 'UTILITY' },
    ]);
    expect(review[0]!.envelope.context.MetaWabaIds[0]!.arn).toMatch(/:waba\/[0-9a-f]{32}$/);
    expect(deletion.map((r) => statusOf(r)?.event)).toEqual(['DELETED']);
    expect((await listAll(100)).names.some((x) => x.startsWith('shipping_notice/'))).toBe(false);
  });

  it('refuses a template send as Meta does, with a failed status naming the problem', async () => {
    const body = (...texts: string[]) => ({ type: 'body', parameters: texts.map((text) => ({ type: 'text', text })) });
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ name: 'no_such_template', language: { code: 'en_US' } }, 132001, /does not exist in en_US/],
      [{ name: 'hello_world', language: { code: 'fr' } }, 132001, /does not exist in fr/],
      [{ name: 'new_arrivals', language: { code: 'en_US' }, components: [body('Sheena')] }, 132001, /PENDING/],
      [{ name: 'spring_sale', language: { code: 'en_US' }, components: [body('20%')] }, 132015, /paused/],
      [{ name: 'old_promo', language: { code: 'en_US' } }, 132016, /disabled/],
      [{ name: 'order_update', language: { code: 'es' }, components: [body('Sheena', 'ORD-1')] }, 132000, /^body: .*\(2\) .*\(3\)$/],
      [{ name: 'hello_world', language: { code: 'en_US' }, components: [body('extra')] }, 132000, /^body: .*\(1\) .*\(0\)$/],
      [{ name: 'welcome_offer', language: { code: 'en_US' }, components: [{ type: 'header', parameters: [{ type: 'image', image: { id: '123' } }] }, body('Sheena', 'W10')] }, 132012, /first_name, code/],
    ];
    for (const [template, code, details] of cases) {
      const [failed, ...rest] = await sendTemplate(template);
      expect(rest, JSON.stringify(template)).toEqual([]);
      expect(failed, JSON.stringify(template)).toMatchObject({ status: 'failed', errors: [{ code }] });
      expect(failed!.errors[0].error_data.details).toMatch(details);
    }
  });

  it('sends an approved template whose parameters fit, priced by its category', async () => {
    const statuses = await sendTemplate({
      name: 'order_update',
      language: { code: 'en_US' },
      components: [
        { type: 'header', parameters: [{ type: 'image', image: { id: '123' } }] },
        { type: 'body', parameters: ['ORD-7', '$5', 'Friday'].map((text) => ({ type: 'text', text })) },
        { type: 'button', sub_type: 'quick_reply', index: '0', parameters: [{ type: 'payload', payload: 'CANCEL' }] },
        { type: 'button', sub_type: 'url', index: '1', parameters: [{ type: 'text', text: 'ORD-7' }] },
      ],
    });
    const named = await sendTemplate({
      name: 'welcome_offer',
      language: { code: 'en_US' },
      components: [
        { type: 'header', parameters: [{ type: 'image', image: { id: '123' } }] },
        { type: 'body', parameters: [{ type: 'text', parameter_name: 'code', text: 'W10' }, { type: 'text', parameter_name: 'first_name', text: 'Sheena' }] },
      ],
    });

    expect(statuses.map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
    expect(statuses[0]!.pricing).toMatchObject({ category: 'utility' });
    expect(named.map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
    expect(named[0]!.pricing).toMatchObject({ category: 'marketing' });
  });

  it('pauses a template on request and publishes the status webhook', async () => {
    const res = await suite.sb.call('POST', '/sandbox/templates/status', { name: 'hello_world', language: 'en_US', status: 'PAUSED', reason: 'FIRST_PAUSE' });
    const published = await drain(suite.emu, suite.sb.sandbox);
    const [failed] = await sendTemplate({ name: 'hello_world', language: { code: 'en_US' } });
    await suite.sb.call('POST', '/sandbox/templates/status', { name: 'hello_world', language: 'en_US', status: 'APPROVED' });
    await drain(suite.emu, suite.sb.sandbox);

    expect(res).toMatchObject({ status: 200, body: { name: 'hello_world', status: 'PAUSED' } });
    expect(published.map((r) => r.value)).toEqual([expect.objectContaining({ event: 'PAUSED', reason: 'FIRST_PAUSE', message_template_name: 'hello_world' })]);
    expect(failed).toMatchObject({ status: 'failed', errors: [{ code: 132015 }] });
  });

  it('refuses a config whose template names an unknown WABA or repeats a language', () => {
    const tpl = { name: 'x', language: 'en_US', category: 'UTILITY', components: [{ type: 'BODY', text: 'x' }] };
    expect(() => parseSandboxConfig({ templates: [{ ...tpl, wabaId: `waba-${'0'.repeat(32)}` }] })).toThrow(/templates\.0\.wabaId: .* not the WABA of any configured number/);
    expect(() => parseSandboxConfig({ templates: [tpl, tpl] })).toThrow(/duplicate template x \(en_US\)/);
  });
});
