/**
 * A second WABA, configured in the sandbox (`local/sandbox/two-wabas.config.json`, the file
 * `npm start -- --sandbox-config` takes): its number receives and sends, and each WABA has its own
 * template catalog, all through the HTTP API and the sandbox's user-facing routes.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { eventually, useTarget } from './support/target.ts';

const CONFIG = fileURLToPath(new URL('../../local/sandbox/two-wabas.config.json', import.meta.url));
const t = useTarget({ localOnly: true, sandboxConfigPath: CONFIG });

const first = () => t.current.phoneNumbers[0]!;
const second = () => t.current.phoneNumbers.find((p) => p.wabaId !== first().wabaId)!;

describe.runIf(t.enabled)('a second WABA', () => {
  it('is served beside the first: listed in runtime.json with its own WABA', () => {
    expect(t.current.phoneNumbers).toHaveLength(3);
    expect(second()).toMatchObject({ displayPhoneNumber: '15550100003', wabaId: expect.stringMatching(/^waba-[0-9a-f]{32}$/) });
  });

  it('receives a message from a user, stored under its number, and sends the reply from it', async () => {
    const user = '14155557001';

    // A simulated user writes to the second WABA's number.
    const inbound = await t.current.sandbox('POST', '/sandbox/inbound', { from: user, to: second().displayPhoneNumber, type: 'text', text: { body: 'hello partner' } });
    expect(inbound.status).toBe(201);
    const stored = await eventually(async () => {
      const page = await t.current.api('GET', `/v1/conversations/${second().phoneNumberId}/${user}/messages`);
      return page.body?.items?.length ? page.body.items : undefined;
    }, 'the message stored under the second number');
    expect(stored[0]).toMatchObject({ wamid: inbound.body.wamid, direction: 'inbound', phoneNumberId: second().phoneNumberId, content: { body: 'hello partner' } });
    expect((await t.current.api('GET', `/v1/conversations/${first().phoneNumberId}/${user}/messages`)).body.items).toEqual([]);

    // The business answers from that number; WhatsApp delivers it from there.
    const sent = await t.current.api('POST', '/v1/messages', { from: second().displayPhoneNumber, to: user, type: 'text', text: { body: 'hi from the partner' } });
    expect(sent.status).toBe(202);
    const outbox = (await t.current.sandbox('GET', `/sandbox/outbox?to=${user}`)).body as any[];
    expect(outbox.map((m) => [m.phoneNumberId, m.message.text?.body])).toEqual([[second().phoneNumberId, 'hi from the partner']]);
    const read = await eventually(async () => {
      const m = (await t.current.api('GET', `/v1/messages/${sent.body.id}`)).body;
      return m?.status === 'read' ? m : undefined;
    }, 'the reply read');
    expect(read).toMatchObject({ phoneNumberId: second().phoneNumberId, direction: 'outbound' });
  });

  it('lists each WABA its own templates, and checks a send against the catalog of the WABA of the number', async () => {
    const user = '14155557002';

    const own = await t.current.api('GET', `/v1/templates?wabaId=${second().wabaId}`);
    const byDefault = await t.current.api('GET', '/v1/templates');
    const synced = await t.current.api('POST', '/v1/templates/sync', {});
    const sent = await t.current.api('POST', '/v1/messages', {
      from: second().phoneNumberId,
      to: user,
      type: 'template',
      template: { name: 'partner_welcome', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Sheena' }] }] },
    });
    const tooFew = await t.current.api('POST', '/v1/messages', { from: second().phoneNumberId, to: user, type: 'template', template: { name: 'partner_welcome', language: { code: 'en_US' } } });

    expect(own.body.items.map((x: any) => `${x.wabaId} ${x.name}`).sort()).toEqual([`${second().wabaId} hello_world`, `${second().wabaId} partner_welcome`]);
    expect(byDefault.body.items.map((x: any) => `${x.wabaId} ${x.name}`)).toEqual([`${first().wabaId} hello_world`]);
    expect(synced.body.results.map((r: any) => [r.wabaId, r.templates]).sort()).toEqual([[first().wabaId, 1], [second().wabaId, 2]].sort());
    expect(sent.status).toBe(202);
    expect(sent.body.templateChecked).toBe(true);
    expect(tooFew.status).toBe(422);
    expect(tooFew.body.error.code).toBe('template_parameter_mismatch');
  });
});
