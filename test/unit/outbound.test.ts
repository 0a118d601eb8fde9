import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  isTemplate,
  markReadMessage,
  mediaIdsOf,
  parseSendMessageRequest,
  recipientContactId,
  toMetaMessage,
  type SendMessageRequest,
} from '../../shared/whatsapp/outbound.ts';

const FIXTURE_DIR = join(import.meta.dirname, '../fixtures/outbound');
const FIXTURES = readdirSync(FIXTURE_DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -'.json'.length));

type Json = Record<string, any>;

const fixture = (name: string): Json => structuredClone(JSON.parse(readFileSync(join(FIXTURE_DIR, `${name}.json`), 'utf8')));

/** Sets the value at a dotted path (numeric segments index arrays); `undefined` deletes it. */
function setAt(obj: Json, path: string, value: unknown): Json {
  const keys = path.split('.');
  let cur: any = obj;
  for (const k of keys.slice(0, -1)) cur = cur[k];
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return obj;
}

const valid = (body: unknown): SendMessageRequest => {
  const r = parseSendMessageRequest(body);
  if (!r.ok) throw new Error(`expected valid, got ${r.error.path}: ${r.error.message}`);
  return r.value;
};

const invalid = (body: unknown): { path: string; message: string } => {
  const r = parseSendMessageRequest(body);
  if (r.ok) throw new Error('expected the body to be rejected');
  return r.error;
};

const row = (i: number) => ({ id: `row-${i}`, title: `Row ${i}` });
const item = (i: number) => ({ product_retailer_id: `sku-${i}` });
const button = (i: number) => ({ type: 'reply', reply: { id: `b-${i}`, title: `Button ${i}` } });

describe('valid examples of every outbound type', () => {
  it('has a fixture for every outbound type and interactive type', () => {
    // Prepare / Act / Assess in one: the list of fixture files is the coverage.
    expect(FIXTURES.sort()).toEqual(
      [
        'audio', 'contacts', 'document', 'image', 'interactive-button', 'interactive-cta_url', 'interactive-flow',
        'interactive-list', 'interactive-location_request_message', 'interactive-product', 'interactive-product_list',
        'location', 'reaction', 'sticker', 'template', 'text', 'video',
      ].sort(),
    );
  });

  it.each(FIXTURES)('accepts %s and turns it into the Meta message sent to WhatsApp', (name) => {
    // Prepare
    const body = fixture(name);

    // Act
    const req = valid(body);
    const meta = toMetaMessage(req, 'msg_0123456789abcdef0123456789abcdef');

    // Assess
    expect(meta.messaging_product).toBe('whatsapp');
    expect(meta).not.toHaveProperty('from');
    expect(meta.to).toBe('+16505551234');
    expect(meta.type).toBe(body.type);
    expect(meta[body.type]).toEqual(body[body.type]);
    expect(meta.context).toEqual(body.context);
    expect(meta.biz_opaque_callback_data).toBe('msg_0123456789abcdef0123456789abcdef');
  });
});

describe('limits: exactly at the limit passes, one over fails at the field', () => {
  // [fixture, dotted path of a string field, limit]
  const stringLimits: Array<[string, string, number]> = [
    ['text', 'text.body', 4096],
    ['image', 'image.caption', 1024],
    ['video', 'video.caption', 1024],
    ['document', 'document.caption', 1024],
    ['text', 'biz_opaque_callback_data', 475],
    ['interactive-button', 'interactive.body.text', 1024],
    ['interactive-button', 'interactive.footer.text', 60],
    ['interactive-button', 'interactive.action.buttons.1.reply.title', 20],
    ['interactive-button', 'interactive.action.buttons.1.reply.id', 256],
    ['interactive-list', 'interactive.header.text', 60],
    ['interactive-list', 'interactive.body.text', 4096],
    ['interactive-list', 'interactive.footer.text', 60],
    ['interactive-list', 'interactive.action.button', 20],
    ['interactive-list', 'interactive.action.sections.1.title', 24],
    ['interactive-list', 'interactive.action.sections.1.rows.0.title', 24],
    ['interactive-list', 'interactive.action.sections.1.rows.0.description', 72],
    ['interactive-list', 'interactive.action.sections.1.rows.0.id', 200],
    ['interactive-cta_url', 'interactive.header.text', 60],
    ['interactive-cta_url', 'interactive.body.text', 1024],
    ['interactive-cta_url', 'interactive.action.parameters.display_text', 20],
    ['interactive-location_request_message', 'interactive.body.text', 1024],
    ['interactive-flow', 'interactive.body.text', 1024],
    ['interactive-flow', 'interactive.action.parameters.flow_cta', 30],
    ['interactive-product_list', 'interactive.action.sections.0.title', 24],
    ['interactive-product_list', 'interactive.header.text', 60],
  ];

  it.each(stringLimits)('%s: %s accepts %i characters', (name, path, limit) => {
    const body = setAt(fixture(name), path, 'a'.repeat(limit));
    expect(parseSendMessageRequest(body).ok).toBe(true);
  });

  it.each(stringLimits)('%s: %s rejects %i + 1 characters with the path and the count', (name, path, limit) => {
    const body = setAt(fixture(name), path, 'a'.repeat(limit + 1));
    const err = invalid(body);
    expect(err.path).toBe(path);
    expect(err.message).toContain(`at most ${limit} characters (got ${limit + 1})`);
  });

  it('counts an emoji as one character', () => {
    const body = setAt(fixture('interactive-button'), 'interactive.action.buttons.0.reply.title', '👍'.repeat(20));
    expect(parseSendMessageRequest(body).ok).toBe(true);
  });

  it('words the reply-button title error as a sentence a person can act on', () => {
    const body = setAt(fixture('interactive-button'), 'interactive.action.buttons.1.reply.title', 'x'.repeat(23));
    expect(invalid(body)).toEqual({
      path: 'interactive.action.buttons.1.reply.title',
      message: 'reply button titles must be at most 20 characters (got 23)',
    });
  });

  it('accepts 3 reply buttons and rejects 4', () => {
    const three = setAt(fixture('interactive-button'), 'interactive.action.buttons', [button(1), button(2), button(3)]);
    const four = setAt(fixture('interactive-button'), 'interactive.action.buttons', [button(1), button(2), button(3), button(4)]);
    expect(parseSendMessageRequest(three).ok).toBe(true);
    expect(invalid(four)).toEqual({
      path: 'interactive.action.buttons',
      message: 'reply buttons can have at most 3 entries (got 4)',
    });
  });

  it('rejects a button message without buttons', () => {
    const body = setAt(fixture('interactive-button'), 'interactive.action.buttons', []);
    expect(invalid(body).path).toBe('interactive.action.buttons');
  });

  it('accepts 10 list sections and rejects 11', () => {
    const sections = (n: number) => Array.from({ length: n }, (_, i) => ({ title: `S${i}`, rows: [row(i)] }));
    expect(parseSendMessageRequest(setAt(fixture('interactive-list'), 'interactive.action.sections', sections(10))).ok).toBe(true);
    const err = invalid(setAt(fixture('interactive-list'), 'interactive.action.sections', sections(11)));
    expect(err.path).toBe('interactive.action.sections');
    expect(err.message).toContain('at most 10');
  });

  it('accepts 10 list rows over all sections and rejects the 11th, pointing at it', () => {
    const ten = [
      { title: 'A', rows: [0, 1, 2, 3, 4].map(row) },
      { title: 'B', rows: [5, 6, 7, 8, 9].map(row) },
    ];
    const eleven = [
      { title: 'A', rows: [0, 1, 2, 3, 4].map(row) },
      { title: 'B', rows: [5, 6, 7, 8, 9, 10].map(row) },
    ];
    expect(parseSendMessageRequest(setAt(fixture('interactive-list'), 'interactive.action.sections', ten)).ok).toBe(true);
    expect(invalid(setAt(fixture('interactive-list'), 'interactive.action.sections', eleven))).toEqual({
      path: 'interactive.action.sections.1.rows.5',
      message: 'a list message can have at most 10 rows in all sections together (got 11)',
    });
  });

  it('accepts 30 products over all sections and rejects the 31st, pointing at it', () => {
    const sections = (n: number) => [
      { title: 'A', product_items: Array.from({ length: 15 }, (_, i) => item(i)) },
      { title: 'B', product_items: Array.from({ length: n - 15 }, (_, i) => item(15 + i)) },
    ];
    expect(parseSendMessageRequest(setAt(fixture('interactive-product_list'), 'interactive.action.sections', sections(30))).ok).toBe(true);
    const err = invalid(setAt(fixture('interactive-product_list'), 'interactive.action.sections', sections(31)));
    expect(err.path).toBe('interactive.action.sections.1.product_items.15');
    expect(err.message).toContain('at most 30 products');
  });

  it('accepts 10 product sections and rejects 11', () => {
    const sections = (n: number) => Array.from({ length: n }, (_, i) => ({ title: `S${i}`, product_items: [item(i)] }));
    expect(parseSendMessageRequest(setAt(fixture('interactive-product_list'), 'interactive.action.sections', sections(10))).ok).toBe(true);
    expect(invalid(setAt(fixture('interactive-product_list'), 'interactive.action.sections', sections(11))).path).toBe(
      'interactive.action.sections',
    );
  });

  it.each([
    ['location.latitude', 90, 90.000001],
    ['location.latitude', -90, -90.5],
    ['location.longitude', 180, 180.1],
    ['location.longitude', -180, -181],
  ])('%s accepts %d and rejects %d', (path, ok, bad) => {
    expect(parseSendMessageRequest(setAt(fixture('location'), path, ok)).ok).toBe(true);
    expect(invalid(setAt(fixture('location'), path, bad)).path).toBe(path);
  });

  it('accepts a template name of 512 characters and rejects 513', () => {
    expect(parseSendMessageRequest(setAt(fixture('template'), 'template.name', 'a'.repeat(512))).ok).toBe(true);
    const err = invalid(setAt(fixture('template'), 'template.name', 'a'.repeat(513)));
    expect(err).toEqual({ path: 'template.name', message: 'template name must be at most 512 characters (got 513)' });
  });

  it('accepts a coupon code of 15 characters and rejects 16', () => {
    const coupon = (code: string) =>
      setAt(fixture('template'), 'template.components', [
        { type: 'button', sub_type: 'copy_code', index: 0, parameters: [{ type: 'coupon_code', coupon_code: code }] },
      ]);
    expect(parseSendMessageRequest(coupon('C'.repeat(15))).ok).toBe(true);
    expect(invalid(coupon('C'.repeat(16))).path).toBe('template.components.0.parameters.0.coupon_code');
  });
});

describe('media: id xor link', () => {
  it.each(['image', 'video', 'audio', 'document', 'sticker'])('%s with both id and link is rejected at link', (kind) => {
    const body = { ...fixture('text'), type: kind, text: undefined, [kind]: { id: '123', link: 'https://example.com/x' } };
    delete body.text;
    expect(invalid(body)).toEqual({ path: `${kind}.link`, message: `${kind} takes either an id or a link, not both` });
  });

  it.each(['image', 'video', 'audio', 'document', 'sticker'])('%s with neither id nor link is rejected', (kind) => {
    const body = { ...fixture('text'), type: kind, [kind]: {} };
    delete body.text;
    const err = invalid(body);
    expect(err.path).toBe(kind);
    expect(err.message).toContain('needs an id');
  });

  it('rejects a link that is not http or https', () => {
    const body = setAt(fixture('video'), 'video.link', 'ftp://example.com/a.mp4');
    expect(invalid(body)).toEqual({ path: 'video.link', message: 'video link must be an http or https URL' });
  });

  it('rejects a caption on audio and on a sticker as unknown fields', () => {
    expect(invalid(setAt(fixture('audio'), 'audio.caption', 'hi')).path).toBe('audio.caption');
    expect(invalid(setAt(fixture('sticker'), 'sticker.caption', 'hi')).path).toBe('sticker.caption');
  });

  it('rejects a media id with characters WhatsApp never issues', () => {
    expect(invalid(setAt(fixture('image'), 'image.id', '../etc/passwd')).path).toBe('image.id');
  });

  it('rejects a non-boolean voice flag', () => {
    expect(invalid(setAt(fixture('audio'), 'audio.voice', 'yes')).path).toBe('audio.voice');
  });
});

describe('reactions', () => {
  it('accepts an empty emoji (removes the reaction) and a missing emoji', () => {
    expect(parseSendMessageRequest(setAt(fixture('reaction'), 'reaction.emoji', '')).ok).toBe(true);
    expect(parseSendMessageRequest(setAt(fixture('reaction'), 'reaction.emoji', undefined)).ok).toBe(true);
  });

  it('accepts a flag and a family emoji as one emoji', () => {
    expect(parseSendMessageRequest(setAt(fixture('reaction'), 'reaction.emoji', '🇧🇷')).ok).toBe(true);
    expect(parseSendMessageRequest(setAt(fixture('reaction'), 'reaction.emoji', '👨‍👩‍👧')).ok).toBe(true);
  });

  it('rejects text or two emoji as the reaction', () => {
    expect(invalid(setAt(fixture('reaction'), 'reaction.emoji', 'ok')).path).toBe('reaction.emoji');
    expect(invalid(setAt(fixture('reaction'), 'reaction.emoji', '👍👍')).path).toBe('reaction.emoji');
  });

  it('rejects context on a reaction', () => {
    const body = setAt(fixture('reaction'), 'context', { message_id: 'wamid.X' });
    expect(invalid(body)).toEqual({ path: 'context', message: 'reactions cannot be replies: remove context' });
  });

  it('requires the message id reacted to', () => {
    expect(invalid(setAt(fixture('reaction'), 'reaction.message_id', undefined)).path).toBe('reaction.message_id');
  });
});

describe('contacts', () => {
  it('requires name.formatted_name', () => {
    expect(invalid(setAt(fixture('contacts'), 'contacts.0.name.formatted_name', undefined)).path).toBe(
      'contacts.0.name.formatted_name',
    );
    expect(invalid(setAt(fixture('contacts'), 'contacts.0.name', undefined)).path).toBe('contacts.0.name');
  });

  it('rejects an empty contacts array', () => {
    expect(invalid(setAt(fixture('contacts'), 'contacts', [])).path).toBe('contacts');
  });

  it.each(['1990-02-30', '1990-1-31', '31/01/1990'])('rejects the birthday %s', (birthday) => {
    expect(invalid(setAt(fixture('contacts'), 'contacts.0.birthday', birthday)).path).toBe('contacts.0.birthday');
  });

  it('accepts a leap-day birthday', () => {
    expect(parseSendMessageRequest(setAt(fixture('contacts'), 'contacts.0.birthday', '2000-02-29')).ok).toBe(true);
  });

  it('rejects an email type other than HOME or WORK', () => {
    expect(invalid(setAt(fixture('contacts'), 'contacts.0.emails.0.type', 'OTHER')).path).toBe('contacts.0.emails.0.type');
  });
});

describe('interactive rules', () => {
  it('rejects duplicate reply button titles at the second one', () => {
    const body = setAt(fixture('interactive-button'), 'interactive.action.buttons.1.reply.title', 'Change');
    expect(invalid(body)).toEqual({
      path: 'interactive.action.buttons.1.reply.title',
      message: 'reply button titles must be unique ("Change" is used more than once)',
    });
  });

  it('rejects duplicate reply button ids', () => {
    const body = setAt(fixture('interactive-button'), 'interactive.action.buttons.1.reply.id', 'change-button');
    expect(invalid(body).path).toBe('interactive.action.buttons.1.reply.id');
  });

  it('rejects a reply button id with leading or trailing spaces', () => {
    expect(invalid(setAt(fixture('interactive-button'), 'interactive.action.buttons.0.reply.id', ' a')).path).toBe(
      'interactive.action.buttons.0.reply.id',
    );
  });

  it.each(['text', 'video', 'document'])('accepts a %s header on a button message', (type) => {
    const header = type === 'text' ? { type, text: 'Hello' } : { type, [type]: { link: 'https://example.com/f' } };
    expect(parseSendMessageRequest(setAt(fixture('interactive-button'), 'interactive.header', header)).ok).toBe(true);
  });

  it('rejects an unknown header type', () => {
    const err = invalid(setAt(fixture('interactive-button'), 'interactive.header', { type: 'audio', audio: { id: '1' } }));
    expect(err.path).toBe('interactive.header.type');
  });

  it('requires a title on every list section when there is more than one', () => {
    const body = setAt(fixture('interactive-list'), 'interactive.action.sections.1.title', undefined);
    expect(invalid(body)).toEqual({
      path: 'interactive.action.sections.1.title',
      message: 'every list section needs a title when there is more than one section',
    });
  });

  it('allows a single untitled list section', () => {
    const body = setAt(fixture('interactive-list'), 'interactive.action.sections', [{ rows: [row(1)] }]);
    expect(parseSendMessageRequest(body).ok).toBe(true);
  });

  it('rejects duplicate row ids across list sections', () => {
    const body = setAt(fixture('interactive-list'), 'interactive.action.sections.1.rows.0.id', 'priority_express');
    expect(invalid(body).path).toBe('interactive.action.sections.1.rows.0.id');
  });

  it('rejects a media header on a list message', () => {
    const body = setAt(fixture('interactive-list'), 'interactive.header', { type: 'image', image: { id: '1' } });
    expect(invalid(body)).toEqual({ path: 'interactive.header.type', message: 'list messages only take a header of type "text"' });
  });

  it('rejects a header on a single-product message', () => {
    const body = setAt(fixture('interactive-product'), 'interactive.header', { type: 'text', text: 'x' });
    expect(invalid(body).path).toBe('interactive.header');
  });

  it('requires a header on a product list message', () => {
    const body = setAt(fixture('interactive-product_list'), 'interactive.header', undefined);
    expect(invalid(body)).toEqual({ path: 'interactive.header', message: 'product list messages need a text header' });
  });

  it('accepts a single-product message without a body', () => {
    expect(parseSendMessageRequest(setAt(fixture('interactive-product'), 'interactive.body', undefined)).ok).toBe(true);
  });

  it('rejects a cta_url that is not a URL', () => {
    const body = setAt(fixture('interactive-cta_url'), 'interactive.action.parameters.url', 'www.example.com');
    expect(invalid(body).path).toBe('interactive.action.parameters.url');
  });

  it('rejects a location request with another action name', () => {
    const body = setAt(fixture('interactive-location_request_message'), 'interactive.action.name', 'location');
    expect(invalid(body).path).toBe('interactive.action.name');
  });

  it('rejects a flow with both flow_id and flow_name, and with neither', () => {
    const both = setAt(fixture('interactive-flow'), 'interactive.action.parameters.flow_name', 'booking');
    const neither = setAt(fixture('interactive-flow'), 'interactive.action.parameters.flow_id', undefined);
    expect(invalid(both).message).toBe('give exactly one of flow_id and flow_name');
    expect(invalid(neither).path).toBe('interactive.action.parameters.flow_id');
  });

  it('accepts a flow by name in draft mode', () => {
    const body = fixture('interactive-flow');
    delete body.interactive.action.parameters.flow_id;
    body.interactive.action.parameters.flow_name = 'appointment_booking';
    body.interactive.action.parameters.mode = 'draft';
    expect(parseSendMessageRequest(body).ok).toBe(true);
  });

  it('rejects a flow message version other than "3"', () => {
    const body = setAt(fixture('interactive-flow'), 'interactive.action.parameters.flow_message_version', 3);
    expect(invalid(body)).toEqual({
      path: 'interactive.action.parameters.flow_message_version',
      message: 'flow_message_version must be "3"',
    });
  });

  it('keeps unknown keys inside a flow payload (the Flow owns them)', () => {
    const body = setAt(fixture('interactive-flow'), 'interactive.action.parameters.flow_action_payload.extra', { a: 1 });
    const req = valid(body);
    expect(toMetaMessage(req, 'cb').interactive).toEqual(body.interactive);
  });

  it('rejects an unknown interactive type and names the known ones', () => {
    const err = invalid(setAt(fixture('interactive-button'), 'interactive.type', 'carousel'));
    expect(err.path).toBe('interactive.type');
    expect(err.message).toContain('button, list, cta_url, location_request_message, flow, product, product_list');
  });
});

describe('templates', () => {
  it('accepts the minimal template without components', () => {
    const body = setAt(fixture('template'), 'template.components', undefined);
    expect(parseSendMessageRequest(body).ok).toBe(true);
  });

  it.each(['Order_Update', 'order-update', 'order update'])('rejects the template name %s', (name) => {
    expect(invalid(setAt(fixture('template'), 'template.name', name)).path).toBe('template.name');
  });

  it.each(['en', 'en_US', 'pt_BR', 'fil'])('accepts the language code %s', (code) => {
    expect(parseSendMessageRequest(setAt(fixture('template'), 'template.language.code', code)).ok).toBe(true);
  });

  it.each(['english', 'EN', 'en_USAX', ''])('rejects the language code %j', (code) => {
    expect(invalid(setAt(fixture('template'), 'template.language.code', code)).path).toBe('template.language.code');
  });

  it('keeps unknown keys inside components (Meta extends them)', () => {
    const body = setAt(fixture('template'), 'template.components.1.future_field', true);
    expect(toMetaMessage(valid(body), 'cb').template).toEqual(body.template);
  });

  it('rejects an unknown parameter type, pointing at it', () => {
    const body = setAt(fixture('template'), 'template.components.1.parameters.0.type', 'txt');
    expect(invalid(body).path).toBe('template.components.1.parameters.0.type');
  });

  it('rejects a currency parameter without an integer amount_1000', () => {
    const body = setAt(fixture('template'), 'template.components.1.parameters.1.currency.amount_1000', 100.99);
    expect(invalid(body).path).toBe('template.components.1.parameters.1.currency.amount_1000');
  });

  it('rejects a button component without index or sub_type', () => {
    expect(invalid(setAt(fixture('template'), 'template.components.2.index', undefined)).path).toBe('template.components.2.index');
    expect(invalid(setAt(fixture('template'), 'template.components.2.sub_type', undefined)).path).toBe(
      'template.components.2.sub_type',
    );
  });

  it('rejects a header component with two parameters', () => {
    const body = setAt(fixture('template'), 'template.components.0.parameters', [
      { type: 'text', text: 'a' },
      { type: 'text', text: 'b' },
    ]);
    expect(invalid(body).path).toBe('template.components.0.parameters.1');
  });

  it('accepts location and document header parameters and named text parameters', () => {
    const body = setAt(fixture('template'), 'template.components', [
      { type: 'header', parameters: [{ type: 'location', location: { latitude: '37.48', longitude: '-122.14', name: 'HQ', address: '1 Hacker Way' } }] },
      { type: 'body', parameters: [{ type: 'text', parameter_name: 'first_name', text: 'Ana' }] },
    ]);
    expect(parseSendMessageRequest(body).ok).toBe(true);
  });

  it('rejects a template header image with both id and link', () => {
    const body = setAt(fixture('template'), 'template.components.0.parameters.0.image.link', 'https://example.com/a.png');
    expect(invalid(body).path).toBe('template.components.0.parameters.0.image.link');
  });
});

describe('the envelope', () => {
  it('rejects a body that is not an object', () => {
    for (const body of ['hi', null, 42, [], undefined]) {
      expect(invalid(body)).toEqual({ path: '', message: 'the request body must be a JSON object' });
    }
  });

  it('requires the type and names the known ones', () => {
    const err = invalid(setAt(fixture('text'), 'type', undefined));
    expect(err.path).toBe('type');
    expect(err.message).toMatch(/^type is required: one of text, image/);
  });

  it('rejects an unknown type', () => {
    expect(invalid(setAt(fixture('text'), 'type', 'order')).path).toBe('type');
  });

  it("requires the type's object", () => {
    expect(invalid(setAt(fixture('text'), 'text', undefined))).toEqual({ path: 'text', message: 'text is required' });
  });

  it("rejects another type's object next to the message's own", () => {
    const body = setAt(fixture('text'), 'image', { id: '1' });
    expect(invalid(body)).toEqual({
      path: 'image',
      message: 'image is not allowed when type is "text": send one message type per request',
    });
  });

  it('rejects an unknown key and names it so a typo surfaces', () => {
    const err = invalid(setAt(fixture('text'), 'text.previewUrl', true));
    expect(err.path).toBe('text.previewUrl');
    expect(err.message).toContain('unknown field text.previewUrl');
    expect(invalid(setAt(fixture('text'), 'biz_opaque_callbackdata', 'x')).path).toBe('biz_opaque_callbackdata');
  });

  it('requires to or recipient', () => {
    const err = invalid(setAt(fixture('text'), 'to', undefined));
    expect(err.path).toBe('to');
    expect(err.message).toContain('recipient');
  });

  it.each(['16505551234', '+1 (650) 555-1234', '+44 20 7946 0958'])('accepts the phone number %s and sends it in E.164', (to) => {
    const req = valid(setAt(fixture('text'), 'to', to));
    expect(toMetaMessage(req, 'cb').to).toBe(`+${to.replace(/\D/g, '')}`);
    expect(recipientContactId(req)).toBe(to.replace(/\D/g, ''));
  });

  it.each(['hello', '+123', '1234567890123456', 'US.13491208655302741918'])('rejects %s as a phone number', (to) => {
    expect(invalid(setAt(fixture('text'), 'to', to)).path).toBe('to');
  });

  it('accepts a business-scoped user id in recipient without to, and keys the contact on it', () => {
    const body = setAt(setAt(fixture('text'), 'to', undefined), 'recipient', 'US.13491208655302741918');
    const req = valid(body);
    const meta = toMetaMessage(req, 'cb');
    expect(meta.recipient).toBe('US.13491208655302741918');
    expect(meta).not.toHaveProperty('to');
    expect(recipientContactId(req)).toBe('US.13491208655302741918');
  });

  it('keys the contact on to when both to and recipient are given (to wins at Meta)', () => {
    const req = valid(setAt(fixture('text'), 'recipient', 'US.13491208655302741918'));
    expect(recipientContactId(req)).toBe('16505551234');
  });

  it('rejects a recipient that is not a business-scoped user id', () => {
    expect(invalid(setAt(fixture('text'), 'recipient', '16505551234')).path).toBe('recipient');
  });

  it('sends to a group id unchanged', () => {
    const body = setAt(setAt(fixture('text'), 'recipient_type', 'group'), 'to', 'Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD');
    const req = valid(body);
    expect(toMetaMessage(req, 'cb')).toMatchObject({ recipient_type: 'group', to: body.to });
    expect(recipientContactId(req)).toBe(body.to);
  });

  it('rejects an unknown recipient_type', () => {
    expect(invalid(setAt(fixture('text'), 'recipient_type', 'broadcast')).path).toBe('recipient_type');
  });

  it.each([
    'phone-number-id-0123456789abcdef0123456789abcdef',
    'arn:aws:social-messaging:us-east-1:111122223333:phone-number-id/0123456789abcdef0123456789abcdef',
    '15550783881',
    '+15550783881',
  ])('accepts from = %s', (from) => {
    expect(parseSendMessageRequest(setAt(fixture('text'), 'from', from)).ok).toBe(true);
  });

  it.each(['', 'waba-0123', 'arn:aws:social-messaging:us-east-1:111122223333:waba/0123'])('rejects from = %j', (from) => {
    expect(invalid(setAt(fixture('text'), 'from', from)).path).toBe('from');
  });

  it('requires from', () => {
    expect(invalid(setAt(fixture('text'), 'from', undefined)).path).toBe('from');
  });

  it('accepts messaging_product "whatsapp" and rejects anything else', () => {
    expect(parseSendMessageRequest(setAt(fixture('text'), 'messaging_product', 'whatsapp')).ok).toBe(true);
    expect(invalid(setAt(fixture('text'), 'messaging_product', 'sms'))).toEqual({
      path: 'messaging_product',
      message: 'messaging_product must be "whatsapp" (or left out)',
    });
  });

  it('rejects context without message_id', () => {
    expect(invalid(setAt(fixture('text'), 'context', {})).path).toBe('context.message_id');
  });

  it('rejects a body whose Meta JSON would exceed what AWS accepts', () => {
    const cards = Array.from({ length: 2100 }, (_, i) => ({ name: { formatted_name: `${'n'.repeat(1000)}${i}` } }));
    const err = invalid(setAt(fixture('contacts'), 'contacts', cards));
    expect(err.path).toBe('');
    expect(err.message).toContain('too large');
  });
});

describe('toMetaMessage', () => {
  it('puts the given callback data in place of the caller value and drops from', () => {
    const req = valid(fixture('template'));
    const meta = toMetaMessage(req, 'msg_0123456789abcdef0123456789abcdef|order-98765');
    expect(meta.biz_opaque_callback_data).toBe('msg_0123456789abcdef0123456789abcdef|order-98765');
    expect(Object.keys(meta)).toEqual(['messaging_product', 'to', 'type', 'template', 'biz_opaque_callback_data']);
  });

  it('returns a copy: changing it leaves the request alone', () => {
    const req = valid(fixture('text'));
    const meta = toMetaMessage(req, 'cb') as { text: { body: string } };
    meta.text.body = 'changed';
    expect(req.type === 'text' && req.text.body).not.toBe('changed');
  });

  it('refuses callback data longer than Meta accepts', () => {
    const req = valid(fixture('text'));
    expect(() => toMetaMessage(req, 'x'.repeat(513))).toThrow(RangeError);
    expect(toMetaMessage(req, 'x'.repeat(512)).biz_opaque_callback_data).toHaveLength(512);
  });
});

describe('helpers', () => {
  it('tells templates from other messages', () => {
    expect(isTemplate(valid(fixture('template')))).toBe(true);
    expect(isTemplate(valid(fixture('text')))).toBe(false);
  });

  it.each([
    ['image', ['1003383421387256']],
    ['audio', ['1908647269898587']],
    ['sticker', ['798882015472548']],
    ['video', []],
    ['document', []],
    ['text', []],
    ['interactive-button', ['2762702990552401']],
    ['interactive-list', []],
    ['template', ['2762702990552401']],
  ])('lists the media ids referenced by %s', (name, ids) => {
    expect(mediaIdsOf(valid(fixture(name)))).toEqual(ids);
  });

  it('finds media ids in template carousel cards', () => {
    const body = setAt(fixture('template'), 'template.components', [
      {
        type: 'carousel',
        cards: [
          { card_index: 0, components: [{ type: 'header', parameters: [{ type: 'image', image: { id: '111' } }] }] },
          { card_index: 1, components: [{ type: 'header', parameters: [{ type: 'video', video: { id: '222' } }] }] },
        ],
      },
    ]);
    expect(mediaIdsOf(valid(body))).toEqual(['111', '222']);
  });

  it('builds the mark-as-read body, with the typing indicator on request', () => {
    expect(markReadMessage('wamid.ABC')).toEqual({ messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.ABC' });
    expect(markReadMessage('wamid.ABC', true)).toEqual({
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: 'wamid.ABC',
      typing_indicator: { type: 'text' },
    });
    expect(markReadMessage('wamid.ABC', false)).not.toHaveProperty('typing_indicator');
  });
});
