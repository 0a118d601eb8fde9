/**
 * The send API wired as in the Lambda, on a fresh DynamoDB Local table, with the socialmessaging
 * client's calls answered by aws-sdk-client-mock (the caller owns the mock).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { SendWhatsAppMessageCommand } from '@aws-sdk/client-socialmessaging';
import type { AwsStub } from 'aws-sdk-client-mock';
import { DynamoDbOutbound } from '../../shared/adapters/dynamodb-outbound.ts';
import { DynamoDbQueries } from '../../shared/adapters/dynamodb-queries.ts';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import {
  socialMessagingClient,
  socialMessagingSendClient,
  SEND_ATTEMPTS_WHEN_THROTTLED,
  SocialMessagingGateway,
} from '../../shared/adapters/socialmessaging-gateway.ts';
import { messageIdFromWamid } from '../../shared/domain/ids.ts';
import { MessageSender } from '../../shared/domain/send-message.ts';
import type { OutboundStore } from '../../shared/ports/outbound-store.ts';
import type { WhatsAppGateway } from '../../shared/ports/whatsapp-gateway.ts';
import { makeHandler } from '../../lambdas/api/handler.ts';
import type { ApiHandler } from './api.ts';
import { freshTable } from './dynamodb.ts';

/** The business number of the outbound fixtures, and a second configured one. */
export const PN = 'phone-number-id-0123456789abcdef0123456789abcdef';
export const PN2 = 'phone-number-id-fedcba9876543210fedcba9876543210';
export const PN_ARN = 'arn:aws:social-messaging:us-east-1:111122223333:phone-number-id/0123456789abcdef0123456789abcdef';
/** The recipient of the outbound fixtures. */
export const USER = '16505551234';
export const META_API_VERSION = 'v24.0';

const FIXTURE_DIR = new URL('../fixtures/outbound/', import.meta.url);

/** GetLinkedWhatsAppBusinessAccountPhoneNumber's description of a number, as AWS writes it. */
export function linked(phoneNumberId: string, display: string) {
  const hex = phoneNumberId.slice('phone-number-id-'.length);
  return {
    arn: `arn:aws:social-messaging:us-east-1:111122223333:phone-number-id/${hex}`,
    phoneNumber: display,
    phoneNumberId,
    metaPhoneNumberId: '106540352242922',
    displayPhoneNumberName: 'Shop',
    displayPhoneNumber: display,
    qualityRating: 'GREEN',
  };
}

/** Every outbound fixture by name (file name without `.json`), as fresh copies. */
export function outboundFixtures(): Record<string, Record<string, any>> {
  return Object.fromEntries(
    readdirSync(FIXTURE_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => [f.slice(0, -'.json'.length), JSON.parse(readFileSync(new URL(f, FIXTURE_DIR), 'utf8'))]),
  );
}

export function outboundFixture(name: string): Record<string, any> {
  const f = outboundFixtures()[name];
  if (!f) throw new Error(`no outbound fixture ${name}`);
  return f;
}

/** What SendWhatsAppMessage received, with the message blob decoded from its JSON bytes. */
export function sentCalls(sm: AwsStub<any, any, any>): Array<{ originationPhoneNumberId: string; metaApiVersion: string; message: any }> {
  return sm.commandCalls(SendWhatsAppMessageCommand).map((c) => {
    const input = c.args[0].input;
    return {
      originationPhoneNumberId: input.originationPhoneNumberId!,
      metaApiVersion: input.metaApiVersion!,
      message: JSON.parse(new TextDecoder().decode(input.message as Uint8Array)),
    };
  });
}

export interface SendWorld {
  api: ApiHandler;
  sender: MessageSender;
  store: DynamoDbOutbound;
  queries: DynamoDbQueries;
  inbound: DynamoDbStore;
  gateway: SocialMessagingGateway;
  doc: Awaited<ReturnType<typeof freshTable>>['doc'];
  client: Awaited<ReturnType<typeof freshTable>>['client'];
  tableName: string;
  clock: { now: number };
  /** A new container's sender and API over the same table (e.g. after a crash), with optional wrappers. */
  restart(opts?: { gateway?: WhatsAppGateway; store?: OutboundStore }): { api: ApiHandler; sender: MessageSender };
  /** The user writes: opens (or refreshes) the 24-hour window at `atMs`. */
  userWrites(atMs: number, contactId?: string, phoneNumberId?: string): Promise<void>;
  /** Outbound send records in the table. */
  outboundItems(): Promise<Array<Record<string, any>>>;
  /** The alias item the inbound path writes for a user known by both a BSUID and a wa_id. */
  writeAlias(userId: string, waId: string, phoneNumberId?: string): Promise<void>;
  /** Calls the gateway made while AWS kept throttling a send: its whole budget. */
  throttledAttempts: number;
}

export async function sendWorld(startMs: number): Promise<SendWorld> {
  const { doc, client, tableName } = await freshTable();
  const clock = { now: startMs };
  const store = new DynamoDbOutbound(doc, tableName);
  const queries = new DynamoDbQueries(doc, tableName);
  const inbound = new DynamoDbStore(doc, tableName);
  // Wired as in the Lambda (sends without SDK retries); no waiting between throttled attempts.
  const gateway = new SocialMessagingGateway(socialMessagingClient({ region: 'us-east-1' }), {
    sendClient: socialMessagingSendClient({ region: 'us-east-1' }),
    sleep: async () => {},
  });
  const build = (opts: { gateway?: WhatsAppGateway; store?: OutboundStore } = {}) => {
    const sender = new MessageSender({
      gateway: opts.gateway ?? gateway,
      store: opts.store ?? store,
      messages: queries,
      phoneNumberIds: [PN, PN2],
      metaApiVersion: META_API_VERSION,
      now: () => clock.now,
    });
    return { sender, api: makeHandler({ queries, now: () => clock.now, sender: () => sender }) };
  };
  const first = build();
  let n = 0;
  return {
    ...first,
    store,
    queries,
    inbound,
    gateway,
    doc,
    client,
    tableName,
    clock,
    restart: build,
    async userWrites(atMs, contactId = USER, phoneNumberId = PN) {
      const wamid = `wamid.TEST${contactId}${atMs}${n++}`;
      await inbound.recordInbound({
        id: messageIdFromWamid(wamid),
        wamid,
        business: { phoneNumberId, metaPhoneNumberId: '106540352242922' },
        contact: { waId: contactId, name: 'Sheena' },
        contactId,
        type: 'text',
        content: { body: 'hello' },
        timestampMs: atMs,
      });
    },
    throttledAttempts: SEND_ATTEMPTS_WHEN_THROTTLED,
    async writeAlias(userId, waId, phoneNumberId = PN) {
      await doc.send(new PutCommand({ TableName: tableName, Item: { PK: `ALIAS#${phoneNumberId}#${userId}`, SK: 'ALIAS', waId } }));
    },
    async outboundItems() {
      const out = await doc.send(
        new ScanCommand({
          TableName: tableName,
          ConsistentRead: true,
          FilterExpression: 'entity = :m AND direction = :o',
          ExpressionAttributeValues: { ':m': 'message', ':o': 'outbound' },
        }),
      );
      return out.Items ?? [];
    },
  };
}
