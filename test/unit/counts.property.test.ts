/**
 * Property: every count the API answers equals the length of the list it describes. A
 * conversation's messageCount is the number of messages its message list shows, whatever mix of
 * inbound messages (redelivered too) and sends (accepted, refused, throttled, in doubt, accepted
 * while the conversation could not be updated, or cut short by a crash that left the record
 * `sending`) came in.
 */
import 'aws-sdk-client-mock-vitest/extend';
import {
  InternalServiceException,
  SendWhatsAppMessageCommand,
  SocialMessagingClient,
  ThrottledRequestException,
  ValidationException,
} from '@aws-sdk/client-socialmessaging';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { storeBusy } from '../../shared/domain/errors.ts';
import { messageIdFromWamid } from '../../shared/domain/ids.ts';
import type { OutboundStore } from '../../shared/ports/outbound-store.ts';
import { call } from '../support/api.ts';
import { PN, sendWorld, USER } from '../support/send.ts';

const T0 = Date.parse('2026-03-02T12:00:00.000Z');
const sm = mockClient(SocialMessagingClient);
afterAll(() => sm.restore());

type Outcome = 'accepted' | 'rejected' | 'throttled' | 'in_doubt';
/**
 * How the store fares after the record is written: `healthy`; `markSent` fails (busy), so the
 * record alone is marked sent (`markSentOnly`); or the process dies, so nothing more is written
 * and the record stays `sending`.
 */
type Store = 'healthy' | 'conversation_fails' | 'crash';
type Step = { kind: 'inbound'; n: number } | { kind: 'send'; outcome: Outcome; store: Store };

/** The store with `methods` failing as a busy DynamoDB would. */
function failing(store: OutboundStore, methods: ReadonlyArray<keyof OutboundStore>): OutboundStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if ((methods as readonly PropertyKey[]).includes(prop)) return () => Promise.reject(storeBusy());
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
const FAILING: Record<Store, ReadonlyArray<keyof OutboundStore>> = {
  healthy: [],
  conversation_fails: ['markSent'],
  crash: ['markSent', 'markSentOnly', 'markRejected', 'markInDoubt', 'discard'],
};

const OUTCOMES: Record<Outcome, () => Promise<{ MessageId?: string; messageId?: string }>> = {
  accepted: async () => ({ messageId: `aws-${Math.random()}` }),
  rejected: async () => {
    throw new ValidationException({ message: 'Invalid destination phone number or message Id.', $metadata: {} });
  },
  throttled: async () => {
    throw new ThrottledRequestException({ message: 'Rate exceeded', $metadata: {} });
  },
  in_doubt: async () => {
    throw new InternalServiceException({ message: 'oops', $metadata: { httpStatusCode: 500 } });
  },
};

const step: fc.Arbitrary<Step> = fc.oneof(
  // A small pool of wamids: the same inbound message is often delivered again.
  fc.record({ kind: fc.constant('inbound' as const), n: fc.nat({ max: 5 }) }),
  fc.record({
    kind: fc.constant('send' as const),
    outcome: fc.constantFrom<Outcome>('accepted', 'rejected', 'throttled', 'in_doubt'),
    store: fc.constantFrom<Store>('healthy', 'healthy', 'conversation_fails', 'crash'),
  }),
);

/** Every item of a list, page by page (a small page, so the cursor is used). */
async function wholeList(api: Parameters<typeof call>[0], path: string): Promise<unknown[]> {
  const items: unknown[] = [];
  let cursor: string | null = null;
  do {
    const res = await call(api, 'GET', `${path}?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status).toBe(200);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return items;
}

describe('counts equal lists', () => {
  it('a conversation’s messageCount equals the length of its message list', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        const w = await sendWorld(T0);
        await w.userWrites(T0 - 60_000); // the window is open for every send
        let clock = T0;
        for (const s of steps) {
          clock += 1000;
          w.clock.now = clock;
          if (s.kind === 'inbound') {
            const wamid = `wamid.PROP${s.n}`;
            await w.inbound.recordInbound({
              id: messageIdFromWamid(wamid),
              wamid,
              business: { phoneNumberId: PN, metaPhoneNumberId: '106540352242922' },
              contact: { waId: USER },
              contactId: USER,
              type: 'text',
              content: { body: `hello ${s.n}` },
              timestampMs: T0 + s.n * 10,
            });
          } else {
            sm.reset();
            sm.on(SendWhatsAppMessageCommand).callsFake(OUTCOMES[s.outcome]);
            const { api } = s.store === 'healthy' ? w : w.restart({ store: failing(w.store, FAILING[s.store]) });
            const res = await call(api, 'POST', '/v1/messages', { body: { from: PN, to: USER, type: 'text', text: { body: 'hi' } } });
            expect(res.status).toBeLessThan(600);
          }
        }
        const list = await wholeList(w.api, `/v1/conversations/${PN}/${USER}/messages`);
        const conversations = await call(w.api, 'GET', `/v1/conversations?phoneNumberId=${PN}`);
        const [conversation] = conversations.body.items;
        expect(conversation.messageCount).toBe(list.length);
      }),
      { numRuns: 20, seed: 1111, endOnFailure: true },
    );
  });
});
