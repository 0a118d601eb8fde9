/**
 * Builders of what End User Messaging Social publishes to the event destination: a Meta webhook
 * entry (`{id, changes:[{value, field}]}`) wrapped in the AWS envelope, whose
 * `whatsAppWebhookEntry` is the entry as a JSON string.
 */
import { randomBytes } from 'node:crypto';
import type { SandboxPhoneNumber } from './config.ts';
import { phoneNumberArn, wabaArn } from './config.ts';

export interface EumEnvelope {
  context: {
    MetaWabaIds: { wabaId: string; arn: string }[];
    MetaPhoneNumberIds: { metaPhoneNumberId: string; arn: string }[];
  };
  /** One Meta webhook entry, as a JSON string. */
  whatsAppWebhookEntry: string;
  aws_account_id: string;
  /** AWS receive time, ISO 8601 with nanoseconds. */
  message_timestamp: string;
  /** The AWS send id; set on status events of a message sent through the API. */
  messageId?: string;
}

export interface WebhookEntry {
  id: string;
  changes: { value: Record<string, unknown>; field: string }[];
}

/**
 * A wamid shaped like WhatsApp's: base64 of a small binary record holding the user's number and
 * a random hex key (20 hex digits for inbound messages, 18 for outbound ones).
 */
export function newWamid(userId: string, direction: 'inbound' | 'outbound'): string {
  const user = Buffer.from(userId, 'latin1');
  const keyLen = direction === 'inbound' ? 20 : 18;
  const key = Buffer.from(randomBytes(keyLen / 2).toString('hex').toUpperCase(), 'latin1');
  const record = Buffer.concat([
    Buffer.from([0x1c, 0x18, user.length]),
    user,
    Buffer.from([0x15, 0x02, 0x00, direction === 'inbound' ? 0x12 : 0x11, 0x18, key.length]),
    key,
    Buffer.from([0x00]),
  ]);
  return `wamid.${record.toString('base64')}`;
}

/** A Meta media id: 16 digits, no leading zero. */
export function newMediaId(): string {
  const bytes = randomBytes(16);
  let out = String((bytes[0]! % 9) + 1);
  for (let i = 1; i < 16; i++) out += String(bytes[i]! % 10);
  return out;
}

/** Unix seconds as a string, as Meta writes every `timestamp`. */
export function unixSeconds(ms: number): string {
  return String(Math.floor(ms / 1000));
}

/** ISO 8601 with nanoseconds (`…:36.684321927Z`), as AWS writes `message_timestamp`. */
export function isoNanos(ms: number): string {
  const iso = new Date(ms).toISOString(); // …:36.684Z
  const extra = String(randomBytes(4).readUInt32BE() % 1_000_000).padStart(6, '0');
  return `${iso.slice(0, -1)}${extra}Z`;
}

/** The `value.metadata` of a change for a business number. */
export function metadataOf(number: SandboxPhoneNumber): { display_phone_number: string; phone_number_id: string } {
  return { display_phone_number: number.displayPhoneNumber, phone_number_id: number.metaPhoneNumberId };
}

/** A webhook entry with one `messages` change. */
export function messagesEntry(number: SandboxPhoneNumber, value: Record<string, unknown>): WebhookEntry {
  return {
    id: number.metaWabaId,
    changes: [{ value: { messaging_product: 'whatsapp', metadata: metadataOf(number), ...value }, field: 'messages' }],
  };
}

/** The AWS envelope around `entry`, for a number of the sandbox. */
export function envelopeOf(opts: {
  number: SandboxPhoneNumber;
  entry: WebhookEntry;
  region: string;
  accountId: string;
  nowMs: number;
  awsMessageId?: string;
}): EumEnvelope {
  const { number, region, accountId } = opts;
  return {
    context: {
      MetaWabaIds: [{ wabaId: number.metaWabaId, arn: wabaArn(number.wabaId, region, accountId) }],
      MetaPhoneNumberIds: [
        { metaPhoneNumberId: number.metaPhoneNumberId, arn: phoneNumberArn(number.phoneNumberId, region, accountId) },
      ],
    },
    whatsAppWebhookEntry: JSON.stringify(opts.entry),
    aws_account_id: accountId,
    message_timestamp: isoNanos(opts.nowMs),
    ...(opts.awsMessageId ? { messageId: opts.awsMessageId } : {}),
  };
}
