/**
 * The send path when DynamoDB fails around an outcome, with DynamoDB's answers mocked (the failures
 * cannot be caused on DynamoDB Local) and the exact commands asserted: a completion that fails
 * falls back to marking the record alone `sent`; a failed discard (the delete and the count taken
 * back, in one transaction) is tried again in place, then answered 503. Also the failure classification of a send by exception name and HTTP status.
 */
import 'aws-sdk-client-mock-vitest/extend';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  InternalServerError,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand, type TransactWriteCommandInput, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  AccessDeniedException,
  ResourceNotFoundException,
  SendWhatsAppMessageCommand,
  SocialMessagingClient,
  ThrottledRequestException,
  ValidationException,
} from '@aws-sdk/client-socialmessaging';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DISCARD_ATTEMPTS, DynamoDbOutbound } from '../../shared/adapters/dynamodb-outbound.ts';
import { CONFLICT_ATTEMPTS } from '../../shared/adapters/dynamodb-conflicts.ts';
import {
  SEND_ATTEMPTS_WHEN_THROTTLED,
  socialMessagingClient,
  socialMessagingSendClient,
  SocialMessagingGateway,
} from '../../shared/adapters/socialmessaging-gateway.ts';
import { ApiError } from '../../shared/domain/errors.ts';
import { messageIdOfSendStatuses } from '../../shared/domain/ids.ts';
import { httpStatusOf } from '../../lambdas/api/http-errors.ts';
import { classifySendFailure, fromAwsError, WhatsAppServiceError } from '../../shared/adapters/socialmessaging-errors.ts';
import { MessageSender, messageIdForKey } from '../../shared/domain/send-message.ts';
import { parseSendMessageRequest } from '../../shared/whatsapp/outbound.ts';
import { META_API_VERSION, outboundFixture, PN } from '../support/send.ts';

const T0 = Date.parse('2026-03-02T12:00:00.000Z');
const TABLE = 'table';
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }));
const ddb = mockClient(doc);
const sm = mockClient(SocialMessagingClient);
let warnings: Array<[string, Record<string, unknown>]>;

function sender(): MessageSender {
  const gateway = new SocialMessagingGateway(socialMessagingClient({ region: 'us-east-1' }), {
    sendClient: socialMessagingSendClient({ region: 'us-east-1' }),
    sleep: async () => {},
  });
  return new MessageSender({
    gateway,
    store: new DynamoDbOutbound(doc, TABLE),
    messages: { getMessage: async () => undefined },
    phoneNumberIds: [PN],
    metaApiVersion: META_API_VERSION,
    now: () => T0,
    log: { warn: (message, attributes) => void warnings.push([message, attributes]) },
  });
}

/** A template (no window read) sent with an Idempotency-Key; the answer, or the error thrown. */
async function sendKeyed(key: string): Promise<unknown> {
  const parsed = parseSendMessageRequest(outboundFixture('template'));
  if (!parsed.ok) throw new Error(parsed.error.message);
  return sender()
    .send(parsed.value, { idempotencyKey: key })
    .catch((e: unknown) => e);
}

/** The record as it was written (the Put of the first transaction, with its conversation counted). */
const written = () => ddb.commandCalls(TransactWriteCommand)[0]!.args[0].input.TransactItems![0]!.Put!.Item!;
/** The attempt token the record was written with. */
const attemptOf = () => written().attemptId as string;
/** The transactions after the one that wrote the record. */
const laterTransactions = () => ddb.commandCalls(TransactWriteCommand).filter((c) => !c.args[0].input.TransactItems?.[0]?.Put);
/** What the transactions after the record's write do (the write itself succeeds). */
let afterWrite: (input: TransactWriteCommandInput) => Promise<unknown>;

const canceled = (codes: string[]) =>
  new TransactionCanceledException({ message: 'canceled', $metadata: {}, CancellationReasons: codes.map((Code) => ({ Code })) });

beforeEach(() => {
  ddb.reset();
  sm.reset();
  warnings = [];
  afterWrite = async () => ({});
  ddb.on(TransactWriteCommand).callsFake(async (input: TransactWriteCommandInput) => (input.TransactItems?.[0]?.Put ? {} : afterWrite(input)));
  // A keyed send first asks whether statuses named its id: none did.
  ddb.on(GetCommand).resolves({});
});

afterAll(() => {
  ddb.restore();
  sm.restore();
});

describe('a send AWS accepted whose completing transaction fails', () => {
  it.each([
    ['the conflicts are used up', () => canceled(['None', 'TransactionConflict']), CONFLICT_ATTEMPTS, { error: 'InternalError', cause: 'TransactionCanceledException' }],
    ['the store is busy', () => new ProvisionedThroughputExceededException({ message: 'busy', $metadata: {} }), 1, { error: 'UnavailableError' }],
    ['DynamoDB fails (500)', () => new InternalServerError({ message: 'oops', $metadata: {} }), 1, { error: 'InternalError', cause: 'InternalServerError' }],
  ])('marks the record alone sent with one conditional UpdateItem and answers 202 when %s', async (_name, failure, transactions, logged) => {
    // Prepare
    sm.on(SendWhatsAppMessageCommand).resolves({ messageId: 'aws-1' });
    afterWrite = async () => {
      throw failure();
    };
    ddb.on(UpdateCommand).resolves({});
    const id = messageIdForKey(PN, 'order-1');
    // Act
    const out = await sendKeyed('order-1');
    // Assess
    // Without a template catalog the template goes unchecked, and the answer says so.
    expect(out).toEqual({ body: { id, status: 'accepted', awsMessageId: 'aws-1', templateChecked: false }, replayed: false });
    expect(laterTransactions()).toHaveLength(transactions);
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, {
      TableName: TABLE,
      Key: { PK: `MSG#${messageIdOfSendStatuses(id)}`, SK: 'MSG' },
      ProjectionExpression: 'PK',
      ConsistentRead: true,
    });
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { PK: `MSG#${id}`, SK: 'MSG' },
      // Keyed by AWS's send id in GSI2 too (until a wamid takes the key): AWS's own statuses find the record.
      UpdateExpression: 'SET sendState = :sent, sentAt = :now, awsMessageId = :aws, GSI2PK = if_not_exists(GSI2PK, :awsKey), GSI2SK = if_not_exists(GSI2SK, :msg)',
      ConditionExpression: 'sendState = :sending AND attemptId = :attempt',
      ExpressionAttributeValues: {
        ':sent': 'sent',
        ':now': new Date(T0).toISOString(),
        ':aws': 'aws-1',
        ':awsKey': 'AWSSEND#aws-1',
        ':msg': 'MSG',
        ':sending': 'sending',
        ':attempt': attemptOf(),
      },
    });
    // The lost conversation update is logged by name only.
    expect(warnings).toEqual([['send accepted, conversation not updated', { messageId: id, phoneNumberId: PN, ...logged }]]);
  });

  it('still answers 202 when the fallback fails too, and logs both failures by name', async () => {
    sm.on(SendWhatsAppMessageCommand).resolves({ messageId: 'aws-2' });
    afterWrite = () => Promise.reject(new InternalServerError({ message: 'oops', $metadata: {} }));
    ddb.on(UpdateCommand).rejects(new InternalServerError({ message: 'oops again', $metadata: {} }));
    const out = await sendKeyed('order-2');
    expect(out).toMatchObject({ body: { status: 'accepted', awsMessageId: 'aws-2' }, replayed: false });
    expect(warnings.map(([m]) => m)).toEqual(['send accepted, conversation not updated', 'send accepted but not recorded']);
    expect(warnings[1]![1]).toMatchObject({ error: 'InternalError', cause: 'InternalServerError' });
  });

  it('leaves a record another writer already moved on alone (the condition fails quietly)', async () => {
    sm.on(SendWhatsAppMessageCommand).resolves({ messageId: 'aws-3' });
    afterWrite = () => Promise.reject(new InternalServerError({ message: 'oops', $metadata: {} }));
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'moved on', $metadata: {} }));
    const out = await sendKeyed('order-3');
    expect(out).toMatchObject({ body: { status: 'accepted', awsMessageId: 'aws-3' } });
    expect(warnings.map(([m]) => m)).toEqual(['send accepted, conversation not updated']);
  });
});

describe('the discard of a send AWS accepted nothing of', () => {
  /** The delete of the record and, in the same transaction, its conversation's count taken back. */
  const discardInput = () => ({
    TransactItems: [
      {
        Delete: {
          TableName: TABLE,
          Key: { PK: `MSG#${messageIdForKey(PN, 'order-d')}`, SK: 'MSG' },
          ConditionExpression: 'sendState = :sending AND attemptId = :attempt AND requestHash = :h',
          ExpressionAttributeValues: { ':sending': 'sending', ':attempt': attemptOf(), ':h': written().requestHash },
        },
      },
      {
        Update: expect.objectContaining({
          TableName: TABLE,
          Key: { PK: `CONV#${PN}#${written().contactId}`, SK: 'CONV' },
          UpdateExpression: expect.stringMatching(/ADD messageCount :by$/),
          ExpressionAttributeValues: expect.objectContaining({ ':by': -1 }),
        }),
      },
    ],
  });

  it('tries a failed delete again in place and then answers the throttle', async () => {
    // Prepare
    sm.on(SendWhatsAppMessageCommand).rejects(new ThrottledRequestException({ message: 'Rate exceeded', $metadata: {} }));
    let deletes = 0;
    afterWrite = async () => {
      if (deletes++ === 0) throw new ProvisionedThroughputExceededException({ message: 'busy', $metadata: {} });
      return {};
    };
    // Act
    const err = await sendKeyed('order-d');
    // Assess
    expect(err).toMatchObject({ kind: 'throttled', code: 'throttled' });
    expect(httpStatusOf(err as ApiError)).toBe(429);
    expect(sm).toHaveReceivedCommandTimes(SendWhatsAppMessageCommand, SEND_ATTEMPTS_WHEN_THROTTLED);
    expect(laterTransactions()).toHaveLength(2);
    for (const c of laterTransactions()) expect(c.args[0].input).toEqual(discardInput());
  });

  it.each([
    ['throttled', new ThrottledRequestException({ message: 'Rate exceeded', $metadata: {} })],
    ['refused by our IAM', new AccessDeniedException({ message: 'denied', $metadata: {} })],
  ])('answers 503 store_unavailable, not the mapped error, when the delete of a send %s keeps failing', async (_name, awsError) => {
    sm.on(SendWhatsAppMessageCommand).rejects(awsError);
    afterWrite = () => Promise.reject(new InternalServerError({ message: 'oops', $metadata: {} }));
    const id = messageIdForKey(PN, 'order-d');
    const err = await sendKeyed('order-d');
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ kind: 'unavailable', code: 'store_unavailable', details: { id } });
    expect(httpStatusOf(err as ApiError)).toBe(503);
    expect((err as ApiError).message).toMatch(/new Idempotency-Key/);
    expect(laterTransactions()).toHaveLength(DISCARD_ATTEMPTS);
    expect(warnings).toEqual([['unsent message not discarded', { messageId: id, error: 'InternalError', cause: 'InternalServerError' }]]);
  });

  it('does not try again when the record is no longer this attempt’s (the condition failed)', async () => {
    const store = new DynamoDbOutbound(doc, TABLE);
    afterWrite = () => Promise.reject(canceled(['ConditionalCheckFailed', 'None']));
    const record = {
      id: messageIdForKey(PN, 'order-c'),
      phoneNumberId: PN,
      contactId: '16505551234',
      contact: { waId: '16505551234' },
      type: 'text',
      content: { body: 'hi' },
      timestampMs: T0,
      requestHash: 'h',
      attemptId: 'attempt-1',
    };
    await store.discard(record);
    expect(laterTransactions()).toHaveLength(1);
  });
});

describe('how a failed send is classified', () => {
  /** A failure as the gateway throws it: an SDK-shaped error wrapped in WhatsAppServiceError. */
  const failure = (name: string, httpStatusCode?: number) =>
    new WhatsAppServiceError(Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode } }));

  it.each([
    ['ValidationException', 400, 'rejected', 400, 'invalid_request'],
    ['InvalidParametersException', 400, 'rejected', 400, 'invalid_request'],
    ['AccessDeniedException', 403, 'not_sent', 500, 'upstream_forbidden'],
    ['ResourceNotFoundException', 404, 'not_sent', 404, 'unknown_phone_number'],
    ['ExpiredTokenException', 403, 'not_sent', 500, 'upstream_unauthenticated'],
    ['UnrecognizedClientException', 403, 'not_sent', 500, 'upstream_unauthenticated'],
    ['IncompleteSignature', 400, 'not_sent', 500, 'upstream_unauthenticated'],
    ['InvalidSignatureException', 403, 'not_sent', 500, 'upstream_unauthenticated'],
    ['MissingAuthenticationTokenException', 403, 'not_sent', 500, 'upstream_unauthenticated'],
    ['ThrottledRequestException', 429, 'throttled', 429, 'throttled'],
    ['Unknown', 429, 'throttled', 429, 'throttled'],
    ['TooManyRequestsException', 429, 'throttled', 429, 'throttled'],
    ['SomethingNewException', 400, 'unknown', 500, 'internal_error'],
    ['Unknown', 403, 'unknown', 500, 'internal_error'],
    ['InternalServiceException', 500, 'unknown', 503, 'unavailable'],
    ['Unknown', 503, 'unknown', 500, 'internal_error'],
    ['TimeoutError', undefined, 'unknown', 502, 'upstream_error'],
  ] as const)('%s (HTTP %s) is %s, answered %i %s when nothing may have gone out', (name, http, kind, status, code) => {
    const err = failure(name, http);
    expect(classifySendFailure(err)).toBe(kind);
    expect([httpStatusOf(fromAwsError(err)), fromAwsError(err).code]).toEqual([status, code]);
  });

  it('takes the Retry-After of an unmodelled 429', () => {
    const raw = Object.assign(new Error('slow down'), {
      name: 'Unknown',
      $metadata: { httpStatusCode: 429 },
      $response: { headers: { 'retry-after': '4' } },
    });
    const e = fromAwsError(new WhatsAppServiceError(raw));
    expect([httpStatusOf(e), e.details]).toEqual([429, { retryAfterSeconds: 4 }]);
  });

  it('keeps the message of a credentials failure safe: no AWS text, no ARN, no key id', () => {
    const e = fromAwsError(failure('UnrecognizedClientException'));
    expect(e.message).not.toMatch(/happened|arn:|AKIA/);
    expect(e.details).toBeUndefined();
  });

  it('knows the exceptions the SDK models as they are named', () => {
    const modelled = [
      new ValidationException({ message: 'x', $metadata: {} }),
      new AccessDeniedException({ message: 'x', $metadata: {} }),
      new ResourceNotFoundException({ message: 'x', $metadata: {} }),
      new ThrottledRequestException({ message: 'x', $metadata: {} }),
    ];
    expect(modelled.map((e) => classifySendFailure(new WhatsAppServiceError(e)))).toEqual(['rejected', 'not_sent', 'not_sent', 'throttled']);
  });
});
