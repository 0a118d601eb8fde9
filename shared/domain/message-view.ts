/**
 * The read model: stored records → the API's Message, Conversation and QuarantineItem. The one place
 * that knows how a message's status is derived, how the status-only items of a message merge into
 * it, and how a contact is named. Pure functions over stored records (no store, no clock of its
 * own), so the same view can be made from whatever hands over the records: a query, or a stream
 * image of the table.
 */
import { isMessageId, messageIdFromAwsMessageId, messageIdFromWamid, messageIdOfSendStatuses, phoneDigits } from './ids.ts';
import { classifyMetaError } from './meta-errors.ts';
import type { Conversation, Message, QuarantineItem } from './resources.ts';
import { currentStatus, statusRank, TERMINAL_STATUSES } from './status.ts';
import type { Contact, MessageContext } from './types.ts';
import { isWindowOpen, windowExpiresAt } from './window.ts';

/** One status of a message as stored (under the attribute `st:<status>` or `st:<status>:<member>`). */
export interface StoredStatus {
  status: string;
  timestamp: string;
  participantId?: string;
  errors?: Array<{ code: number; title?: string; details?: string }>;
  [more: string]: unknown;
}

/** A stored Meta error (inbound messages keep Meta's `errors[]`). */
export interface StoredMetaError {
  code: number;
  title?: string;
  details?: string;
  [more: string]: unknown;
}

/**
 * A stored message item: the record of an inbound message or of a send, or an item that holds
 * only statuses (of a send filed under another id, or of a message with no record here).
 */
export interface StoredMessage {
  id: string;
  wamid?: string;
  direction?: string;
  phoneNumberId?: string;
  contactId?: string;
  contact?: Contact;
  recipientId?: string;
  type?: string;
  content?: unknown;
  /** A send keeps the caller's object as JSON text. */
  contentJson?: string;
  context?: MessageContext;
  referral?: Record<string, unknown>;
  errors?: StoredMetaError[];
  media?: Record<string, unknown>;
  timestamp?: string;
  awsMessageId?: string;
  callbackData?: string;
  /** On the item of a send's statuses (`messageIdOfSendStatuses`): the send record's id. */
  recordId?: string;
  sendState?: string;
  sendError?: { code: string; message: string };
  [status: `st:${string}`]: StoredStatus;
}

/** A stored conversation item. */
export interface StoredConversation {
  phoneNumberId: string;
  contactId: string;
  contact?: Contact;
  lastMessageAt?: string;
  lastInboundAt?: string;
  messageCount?: number;
}

/** A stored quarantine item. */
export interface StoredQuarantine {
  id: string;
  receivedAt: string;
  reason: string;
  raw: string;
  rawTruncated?: boolean;
  source?: string;
  replayedAt?: string;
}

const statusEntries = (item: StoredMessage): StoredStatus[] =>
  Object.entries(item)
    .filter(([k]) => k.startsWith('st:'))
    .map(([, v]) => v as StoredStatus);

/** The send states a caller sees (a status-only item has none). */
const PUBLIC_SEND_STATES = ['sending', 'sent', 'rejected', 'in_doubt'] as const;
const isPublicSendState = (s: string | undefined): s is (typeof PUBLIC_SEND_STATES)[number] =>
  (PUBLIC_SEND_STATES as readonly (string | undefined)[]).includes(s);

/**
 * A message resource from its item, merged with the status-only items of the same message: AWS's
 * own statuses (under the id derived from the AWS send id) and statuses that named no id (under
 * the id derived from the wamid). Where two items hold the same status (of the same group member),
 * the first one given wins.
 */
export function toMessage(primary: StoredMessage, others: readonly StoredMessage[] = []): Message {
  const byStatus = new Map<string, StoredStatus>();
  for (const item of [primary, ...others]) {
    for (const e of statusEntries(item)) {
      const key = e.participantId === undefined ? e.status : `${e.status}:${e.participantId}`;
      if (!byStatus.has(key)) byStatus.set(key, e);
    }
  }
  const statuses = [...byStatus.values()].sort(
    (a, b) => a.timestamp.localeCompare(b.timestamp) || statusRank(a.status, 9) - statusRank(b.status, 9),
  );
  const direction: 'inbound' | 'outbound' = primary.direction === 'inbound' ? 'inbound' : 'outbound';
  const ownStatuses = isRecord(primary) ? others.find((o) => o.id === messageIdOfSendStatuses(primary.id)) : undefined;
  const metaErrors = [...(primary.errors ?? []), ...statuses.flatMap((s) => s.errors ?? [])];
  // A send AWS refused never got a status.
  const sendFailed = primary.sendState === 'rejected';
  // A group member's failure is that member's alone: the message as a whole fails only on its own.
  const ranked = statuses.filter((s) => s.participantId === undefined || !TERMINAL_STATUSES.has(s.status)).map((s) => s.status);
  const status = direction === 'inbound' ? 'received' : (currentStatus(ranked) ?? (sendFailed ? 'failed' : 'accepted'));
  return {
    id: primary.id,
    wamid: primary.wamid ?? others.find((o) => o.wamid)?.wamid ?? null,
    direction,
    ...(primary.phoneNumberId && { phoneNumberId: primary.phoneNumberId }),
    ...(primary.contact ? { contact: primary.contact } : primary.recipientId && { contact: contactOfRecipient(primary.recipientId) }),
    ...(primary.type && { type: primary.type }),
    ...(primary.content !== undefined && { content: primary.content }),
    ...(primary.content === undefined && typeof primary.contentJson === 'string' && { content: JSON.parse(primary.contentJson) }),
    ...(primary.context && { context: primary.context }),
    ...(primary.referral && { referral: primary.referral }),
    ...(primary.timestamp && { timestamp: primary.timestamp }),
    status,
    statuses: statuses.map((s) => ({ ...s })),
    errors: metaErrors.map((e) => {
      const policy = classifyMetaError(e.code);
      return {
        code: e.code,
        ...(e.title !== undefined && { title: e.title }),
        ...(e.details !== undefined && { details: e.details }),
        retryable: policy.retryable,
        action: policy.action,
        hint: policy.hint,
      };
    }),
    ...(primary.media && { media: publicMedia(primary.media) }),
    // A send whose outcome was in doubt learns AWS's id from its first status, kept beside it.
    ...((primary.awsMessageId ?? ownStatuses?.awsMessageId) && { awsMessageId: primary.awsMessageId ?? ownStatuses?.awsMessageId }),
    ...((primary.callbackData ?? ownStatuses?.callbackData) && { bizOpaqueCallbackData: primary.callbackData ?? ownStatuses?.callbackData }),
    ...(sendFailed && primary.sendError && { sendError: { code: primary.sendError.code, message: primary.sendError.message } }),
    ...(direction === 'outbound' && isPublicSendState(primary.sendState) && { sendState: primary.sendState }),
  };
}

/** A status names its recipient by phone (digits: a `wa_id`) or by BSUID. */
function contactOfRecipient(recipientId: string): Contact {
  return /^\d+$/.test(recipientId) ? { waId: recipientId } : { userId: recipientId };
}

/**
 * The conversation key of a contact as a caller writes it: a phone number in any spelling
 * (`+1 650-555…`) is its digits, the `wa_id`; anything else is a BSUID, kept as given.
 */
export function contactIdOf(given: string): string {
  return /^\+?[\d\s-]+$/.test(given) ? phoneDigits(given) : given;
}

/** A message's own record (an inbound message or a send), as opposed to an item of statuses only. */
export const isRecord = (item: StoredMessage): boolean => item.type !== undefined || item.sendState !== undefined;

/** Whether a record may have statuses filed under other items (a send; an inbound message has none). */
export const hasStatusesElsewhere = (item: StoredMessage): boolean => item.direction !== 'inbound';

/**
 * Ids of the status-only items that may hold statuses of an outbound record: the one statuses with
 * our id go to (`messageIdOfSendStatuses`, always), the one AWS's own statuses go to (derived from
 * `awsMessageId`) and the one statuses without any id go to (derived from the wamid). All are
 * computed, never looked up, so a page of messages costs one batch read. A record keeps neither
 * the wamid nor, for a send in doubt, AWS's id: the item of its statuses does (`ownStatuses`), and
 * gives them here once read.
 */
export function siblingIds(item: StoredMessage, ownStatuses?: StoredMessage): string[] {
  if (!hasStatusesElsewhere(item)) return [];
  const ids = new Set<string>();
  if (isRecord(item)) ids.add(messageIdOfSendStatuses(item.id));
  const awsMessageId = item.awsMessageId ?? ownStatuses?.awsMessageId;
  const wamid = item.wamid ?? ownStatuses?.wamid;
  if (typeof awsMessageId === 'string') ids.add(messageIdFromAwsMessageId(awsMessageId));
  if (typeof wamid === 'string') ids.add(messageIdFromWamid(wamid));
  ids.delete(item.id);
  return [...ids];
}

/** The order status-only items merge in: by id. */
export const byId = (a: StoredMessage, b: StoredMessage): number => String(a.id).localeCompare(String(b.id));

/**
 * The siblings of a record, deduplicated and in merge order: the item of the statuses that named
 * our id first (as the record's own statuses were, when the record held them), then by id. Those
 * found by derived id (`siblingIds`, given the item of its statuses) and every other item of its wamid.
 */
export function mergeSiblings(record: StoredMessage, derived: ReadonlyMap<string, StoredMessage>, ofWamid: readonly StoredMessage[]): StoredMessage[] {
  const merged = new Map<string, StoredMessage>();
  const ownId = isRecord(record) ? messageIdOfSendStatuses(record.id) : undefined;
  const own = ownId !== undefined ? (derived.get(ownId) ?? ofWamid.find((i) => i.id === ownId)) : undefined;
  for (const id of siblingIds(record, own)) {
    const item = derived.get(id);
    if (item) merged.set(id, item);
  }
  for (const item of ofWamid) if (item.id !== record.id) merged.set(item.id, item);
  const rank = (i: StoredMessage) => (i.id === ownId ? 0 : 1);
  return [...merged.values()].sort((a, b) => rank(a) - rank(b) || byId(a, b));
}

/**
 * A message from every item of one wamid: the record made by a send or an inbound message leads;
 * then the wamid's own item; then by id. The others merge in id order, as they do by id.
 */
export function messageOfWamid(wamid: string, items: readonly StoredMessage[]): Message | undefined {
  if (!items.length) return undefined;
  const ownId = messageIdFromWamid(wamid);
  // With no record here, the statuses that named our id still tell the message's id (`recordId`).
  const rank = (i: StoredMessage) => (isRecord(i) ? 0 : i.recordId !== undefined ? 1 : i.id === ownId ? 2 : 3);
  const [primary, ...rest] = [...items].sort((a, b) => rank(a) - rank(b) || byId(a, b));
  const shown = !isRecord(primary!) && primary!.recordId !== undefined ? { ...primary!, id: primary!.recordId } : primary!;
  // As by id: the item of the statuses that named the record's id merges first.
  const besideId = isRecord(primary!) ? messageIdOfSendStatuses(primary!.id) : undefined;
  return toMessage(shown, rest.sort((a, b) => Number(b.id === besideId) - Number(a.id === besideId) || byId(a, b)));
}

/** The `media` of a message as the API shows it: no bookkeeping, `copying` shown as `pending`. */
export function publicMedia(raw: Record<string, unknown>): {
  id: string;
  state: 'pending' | 'stored' | 'failed';
  mimeType?: string;
  sha256?: string;
  filename?: string;
  size?: number;
  reason?: string;
} {
  const state = raw.state === 'stored' || raw.state === 'failed' ? raw.state : 'pending';
  const str = (k: string) => (typeof raw[k] === 'string' ? { [k]: raw[k] as string } : {});
  return {
    id: String(raw.id),
    ...str('mimeType'),
    ...str('sha256'),
    ...str('filename'),
    state,
    ...(state === 'stored' && typeof raw.size === 'number' && { size: raw.size }),
    ...(state === 'failed' && str('reason')),
  };
}

/** Whether a caller's id is the project's message id (else it is read as a wamid). */
export const isProjectId = isMessageId;

export function toConversation(item: StoredConversation, nowMs: number): Conversation {
  const lastInboundMs = item.lastInboundAt ? Date.parse(item.lastInboundAt) : undefined;
  return {
    phoneNumberId: item.phoneNumberId,
    contactId: item.contactId,
    contact: item.contact ?? {},
    ...(item.lastMessageAt && { lastMessageAt: item.lastMessageAt }),
    ...(item.lastInboundAt && { lastInboundAt: item.lastInboundAt }),
    ...(lastInboundMs !== undefined && { windowExpiresAt: new Date(windowExpiresAt(lastInboundMs)).toISOString() }),
    windowOpen: isWindowOpen(lastInboundMs, nowMs),
    messageCount: Number(item.messageCount ?? 0),
  };
}

export function toQuarantineItem(i: StoredQuarantine): QuarantineItem {
  return {
    id: i.id,
    receivedAt: i.receivedAt,
    reason: i.reason,
    raw: i.raw,
    ...(i.rawTruncated && { rawTruncated: true }),
    ...(i.source && { source: i.source }),
    ...(i.replayedAt && { replayedAt: i.replayedAt }),
  };
}
