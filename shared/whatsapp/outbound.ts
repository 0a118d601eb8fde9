/**
 * The body of `POST /v1/messages`: Meta's Cloud API send-message JSON plus `from` (the business
 * number). Every outbound type is checked against Meta's documented limits before anything is sent,
 * so a mistake comes back as a 400 with the path of the offending field instead of a `failed`
 * status minutes later.
 *
 * Objects are strict (an unknown key is an error, so typos surface), except inside template
 * components and Flow payloads, whose contents Meta extends often.
 *
 * Lengths are counted in Unicode code points (an emoji counts as one character). Meta documents its
 * limits in "characters" without saying how it counts; code points are the lenient reading.
 *
 * The schemas live by concern in `outbound/`: limits, fields, media, contacts, interactive,
 * template, and the request itself; this module is their public face.
 */
export { INTERACTIVE_TYPES, OUTBOUND_LIMITS, OUTBOUND_TYPES, type OutboundType } from './outbound/limits.ts';
export {
  isTemplate,
  markReadMessage,
  mediaIdsOf,
  parseSendMessageRequest,
  recipientContactId,
  SendMessageRequest,
  toMetaMessage,
  type ParseResult,
} from './outbound/request.ts';
