import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toMessage as messageView, type StoredMessage } from '../../shared/domain/message-view.ts';
import { DomainEventSchema } from '../../shared/domain/event-schemas.ts';
import { eventId, intentsOfChange, messageEvents, type ItemImage, type MessageEventIntent } from '../../shared/domain/events.ts';
import { publishChanges, type ItemChange } from '../../shared/domain/publish-events.ts';
import type { DomainEvent } from '../../shared/domain/events.ts';

/** The read side's merge over raw item images (the store's items as the adapter reads them). */
const toMessage = (item: ItemImage, others: readonly ItemImage[] = []) => messageView(item as unknown as StoredMessage, others as unknown as readonly StoredMessage[]);

const ID = 'msg_0123456789abcdef0123456789abcdef';
const STATUSES = ['accepted', 'sent', 'delivered', 'read', 'failed'] as const;

const sendRecord = (extra: ItemImage = {}): ItemImage => ({
  PK: `MSG#${ID}`,
  SK: 'MSG',
  entity: 'message',
  id: ID,
  direction: 'outbound',
  phoneNumberId: 'phone-number-id-1',
  type: 'text',
  contentJson: '{"body":"hi"}',
  sendState: 'sent',
  awsMessageId: 'aws-1',
  wamid: 'wamid.1',
  ...extra,
});

/** What DynamoDbStore.recordStatus does to an item: each status kept once (if_not_exists). */
function applyStatus(item: ItemImage, status: string, second: number): ItemImage {
  const key = `st:${status}`;
  if (item[key]) return item;
  return { ...item, [key]: { status, timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString() } };
}

/** A fake read side answering the merged Message of the given item, through the real merge. */
const readerOf = (item: () => ItemImage) => ({ getMessage: async () => toMessage(item()) });

const collecting = () => {
  const seen: DomainEvent[] = [];
  return {
    seen,
    publisher: { publish: async (events: readonly DomainEvent[]) => (seen.push(...events), { failed: [] }) },
    unpublished: { park: async () => {}, list: async () => [], remove: async () => {} },
  };
};

describe('events of item changes', () => {
  it('maps an inbound message to message.received whose data is the Message, valid as a CloudEvent', async () => {
    const item: ItemImage = { PK: `MSG#${ID}`, SK: 'MSG', entity: 'message', id: ID, wamid: 'wamid.in', direction: 'inbound', phoneNumberId: 'phone-number-id-1', type: 'text', content: { body: 'hi' }, timestamp: '2026-01-01T00:00:00.000Z', contact: { waId: '1' } };
    const c = collecting();
    await publishChanges([{ id: '1', newImage: item }], { messages: readerOf(() => item), ...c });
    expect(c.seen).toHaveLength(1);
    const e = DomainEventSchema.parse(c.seen[0]);
    expect(e).toMatchObject({ specversion: '1.0', type: 'message.received', subject: ID, time: '2026-01-01T00:00:00.000Z', sequence: '0000', datacontenttype: 'application/json' });
    expect(e.data).toEqual(toMessage(item));
  });

  it('tells a send once it is accepted (message.created), not while it is being sent', () => {
    const sending = sendRecord({ sendState: 'sending', awsMessageId: undefined, wamid: undefined });
    expect(intentsOfChange(undefined, sending)).toEqual([]);
    // Getting AWS's send id links the record to the item of AWS's own statuses: any that came first are told under the record's id.
    expect(intentsOfChange(sending, sendRecord())).toEqual([
      { kind: 'message', type: 'message.created', lookup: ID },
      { kind: 'message', type: 'message.status', lookup: ID, statuses: ['accepted', 'failed'] },
    ]);
    expect(intentsOfChange(sendRecord(), sendRecord({ note: 'x' }))).toEqual([]);
  });

  it('a duplicate status is no event; a late one that fills a step of the progress is', () => {
    const read = applyStatus(applyStatus(sendRecord(), 'delivered', 1), 'read', 2);
    expect(intentsOfChange(read, read)).toEqual([]);
    const late = applyStatus(applyStatus(sendRecord(), 'read', 2), 'delivered', 1);
    const [intent] = intentsOfChange(applyStatus(sendRecord(), 'read', 2), late);
    expect(intent).toEqual({ kind: 'message', type: 'message.status', lookup: ID, statuses: ['delivered'] });
    const [e] = messageEvents(intent as never, toMessage(late));
    expect(e).toMatchObject({ id: eventId(ID, 'message.status', 'delivered'), time: '2026-01-01T00:00:01.000Z', data: { status: 'delivered', statuses: [{ status: 'delivered' }] } });
  });

  it('a status on an item of statuses only is looked up by wamid and told as the step it is in the merged view', () => {
    const statusOnly: ItemImage = { PK: 'MSG#msg_aws', SK: 'MSG', entity: 'message', id: 'msg_aws', wamid: 'wamid.1', direction: 'outbound' };
    const after = applyStatus(statusOnly, 'accepted', 0);
    const [intent] = intentsOfChange(statusOnly, after);
    expect(intent).toEqual({ kind: 'message', type: 'message.status', lookup: 'wamid.1', statuses: ['accepted'] });
    const merged = toMessage(applyStatus(sendRecord(), 'delivered', 1), [after]);
    expect(merged.status).toBe('delivered');
    const [e] = messageEvents(intent as never, merged);
    expect(e).toMatchObject({ subject: ID, sequence: '0001', data: { id: ID, status: 'accepted', statuses: [{ status: 'accepted' }], errors: [] } });
  });

  it('a status on the item beside a send record is looked up by the record\'s id; its first AWS id tells AWS\'s own statuses under the record', () => {
    const beside: ItemImage = { PK: 'MSG#msg_beside', SK: 'MSG', entity: 'message', id: 'msg_beside', recordId: ID, wamid: 'wamid.1', direction: 'outbound' };
    const sent = applyStatus(beside, 'sent', 1);
    expect(intentsOfChange(undefined, sent)).toEqual([{ kind: 'message', type: 'message.status', lookup: ID, statuses: ['sent'] }]);
    // A send in doubt: its record has no AWS id, the item beside it gets the envelope's.
    const withAws = { ...applyStatus(sent, 'delivered', 2), awsMessageId: 'aws-1' };
    const [, awsOwn] = intentsOfChange(sent, withAws) as MessageEventIntent[];
    expect(intentsOfChange(sent, withAws)).toEqual([
      { kind: 'message', type: 'message.status', lookup: ID, statuses: ['delivered'] },
      { kind: 'message', type: 'message.status', lookup: ID, statuses: ['accepted', 'failed'], onlyInDoubt: true },
    ]);
    // AWS's `accepted` is told then for a send in doubt only: any other send's record got AWS's id, and told it, when it was sent.
    const withAccepted = (sendState: string) => toMessage(sendRecord({ sendState }), [applyStatus(withAws, 'accepted', 0)]);
    expect(messageEvents(awsOwn!, withAccepted('in_doubt')).map((e) => (e.data as { status: string }).status)).toEqual(['accepted']);
    expect(messageEvents(awsOwn!, withAccepted('sent'))).toEqual([]);
    // Once it has the id, a later status tells only itself.
    expect(intentsOfChange(withAws, applyStatus(withAws, 'read', 3))).toEqual([{ kind: 'message', type: 'message.status', lookup: ID, statuses: ['read'] }]);
  });

  it("an item of AWS's own statuses is told only under a send record's id: not under its own while no record is linked", () => {
    const awsItem: ItemImage = { PK: 'MSG#msg_aws', SK: 'MSG', entity: 'message', id: 'msg_aws', wamid: 'wamid.9', awsMessageId: 'aws-9', direction: 'outbound' };
    const [intent] = intentsOfChange(awsItem, applyStatus(awsItem, 'accepted', 0)) as MessageEventIntent[];
    expect(intent).toMatchObject({ type: 'message.status', lookup: 'wamid.9', statuses: ['accepted'], unlessUnder: 'msg_aws' });
    const view = (id: string) => toMessage({ ...applyStatus(awsItem, 'accepted', 0), id });
    expect(messageEvents(intent!, view('msg_aws'))).toEqual([]);
    expect(messageEvents(intent!, view(ID)).map((e) => e.subject)).toEqual([ID]);
  });

  it('a group member\'s failure is that member\'s: no message.status failed', () => {
    const member = { ...sendRecord(), 'st:failed:m1': { status: 'failed', participantId: 'm1', timestamp: '2026-01-01T00:00:01.000Z' } };
    expect(intentsOfChange(sendRecord(), member)).toEqual([]);
  });

  it('a status the record advanced to is told with the Message as it stood then, even when later statuses are in', async () => {
    const sent = applyStatus(sendRecord(), 'sent', 1);
    const final = applyStatus(applyStatus(sent, 'delivered', 2), 'read', 3);
    const [intent] = intentsOfChange(sendRecord(), sent);
    const [e] = messageEvents(intent as never, toMessage(final));
    expect(e!.data).toMatchObject({ status: 'sent', statuses: [{ status: 'sent' }] });
    expect(e!.time).toBe('2026-01-01T00:00:01.000Z');
    expect(e!.sequence < messageEvents({ ...(intent as object), statuses: ['read'] } as never, toMessage(final))[0]!.sequence).toBe(true);
  });

  it('media, account events and quarantine map to their own events', () => {
    const pending = { ...sendRecord(), direction: 'inbound', media: { id: 'm1', state: 'copying' } };
    const stored = { ...pending, media: { id: 'm1', state: 'stored', s3Key: 'inbound/x', size: 3, storedAt: '2026-01-01T00:00:05.000Z' } };
    const [media] = intentsOfChange(pending, stored);
    expect(media).toMatchObject({ kind: 'ready', event: { type: 'media.stored', subject: ID, data: { messageId: ID, media: { state: 'stored', size: 3 } } } });
    const acct = { PK: 'ACCT#1', SK: 'f#t#h', entity: 'accountEvent', wabaId: '1', field: 'message_template_status_update', value: { event: 'APPROVED' }, receivedAt: '2026-01-01T00:00:00.000Z' };
    expect(intentsOfChange(undefined, acct)).toMatchObject([{ event: { type: 'account.event', data: { kind: 'template', value: { event: 'APPROVED' } } } }]);
    expect(intentsOfChange(acct, acct)).toEqual([]);
    const quar = { PK: 'QUAR#h', SK: 'QUAR', entity: 'quarantine', id: 'h', reason: 'bad', receivedAt: '2026-01-01T00:00:00.000Z', raw: '{}', rawLength: 2 };
    const [q] = intentsOfChange(undefined, quar);
    expect(DomainEventSchema.parse((q as { event: unknown }).event)).toMatchObject({ type: 'event.quarantined', data: { id: 'h', reason: 'bad', rawLength: 2 } });
    for (const entity of ['conversation', 'alias', 'unpublishedEvent', 'webhook', undefined]) {
      expect(intentsOfChange(undefined, { PK: 'X', SK: 'Y', entity })).toEqual([]);
    }
  });

  it('any order and duplication of the same item changes, on the record or on its status-only item, gives one event per status of the merged view', async () => {
    const AWS_ITEM: ItemImage = { PK: 'MSG#msg_aws', SK: 'MSG', entity: 'message', id: 'msg_aws', wamid: 'wamid.1', direction: 'outbound' };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ status: fc.constantFrom(...STATUSES), second: fc.nat(59), onRecord: fc.boolean() }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 0, max: 1000 }),
        async (updates, dupPicks, seed) => {
          // One history of the two items: each update applied in turn, every write a stream record.
          const history: ItemChange[] = [];
          const items = { record: sendRecord(), aws: AWS_ITEM };
          updates.forEach(({ status, second, onRecord }, n) => {
            const which = onRecord ? 'record' : 'aws';
            const next = applyStatus(items[which], status, second);
            if (next !== items[which]) history.push({ id: String(n), oldImage: items[which], newImage: next });
            else expect(intentsOfChange(items[which], next)).toEqual([]);
            items[which] = next;
          });
          const final = toMessage(items.record, [items.aws]);
          const run = async (changes: ItemChange[]) => {
            const c = collecting();
            await publishChanges(changes, { messages: { getMessage: async () => final }, ...c });
            return c.seen;
          };
          const inOrder = await run(history);
          // The same records again, shuffled and with duplicates (retries, bisection, replays).
          const redelivered = [...history, ...dupPicks.filter(() => history.length).map((p) => history[p % history.length]!)];
          const shuffled = fc.sample(fc.shuffledSubarray(redelivered, { minLength: redelivered.length, maxLength: redelivered.length }), { seed, numRuns: 1 })[0]!;
          const again = await run(shuffled);
          const ids = (events: DomainEvent[]) => new Set(events.map((e) => e.id));
          expect(ids(again)).toEqual(ids(inOrder));
          // Exactly one event per status the merged view lists, the merged status's among them.
          const listed = new Set(final.statuses.map((s) => (s.status === 'failed' ? 'failed' : s.status)));
          expect(ids(inOrder)).toEqual(new Set([...listed].map((s) => eventId(ID, 'message.status', s))));
          expect(ids(inOrder).has(eventId(ID, 'message.status', final.status))).toBe(true);
          // Each event's data is the Message at its step: its own status last in rank.
          for (const e of inOrder) expect((e.data as { statuses: Array<{ status: string }> }).statuses.map((s) => s.status)).toContain((e.data as { status: string }).status);
        },
      ),
      { numRuns: 200 },
    );
  });
});
