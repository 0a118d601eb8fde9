import { createHash, randomUUID } from 'node:crypto';

/** A message id derived from `input`: the same input, the same id. */
const derivedMessageId = (input: string) => `msg_${createHash('sha256').update(input).digest('hex').slice(0, 32)}`;

/**
 * Message ids. An inbound message's id is derived from its wamid, so every redelivery lands on
 * the same record; an outbound message's id is random and travels in `biz_opaque_callback_data`.
 */
export function messageIdFromWamid(wamid: string): string {
  return derivedMessageId(wamid);
}

/**
 * The item of statuses that name a send only by its AWS id (AWS's own events, such as `accepted`
 * and "Message retries exhausted", carry no `biz_opaque_callback_data`). The send record keeps the
 * same AWS id as `awsMessageId`, so the read side finds this item from the record without a read
 * on the inbound path.
 */
export function messageIdFromAwsMessageId(awsMessageId: string): string {
  return derivedMessageId(`aws:${awsMessageId}`);
}

/**
 * The item of the statuses that name a send by our id (Meta echoes it in `biz_opaque_callback_data`):
 * kept beside the send record, not on it. A status then rewrites a small item (one write unit)
 * rather than the record with its content (over 1 KB, two), and the record never moves in GSI2.
 * Derived from the record's id, so the read side finds it from the record without a lookup.
 */
export function messageIdOfSendStatuses(messageId: string): string {
  return derivedMessageId(`st:${messageId}`);
}

export function newMessageId(): string {
  return `msg_${randomUUID().replaceAll('-', '')}`;
}

/** Whether a string is one of the project's message ids (as opposed to a wamid). */
export function isMessageId(s: string): boolean {
  return /^msg_[0-9a-f]{32}$/.test(s);
}

/** `arn:…:phone-number-id/<hex>` → `phone-number-id-<hex>`; an id is returned unchanged. */
export function phoneNumberIdFromArn(arnOrId: string): string {
  const m = /:phone-number-id\/([0-9a-zA-Z]+)$/.exec(arnOrId);
  return m ? `phone-number-id-${m[1]}` : arnOrId;
}

/** `arn:…:waba/<hex>` → `waba-<hex>` (the AWS WABA id); undefined for anything else. */
export function wabaIdFromArn(arn: string | undefined): string | undefined {
  const m = arn === undefined ? null : /:waba\/([0-9a-zA-Z]+)$/.exec(arn);
  return m ? `waba-${m[1]}` : undefined;
}

/** Digits of a phone number as WhatsApp's `wa_id` writes them (no `+`, spaces or dashes). */
export { phoneDigits } from '../whatsapp/phone.ts';
