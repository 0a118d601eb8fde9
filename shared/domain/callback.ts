import { isMessageId } from './ids.ts';

/**
 * `biz_opaque_callback_data` carries the project's message id, followed by the caller's own value
 * when there is one: `msg_<hex>` or `msg_<hex>|<caller value>`. Meta echoes it on every status.
 */
const SEP = '|';
/** Meta's limit on `biz_opaque_callback_data`. */
export { CALLBACK_DATA_MAX } from '../whatsapp/outbound/limits.ts';

export function encodeCallbackData(messageId: string, callerValue?: string): string {
  return callerValue === undefined ? messageId : `${messageId}${SEP}${callerValue}`;
}

/** Splits echoed callback data; a value not made by this project is all the caller's. */
export function decodeCallbackData(raw: string | undefined): { messageId?: string; callerValue?: string } {
  if (raw === undefined) return {};
  const i = raw.indexOf(SEP);
  const head = i < 0 ? raw : raw.slice(0, i);
  if (!isMessageId(head)) return { callerValue: raw };
  return i < 0 ? { messageId: head } : { messageId: head, callerValue: raw.slice(i + 1) };
}
