/**
 * Template journeys against the local runtime and the sandbox WABA, through the HTTP API: the
 * catalog read at start-up, a template webhook that changes it, creating and deleting a template,
 * and the checks of a template send before AWS is called (nothing reaches the sandbox's outbox).
 */
import { describe, expect, it } from 'vitest';
import { eventually, useTarget } from './support/target.ts';

const t = useTarget({ localOnly: true });
const local = t.enabled;

let n = 0;
const newUser = () => `1415777${String(1000 + ++n).slice(-4)}`;
const pn = () => t.current.phoneNumbers[0]!;
const outboxOf = async (to: string) => (await t.current.sandbox('GET', `/sandbox/outbox?to=${to}`)).body as any[];
const sendTemplate = (to: string, template: Record<string, unknown>) => t.current.api('POST', '/v1/messages', { from: pn().phoneNumberId, to, type: 'template', template });
const text = (...xs: string[]) => xs.map((x) => ({ type: 'text', text: x }));
const statusOf = async (name: string, language: string) => (await t.current.api('GET', `/v1/templates/${name}/${language}`)).body?.status;

describe.runIf(local)('templates', () => {
  it('lists the sandbox catalog, read at start-up, with components and filters', async () => {
    const all = await t.current.api('GET', '/v1/templates');
    const approved = await t.current.api('GET', '/v1/templates?status=APPROVED&language=en_US');
    const byName = await t.current.api('GET', '/v1/templates?name=order_update');
    const paged = await t.current.api('GET', '/v1/templates?limit=3');
    const next = await t.current.api('GET', `/v1/templates?limit=3&cursor=${paged.body.nextCursor}`);
    const hello = await t.current.api('GET', `/v1/templates/hello_world/en_US?wabaId=${pn().wabaId}`);

    expect(all.status).toBe(200);
    expect(all.body.items.map((x: any) => `${x.name}/${x.language}`)).toEqual(expect.arrayContaining(['hello_world/en_US', 'order_update/en_US', 'order_update/es', 'spring_sale/en_US']));
    expect(approved.body.items.every((x: any) => x.status === 'APPROVED' && x.language === 'en_US')).toBe(true);
    expect(approved.body.items.map((x: any) => x.name)).not.toContain('spring_sale');
    expect(byName.body.items.map((x: any) => x.language)).toEqual(['en_US', 'es']);
    expect(paged.body.items).toHaveLength(3);
    expect([...paged.body.items, ...next.body.items].map((x: any) => x.name)).toEqual(all.body.items.slice(0, 3 + next.body.items.length).map((x: any) => x.name));
    expect(hello.body).toMatchObject({ wabaId: pn().wabaId, name: 'hello_world', status: 'APPROVED', category: 'UTILITY', parameterFormat: 'positional', metaTemplateId: expect.stringMatching(/^\d+$/) });
    expect(hello.body.components.map((c: any) => c.type)).toEqual(['HEADER', 'BODY', 'FOOTER']);
    expect((await t.current.api('GET', '/v1/templates?wabaId=waba-00000000000000000000000000000000')).body.error.code).toBe('unknown_waba');
    expect((await t.current.api('GET', '/v1/templates/nope/en_US')).body.error.code).toBe('template_not_found');
  });

  it('refuses a template with one parameter too few before AWS is called, naming every component', async () => {
    const user = newUser();

    const res = await sendTemplate(user, {
      name: 'order_update',
      language: { code: 'en_US' },
      components: [{ type: 'body', parameters: text('ORD-1', '$5') }, { type: 'button', sub_type: 'url', index: '1', parameters: [] }],
    });

    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('template_parameter_mismatch');
    expect(res.body.error.message).toMatch(/header expects 1 parameter, 0 given; body expects 3 parameters, 2 given; button 1 \(url\) expects 1 parameter, 0 given/);
    expect(res.body.error.details).toMatchObject({ metaCode: 132000, mismatches: [{ component: 'header', expected: 1, given: 0 }, { component: 'body', expected: 3, given: 2 }, { component: 'button 1 (url)', expected: 1, given: 0 }] });
    expect(await outboxOf(user)).toEqual([]);
  });

  it('refuses a language the template lacks and a template that is not approved, and sends a fitting one checked', async () => {
    const user = newUser();

    const language = await sendTemplate(user, { name: 'hello_world', language: { code: 'fr' } });
    const paused = await sendTemplate(user, { name: 'spring_sale', language: { code: 'en_US' }, components: [{ type: 'body', parameters: text('20%') }] });
    const pending = await sendTemplate(user, { name: 'new_arrivals', language: { code: 'en_US' }, components: [{ type: 'body', parameters: text('Sheena') }] });
    const named = await sendTemplate(user, { name: 'welcome_offer', language: { code: 'en_US' }, components: [{ type: 'header', parameters: [{ type: 'image', image: { id: '1234' } }] }, { type: 'body', parameters: text('Sheena', 'W10') }] });
    const outboxBefore = await outboxOf(user);
    const good = await sendTemplate(user, { name: 'hello_world', language: { code: 'en_US' } });

    expect(language).toMatchObject({ status: 404, body: { error: { code: 'template_not_found', details: { languages: ['en_US'], metaCode: 132001 } } } });
    expect(paused).toMatchObject({ status: 409, body: { error: { code: 'template_not_approved', details: { status: 'PAUSED', metaCode: 132015 } } } });
    expect(pending).toMatchObject({ status: 409, body: { error: { code: 'template_not_approved', details: { status: 'PENDING', metaCode: 132001 } } } });
    expect(named.status).toBe(422);
    expect(named.body.error.message).toMatch(/body takes the named parameters first_name, code \(given: \(unnamed\), \(unnamed\)\)/);
    expect(outboxBefore).toEqual([]);
    expect(good).toMatchObject({ status: 202, body: { status: 'accepted', templateChecked: true } });
    expect((await outboxOf(user)).map((e) => e.message.template.name)).toEqual(['hello_world']);
  });

  it('sends a template the catalog has never seen, unchecked, and says so', async () => {
    const user = newUser();

    const res = await sendTemplate(user, { name: 'made_elsewhere', language: { code: 'en_US' } });

    expect(res).toMatchObject({ status: 202, body: { templateChecked: false } });
    expect(await outboxOf(user)).toHaveLength(1);
  });

  it('follows a template status webhook without a sync: paused, then approved again', async () => {
    const user = newUser();
    const body = { name: 'order_update', language: { code: 'es' }, components: [{ type: 'body', parameters: text('Sheena', 'ORD-2', 'lunes') }] };

    await t.current.sandbox('POST', '/sandbox/templates/status', { name: 'order_update', language: 'es', status: 'PAUSED', reason: 'FIRST_PAUSE' });
    await eventually(async () => ((await statusOf('order_update', 'es')) === 'PAUSED' ? true : undefined), 'the catalog to show PAUSED');
    const refused = await sendTemplate(user, body);
    await t.current.sandbox('POST', '/sandbox/templates/status', { name: 'order_update', language: 'es', status: 'APPROVED', reason: 'UNPAUSE' });
    await eventually(async () => ((await statusOf('order_update', 'es')) === 'APPROVED' ? true : undefined), 'the catalog to show APPROVED');
    const sent = await sendTemplate(user, body);

    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'template_not_approved', details: { status: 'PAUSED', metaCode: 132015 } } } });
    expect(sent).toMatchObject({ status: 202, body: { templateChecked: true } });
    expect(await outboxOf(user)).toHaveLength(1);
  });

  it('creates a template (PENDING until the review webhook approves it), sends it, deletes it', async () => {
    const user = newUser();
    const definition = { name: 'journey_notice', language: 'en_US', category: 'UTILITY', components: [{ type: 'BODY', text: 'Your visit is on {{1}}.', example: { body_text: [['Monday']] } }] };

    const created = await t.current.api('POST', '/v1/templates', definition);
    await eventually(async () => ((await statusOf('journey_notice', 'en_US')) === 'APPROVED' ? true : undefined), 'the review webhook');
    const sent = await sendTemplate(user, { name: 'journey_notice', language: { code: 'en_US' }, components: [{ type: 'body', parameters: text('Monday') }] });
    const deleted = await t.current.api('DELETE', '/v1/templates/journey_notice');
    const after = await sendTemplate(user, { name: 'journey_notice', language: { code: 'en_US' }, components: [{ type: 'body', parameters: text('Monday') }] });
    const listed = await t.current.api('GET', '/v1/templates?name=journey_notice');
    const synced = await t.current.api('POST', '/v1/templates/sync', {});

    expect(created).toMatchObject({ status: 201, body: { name: 'journey_notice', status: 'PENDING', category: 'UTILITY', metaTemplateId: expect.stringMatching(/^\d+$/) } });
    expect(sent).toMatchObject({ status: 202, body: { templateChecked: true } });
    expect(deleted).toMatchObject({ status: 200, body: { name: 'journey_notice', deleted: ['en_US'] } });
    expect(after).toMatchObject({ status: 404, body: { error: { code: 'template_not_found' } } });
    expect(listed.body.items).toEqual([]);
    expect(synced.status).toBe(200);
    expect(synced.body.results).toEqual([{ wabaId: pn().wabaId, templates: expect.any(Number), deleted: 0 }]);
    expect((await t.current.api('POST', '/v1/templates', { ...definition, name: 'Bad Name' })).body.error).toMatchObject({ code: 'validation_error' });
  });

  it('copies a template of Meta library, approved at once with its components, and sends it checked', async () => {
    const user = newUser();

    const created = await t.current.api('POST', '/v1/templates', { library: { name: 'journey_delivery', libraryTemplateName: 'delivery_update_1', category: 'UTILITY', language: 'en_US' } });
    const short = await sendTemplate(user, { name: 'journey_delivery', language: { code: 'en_US' }, components: [{ type: 'body', parameters: text('12345') }] });
    const sent = await sendTemplate(user, { name: 'journey_delivery', language: { code: 'en_US' }, components: [{ type: 'body', parameters: text('12345', 'https://example.com/t/12345') }] });
    const unknown = await t.current.api('POST', '/v1/templates', { library: { name: 'journey_x', libraryTemplateName: 'no_such_library_template', category: 'UTILITY', language: 'en_US' } });

    expect(created).toMatchObject({ status: 201, body: { name: 'journey_delivery', status: 'APPROVED', category: 'UTILITY', parameterFormat: 'positional' } });
    expect(created.body.components).toEqual([expect.objectContaining({ type: 'BODY', text: expect.stringContaining('{{2}}') })]);
    expect(short).toMatchObject({ status: 422, body: { error: { code: 'template_parameter_mismatch', details: { mismatches: [{ component: 'body', expected: 2, given: 1 }] } } } });
    expect(sent).toMatchObject({ status: 202, body: { templateChecked: true } });
    expect(unknown.status).toBe(400);
  });
});
