/**
 * The request hash is stored with every keyed send: a retry with the same Idempotency-Key is told
 * from a different request by it. It must not move between versions, or a client retrying across
 * an upgrade would be refused with 422. These values were computed before the send path was
 * restructured; any change to them is a breaking change.
 */
import { describe, expect, it } from 'vitest';
import { prepareSend, requestHash } from '../../shared/domain/send-message.ts';
import { parseSendMessageRequest } from '../../shared/whatsapp/outbound.ts';

const PN = 'phone-number-id-0123456789abcdef0123456789abcdef';

const pinned: Array<[string, Record<string, unknown>, string]> = [
  ['text to a phone in any spelling', { from: PN, to: '+1 415-555-0100', type: 'text', text: { body: 'Thanks, on its way' } }, 'e0bccdea20de3f0e1b838ac31c95d96a549b4931b7c1f0e2a09aa227036ba5c8'],
  [
    'text with callback data and a reply context',
    { from: '15550100001', to: '14155550100', type: 'text', text: { body: 'hi', preview_url: true }, biz_opaque_callback_data: 'order-9', context: { message_id: 'wamid.HBgLMTQxNTU1NTAxMDAVAgASGBQzQTk' } },
    'c03995383c557fd8a56470a06352a27c76512810cb23948fde2698412a28b102',
  ],
  [
    'template to a BSUID',
    { from: '15550100001', recipient: 'US.13491208655302741918', type: 'template', template: { name: 'order_update', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'A-1' }] }] } },
    '0f337c4d9369ce1570d5d9523c9fbad6783209774c9b0e83dc9b62912b11282d',
  ],
  ['image by link', { from: '15550100001', to: '14155550100', type: 'image', image: { link: 'https://example.com/a.jpg', caption: 'Your receipt' } }, '959600eec8eae9b13d8535c3ce130c7baddbea6b15fe155569aaf4e3d6fed92c'],
  [
    'interactive buttons',
    { from: '15550100001', to: '14155550100', type: 'interactive', interactive: { type: 'button', body: { text: 'Pick one' }, action: { buttons: [{ type: 'reply', reply: { id: 'y', title: 'Yes' } }, { type: 'reply', reply: { id: 'n', title: 'No' } }] } } },
    '1b6a6f698607f69b36d2a270ab3131c43cb61eed1edd7cdaaf956565fc33add7',
  ],
];

describe('request hash', () => {
  it.each(pinned)('is the same as before for %s', (_name, body, hash) => {
    const parsed = parseSendMessageRequest(body);
    if (!parsed.ok) throw new Error(parsed.error.message);
    expect(requestHash(PN, parsed.value)).toBe(hash);
    // What the send path stores: the hash prepareSend makes beside the message it sends.
    const prepared = prepareSend(PN, 'msg_0123456789abcdef0123456789abcdef', parsed.value);
    expect(prepared.hash).toBe(hash);
    expect(prepared.message.biz_opaque_callback_data).toMatch(/^msg_0123456789abcdef0123456789abcdef/);
  });

  it('tells a different body apart', () => {
    const parsed = parseSendMessageRequest({ ...pinned[0]![1], text: { body: 'Thanks, on its way!' } });
    if (!parsed.ok) throw new Error(parsed.error.message);
    expect(requestHash(PN, parsed.value)).not.toBe(pinned[0]![2]);
  });
});
