/**
 * Property: whatever body arrives at POST /v1/messages, the API never answers 5xx, and it calls
 * SendWhatsAppMessage or stores a record only for a body the validator accepts.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { randomUUID } from 'node:crypto';
import {
  GetLinkedWhatsAppBusinessAccountPhoneNumberCommand,
  SendWhatsAppMessageCommand,
  SocialMessagingClient,
} from '@aws-sdk/client-socialmessaging';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSendMessageRequest } from '../../shared/whatsapp/outbound.ts';
import { call } from '../support/api.ts';
import { editedFixture } from '../support/body-edits.ts';
import { linked, outboundFixtures, PN, PN2, sendWorld, sentCalls, USER, type SendWorld } from '../support/send.ts';

const T0 = Date.parse('2026-03-02T12:00:00.000Z');
const sm = mockClient(SocialMessagingClient);
let w: SendWorld;

const FIXTURES = Object.values(outboundFixtures());

const replacement = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    '',
    ' ',
    'text',
    'template',
    'group',
    '+16505551234',
    '+15550100001', // a business number's display number: `from` may name it
    'US.1234',
    'wamid.X',
    'https://example.com/a.jpg',
    '😀',
    'x'.repeat(5000),
  ),
  fc.integer(),
);

const mutated = editedFixture(
  FIXTURES,
  fc.tuple(fc.nat(), replacement, fc.option(fc.string({ maxLength: 8 }), { nil: undefined })),
  { minLength: 1, maxLength: 3 },
);

const anyJson = fc.oneof(fc.jsonValue(), fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 })));

beforeAll(async () => {
  w = await sendWorld(T0);
  await w.userWrites(T0 - 60 * 60 * 1000, USER);
  sm.on(SendWhatsAppMessageCommand).callsFake(async () => ({ messageId: randomUUID() }));
  // `from` may be a display number: AWS describes each configured number.
  sm.on(GetLinkedWhatsAppBusinessAccountPhoneNumberCommand, { id: PN }).resolves({ phoneNumber: linked(PN, '+1 555-010-0001') });
  sm.on(GetLinkedWhatsAppBusinessAccountPhoneNumberCommand, { id: PN2 }).resolves({ phoneNumber: linked(PN2, '+15550100002') });
});

afterAll(() => sm.restore());

/** Whether the body as it travels (JSON text; `undefined` members vanish) is a valid request. */
function validOnTheWire(body: unknown): boolean {
  const text = JSON.stringify(body);
  return text !== undefined && parseSendMessageRequest(JSON.parse(text)).ok;
}

async function checkBody(body: unknown, withKey: boolean): Promise<void> {
  const valid = validOnTheWire(body);
  const callsBefore = sm.commandCalls(SendWhatsAppMessageCommand).length;
  const recordsBefore = (await w.outboundItems()).length;
  const res = await call(w.api, 'POST', '/v1/messages', {
    body: JSON.stringify(body) ?? '',
    ...(withKey && { headers: { 'Idempotency-Key': randomUUID() } }),
  });
  const calls = sm.commandCalls(SendWhatsAppMessageCommand).length - callsBefore;
  const records = (await w.outboundItems()).length - recordsBefore;
  expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
  expect(res.body?.error?.code ?? 'none').not.toBe('internal_error');
  if (!valid) {
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
    expect(typeof res.body.error.details.path).toBe('string');
    expect([calls, records]).toEqual([0, 0]);
  } else if (res.status === 202) {
    expect([calls, records]).toEqual([1, 1]);
  } else {
    // Valid but refused before sending: unknown number (404), closed window (409).
    expect([404, 409]).toContain(res.status);
    expect([calls, records]).toEqual([0, 0]);
  }
}

describe('POST /v1/messages fuzz', () => {
  it('answers 404 for a display number that is no business number, and sends from one that is', async () => {
    const body = { from: '+16505551234', to: USER, type: 'audio', audio: { id: '1908647269898587', voice: true } };
    await checkBody(body, false);
    const res = await call(w.api, 'POST', '/v1/messages', { body: JSON.stringify(body) });
    expect(res.body.error.code).toBe('unknown_phone_number');
    const sent = await call(w.api, 'POST', '/v1/messages', { body: JSON.stringify({ ...body, from: '+15550100001' }) });
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    expect(sentCalls(sm).at(-1)?.originationPhoneNumberId).toBe(PN);
  });

  it('never answers 5xx nor sends or stores for arbitrary JSON', async () => {
    await fc.assert(
      fc.asyncProperty(anyJson, fc.boolean(), (body, withKey) => checkBody(body, withKey)),
      { numRuns: 150 },
    );
  });

  it('sends and stores only the mutated bodies the validator accepts, never answering 5xx', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(mutated, fc.boolean(), async (body, withKey) => {
        await checkBody(body, withKey);
        if (validOnTheWire(body)) accepted++;
      }),
      { numRuns: 250 },
    );
    // The property must also have seen bodies that went through.
    expect(accepted).toBeGreaterThan(0);
  });
});
