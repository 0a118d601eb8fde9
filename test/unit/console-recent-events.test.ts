/** The console's list of domain events: each event once, the latest kept, SNS notifications unwrapped. */
import { describe, expect, it } from 'vitest';
import { RecentEvents } from '../../local/console/recent-events.ts';

const event = (n: number) => ({ specversion: '1.0', id: `evt_${n}`, type: 'message.received', subject: `msg_${n}`, time: '2026-01-01T00:00:00.000Z', data: {} });
const notification = (body: unknown) => JSON.stringify({ Type: 'Notification', MessageId: 'm', Message: JSON.stringify(body) });

describe('the console\'s recent domain events', () => {
  it('lists each event once (the topic delivers at least once), unwraps SNS notifications and skips what is not an event', () => {
    const recent = new RecentEvents();
    expect(recent.add(notification(event(1)))).toBe(true);
    expect(recent.add(JSON.stringify(event(2)))).toBe(true);
    expect(recent.add(notification(event(1)))).toBe(false);
    expect(recent.add('not json')).toBe(false);
    expect(recent.add(notification({ hello: 'world' }))).toBe(false);
    expect(recent.after(0).map((e) => [e.seq, e.id, e.type, e.subject])).toEqual([
      [1, 'evt_1', 'message.received', 'msg_1'],
      [2, 'evt_2', 'message.received', 'msg_2'],
    ]);
    expect(recent.after(1).map((e) => e.id)).toEqual(['evt_2']);
  });

  it('keeps only the latest ones', () => {
    const recent = new RecentEvents(3);
    for (let n = 1; n <= 5; n++) recent.add(JSON.stringify(event(n)));
    expect(recent.after(0).map((e) => e.id)).toEqual(['evt_3', 'evt_4', 'evt_5']);
  });
});
