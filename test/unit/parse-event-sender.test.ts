import { describe, expect, it } from 'vitest';
import { parseEventBody } from '../../shared/domain/parse-event.ts';
import { entryOf, eumFixture, snsNotification, withEntry } from '../support/events.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');

/** Meta's documented username example (business-scoped user ids page), with `edit` applied to its value. */
function username(edit: (value: any) => void = () => {}) {
  const envelope = eumFixture('inbound-username');
  const entry = entryOf(envelope);
  edit(entry.changes[0].value);
  const r = parseEventBody(snsNotification(withEntry(envelope, entry)), NOW);
  if (r.kind !== 'ok') throw new Error(r.reason);
  expect(r.problems).toEqual([]);
  expect(r.parsed.messages).toHaveLength(1);
  return r.parsed.messages[0]!;
}

describe('the sender of a message', () => {
  it("files Meta's username example under its BSUID, named from the matching contact", () => {
    const m = username();
    expect(m.contactId).toBe('US.13491208655302741918');
    expect(m.contact).toEqual({ userId: 'US.13491208655302741918', name: 'Sheena Nelson' });
    expect(m.contactMismatch).toBeUndefined();
  });

  it('keeps from_user_id when contacts[].user_id disagrees, and keeps the disagreeing entry apart', () => {
    const m = username((v) => (v.contacts[0].user_id = 'US.99999999999999999999'));
    expect(m.contactId).toBe('US.13491208655302741918');
    // The contact's name belongs to another id: not trusted.
    expect(m.contact).toEqual({ userId: 'US.13491208655302741918' });
    expect(m.contactMismatch).toEqual([{ userId: 'US.99999999999999999999' }]);
  });

  it('does not take a single contacts[] entry that matches neither id', () => {
    const m = username((v) => {
      v.messages[0].from = '16505551234';
      v.contacts[0] = { profile: { name: 'Someone Else' }, wa_id: '14155550100', user_id: 'US.99999999999999999999' };
    });
    expect(m.contactId).toBe('16505551234');
    expect(m.contact).toEqual({ waId: '16505551234', userId: 'US.13491208655302741918' });
    expect(m.contactMismatch).toEqual([{ waId: '14155550100', userId: 'US.99999999999999999999' }]);
  });

  it('does not trust an entry matching the phone whose BSUID disagrees with from_user_id', () => {
    const m = username((v) => {
      v.messages[0].from = '16505551234';
      v.contacts[0] = { profile: { name: 'Sheena' }, wa_id: '16505551234', user_id: 'US.99999999999999999999' };
    });
    expect(m.contact).toEqual({ waId: '16505551234', userId: 'US.13491208655302741918' });
    expect(m.contactMismatch).toEqual([{ waId: '16505551234', userId: 'US.99999999999999999999' }]);
  });

  it('takes the phone from the contact that matches by BSUID when the message has none', () => {
    const m = username((v) => (v.contacts[0].wa_id = '16505551234'));
    expect(m.contactId).toBe('16505551234');
    expect(m.contact).toEqual({ waId: '16505551234', userId: 'US.13491208655302741918', name: 'Sheena Nelson' });
  });

  it('picks the matching entry out of several', () => {
    const m = username((v) => v.contacts.unshift({ profile: { name: 'Other' }, user_id: 'US.1' }));
    expect(m.contact).toEqual({ userId: 'US.13491208655302741918', name: 'Sheena Nelson' });
    expect(m.contactMismatch).toBeUndefined();
  });
});
