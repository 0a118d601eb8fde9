/** The read model alone: stored records in, the API's resources out, with no store behind it. */
import { describe, expect, it } from 'vitest';
import { messageIdFromAwsMessageId, messageIdFromWamid, messageIdOfSendStatuses } from '../../shared/domain/ids.ts';
import { contactIdOf, mergeSiblings, messageOfWamid, siblingIds, toMessage, type StoredMessage } from '../../shared/domain/message-view.ts';

const send: StoredMessage = {
  id: 'msg_0123456789abcdef0123456789abcdef',
  direction: 'outbound',
  wamid: 'wamid.A',
  awsMessageId: 'aws-1',
  phoneNumberId: 'phone-number-id-1',
  contact: { waId: '14155550100' },
  type: 'text',
  content: { body: 'hi' },
  sendState: 'sent',
  'st:sent': { status: 'sent', timestamp: '2025-01-01T00:00:02.000Z' },
};
const awsOwn: StoredMessage = {
  id: messageIdFromAwsMessageId('aws-1'),
  direction: 'outbound',
  wamid: 'wamid.A',
  'st:accepted': { status: 'accepted', timestamp: '2025-01-01T00:00:01.000Z' },
};
const noId: StoredMessage = {
  id: messageIdFromWamid('wamid.A'),
  direction: 'outbound',
  wamid: 'wamid.A',
  'st:read': { status: 'read', timestamp: '2025-01-01T00:00:04.000Z' },
  'st:sent': { status: 'sent', timestamp: '2025-01-01T00:00:09.000Z' },
};

describe('message view', () => {
  it('merges the status-only items of a send: the record\'s own status wins, the highest rank is current', () => {
    const message = toMessage(send, mergeSiblings(send, new Map([[awsOwn.id, awsOwn]]), [noId, send]));
    expect(message.status).toBe('read');
    expect(message.statuses).toEqual([
      { status: 'accepted', timestamp: '2025-01-01T00:00:01.000Z' },
      { status: 'sent', timestamp: '2025-01-01T00:00:02.000Z' },
      { status: 'read', timestamp: '2025-01-01T00:00:04.000Z' },
    ]);
    expect(message).toMatchObject({ id: send.id, wamid: 'wamid.A', sendState: 'sent', contact: { waId: '14155550100' } });
  });

  it('derives the sibling ids of a send and none of an inbound message', () => {
    expect(siblingIds(send).sort()).toEqual([messageIdOfSendStatuses(send.id), awsOwn.id, noId.id].sort());
    // A record written since its statuses are kept beside it knows neither: the item of its statuses tells them.
    const { wamid: _w, awsMessageId: _a, ...bare } = send;
    expect(siblingIds(bare)).toEqual([messageIdOfSendStatuses(send.id)]);
    expect(siblingIds(bare, { id: messageIdOfSendStatuses(send.id), recordId: send.id, wamid: 'wamid.A', awsMessageId: 'aws-1' }).sort()).toEqual(
      [messageIdOfSendStatuses(send.id), awsOwn.id, noId.id].sort(),
    );
    expect(siblingIds({ ...send, direction: 'inbound' })).toEqual([]);
  });

  it('leads with the record when read by wamid, whatever order the items come in', () => {
    expect(messageOfWamid('wamid.A', [noId, awsOwn, send])).toEqual(messageOfWamid('wamid.A', [send, awsOwn, noId]));
    expect(messageOfWamid('wamid.A', [noId, awsOwn, send])!.id).toBe(send.id);
    expect(messageOfWamid('wamid.B', [])).toBeUndefined();
  });

  it('a send AWS refused is failed, with its error; a status names its contact by phone or BSUID', () => {
    const refused = toMessage({ id: 'msg_x', direction: 'outbound', sendState: 'rejected', sendError: { code: 'invalid_request', message: 'no' } });
    expect(refused).toMatchObject({ status: 'failed', sendError: { code: 'invalid_request', message: 'no' }, sendState: 'rejected' });
    expect(toMessage({ id: 'msg_y', recipientId: '14155550100' }).contact).toEqual({ waId: '14155550100' });
    expect(toMessage({ id: 'msg_z', recipientId: 'US.13491208655302741918' }).contact).toEqual({ userId: 'US.13491208655302741918' });
  });

  it('names a contact by the digits of a phone number in any spelling, a BSUID as given', () => {
    expect(contactIdOf('+1 415-555-0100')).toBe('14155550100');
    expect(contactIdOf('US.13491208655302741918')).toBe('US.13491208655302741918');
  });
});
