/**
 * Read side of the single table: items → API resources. Cursors are the query's
 * LastEvaluatedKey, base64url-encoded (keyset pagination: stable under concurrent writes).
 */
import { BatchGetCommand, GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UnavailableError, ValidationError } from '../domain/errors.ts';
import { isMessageId, messageIdFromAwsMessageId, messageIdFromWamid } from '../domain/ids.ts';
import { publicMedia } from '../domain/media-jobs.ts';
import { classifyMetaError } from '../domain/meta-errors.ts';
import type { Conversation, Message, Page, QuarantineItem } from '../domain/resources.ts';
import { currentStatus, statusRank, TERMINAL_STATUSES } from '../domain/status.ts';
import { isWindowOpen, windowExpiresAt } from '../domain/window.ts';
import { keys } from './dynamodb-store.ts';

type Item = Record<string, any>;

export function encodeCursor(key: Record<string, unknown> | undefined): string | null {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : null;
}

/** Decodes a cursor made by `encodeCursor`; anything else is a 400 naming the parameter. */
export function decodeCursor(cursor: string | undefined, expectedKeys: readonly string[]): Record<string, string> | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const ok =
    typeof value === 'object' &&
    value !== null &&
    expectedKeys.every((k) => typeof (value as Record<string, unknown>)[k] === 'string') &&
    Object.keys(value).length === expectedKeys.length;
  if (!ok) throw new ValidationError('cursor is not one this API returned; start again without it', { path: 'cursor' });
  return value as Record<string, string>;
}

const statusEntries = (item: Item) =>
  Object.entries(item)
    .filter(([k]) => k.startsWith('st:'))
    .map(([, v]) => v as { status: string; timestamp: string; participantId?: string; errors?: Array<Record<string, unknown>> });

/**
 * A message resource from its item, merged with the status-only items of the same message: AWS's
 * own statuses (under the id derived from the AWS send id) and statuses that named no id (under
 * the id derived from the wamid). Where two items hold the same status (of the same group member),
 * the first one given wins.
 */
export function toMessage(primary: Item, others: Item[] = []): Message {
  const byStatus = new Map<string, ReturnType<typeof statusEntries>[number]>();
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
  const metaErrors = [
    ...((primary.errors as Array<Record<string, any>>) ?? []),
    ...statuses.flatMap((s) => s.errors ?? []),
  ] as Array<{ code: number; title?: string; details?: string }>;
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
    ...(primary.contact
      ? { contact: primary.contact }
      : primary.recipientId && { contact: /^\d+$/.test(primary.recipientId) ? { waId: primary.recipientId } : { userId: primary.recipientId } }),
    ...(primary.type && { type: primary.type }),
    ...(primary.content !== undefined && { content: primary.content }),
    // A send keeps the caller's object as JSON text (see DynamoDbOutbound).
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
    ...(primary.awsMessageId && { awsMessageId: primary.awsMessageId }),
    ...(primary.callbackData && { bizOpaqueCallbackData: primary.callbackData }),
    ...(sendFailed && primary.sendError && { sendError: { code: primary.sendError.code, message: primary.sendError.message } }),
    ...(direction === 'outbound' && ['sending', 'sent', 'rejected', 'in_doubt'].includes(primary.sendState) && { sendState: primary.sendState }),
  };
}

/** A message's own record (an inbound message or a send), as opposed to an item of statuses only. */
const isRecord = (item: Item) => item.type !== undefined || item.sendState !== undefined;

/**
 * Ids of the status-only items that may hold statuses of an outbound record: the one AWS's own
 * statuses go to (derived from `awsMessageId`) and the one statuses without any id go to (derived
 * from the wamid). Both are computed, never looked up, so a page of messages costs one BatchGet.
 */
function siblingIds(item: Item): string[] {
  if (item.direction === 'inbound') return [];
  const ids = new Set<string>();
  if (typeof item.awsMessageId === 'string') ids.add(messageIdFromAwsMessageId(item.awsMessageId));
  // Known once a status with our id came; a send's statuses without any id are not expected.
  if (typeof item.wamid === 'string') ids.add(messageIdFromWamid(item.wamid));
  ids.delete(item.id);
  return [...ids];
}

const byId = (a: Item, b: Item) => String(a.id).localeCompare(String(b.id));

/** BatchGetItem takes at most this many keys. */
const BATCH_GET_MAX = 100;
const BATCH_GET_ATTEMPTS = 5;

export function toConversation(item: Item, nowMs: number): Conversation {
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

export class DynamoDbQueries {
  private readonly doc: DynamoDBDocumentClient;
  private readonly tableName: string;
  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    this.doc = doc;
    this.tableName = tableName;
  }

  private async byWamid(wamid: string): Promise<Item[]> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'GSI2',
        KeyConditionExpression: 'GSI2PK = :pk',
        ExpressionAttributeValues: { ':pk': keys.wamid(wamid) },
      }),
    );
    return out.Items ?? [];
  }

  /** Items by message id, in BatchGets of at most 100 keys; unprocessed keys are asked again. */
  private async getMany(ids: readonly string[]): Promise<Map<string, Item>> {
    const found = new Map<string, Item>();
    const unique = [...new Set(ids)];
    const chunks = Array.from({ length: Math.ceil(unique.length / BATCH_GET_MAX) }, (_, i) =>
      unique.slice(i * BATCH_GET_MAX, (i + 1) * BATCH_GET_MAX),
    );
    await Promise.all(
      chunks.map(async (chunk) => {
        let pending: Array<Record<string, unknown>> = chunk.map((id) => keys.message(id));
        for (let attempt = 1; pending.length; attempt++) {
          const out = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending } } }));
          for (const item of out.Responses?.[this.tableName] ?? []) found.set(item.id, item);
          pending = out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
          if (!pending.length) break;
          // Keys left unprocessed again and again mean the table is throttling: busy, not broken.
          if (attempt >= BATCH_GET_ATTEMPTS) throw new UnavailableError('The message store is busy: try again shortly.', 'store_unavailable');
          await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
        }
      }),
    );
    return found;
  }

  /**
   * The status-only items of each record, sorted by id: the derived ones (see `siblingIds`, one
   * BatchGet per 100 keys) and, for a send whose wamid is known, every other item of that wamid (one
   * Query each). The second way does not rely on the envelope's `messageId` being the AWS send id,
   * which no real capture confirms yet (facts §8): should it be an id per event, AWS's own statuses
   * are still found by their wamid.
   */
  private async siblingsOf(records: Item[]): Promise<Item[][]> {
    const ids = records.map((r) => siblingIds(r));
    const [found, byWamid] = await Promise.all([
      ids.some((i) => i.length) ? this.getMany(ids.flat()) : Promise.resolve(new Map<string, Item>()),
      Promise.all(records.map((r) => (r.direction !== 'inbound' && typeof r.wamid === 'string' ? this.byWamid(r.wamid) : Promise.resolve([])))),
    ]);
    return records.map((record, i) => {
      const merged = new Map<string, Item>();
      for (const id of ids[i]!) {
        const item = found.get(id);
        if (item) merged.set(id, item);
      }
      for (const item of byWamid[i]!) if (item.id !== record.id) merged.set(item.id, item);
      return [...merged.values()].sort(byId);
    });
  }

  /**
   * A message by the project's id or by wamid, with the statuses filed under other items merged
   * in: AWS's own statuses (under the id derived from the AWS send id) and statuses that named no
   * id (under the id derived from the wamid). A record by id is merged exactly as `listMessages`
   * merges it, so both show the same resource.
   */
  async getMessage(idOrWamid: string): Promise<Message | undefined> {
    if (isMessageId(idOrWamid)) {
      const item = (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.message(idOrWamid) }))).Item;
      if (!item) return undefined;
      if (isRecord(item)) return toMessage(item, (await this.siblingsOf([item]))[0]);
      // Statuses of a message with no record here: every item of its wamid.
      const others = typeof item.wamid === 'string' ? (await this.byWamid(item.wamid)).filter((o) => o.id !== item.id) : [];
      return toMessage(item, others.sort(byId));
    }
    const items = await this.byWamid(idOrWamid);
    if (!items.length) return undefined;
    // The record made by a send or an inbound message leads; then the wamid's own item; then by id.
    const ownId = messageIdFromWamid(idOrWamid);
    const rank = (i: Item) => (isRecord(i) ? 0 : i.id === ownId ? 1 : 2);
    const [primary, ...rest] = [...items].sort((a, b) => rank(a) - rank(b) || byId(a, b));
    // Every item that holds statuses of this wamid is in the index already; they merge in id
    // order, as they do by id.
    return toMessage(primary!, rest.sort(byId));
  }

  /** The raw item of a conversation (for the 24-hour window check). */
  async getConversation(phoneNumberId: string, contactId: string, nowMs: number): Promise<Conversation | undefined> {
    const item = (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.conversation(phoneNumberId, contactId) }))).Item;
    return item ? toConversation(item, nowMs) : undefined;
  }

  private async page(
    index: 'GSI1' | 'GSI2',
    pk: string,
    limit: number,
    cursor: string | undefined,
  ): Promise<{ items: Item[]; nextCursor: string | null }> {
    const p = `${index}PK`;
    const s = `${index}SK`;
    const startKey = decodeCursor(cursor, ['PK', 'SK', p, s]);
    // A cursor of another list (another conversation, or the quarantine) would be refused by
    // DynamoDB: it is the caller's mistake.
    if (startKey && (startKey[p] !== pk || Object.values(startKey).some((v) => v === ''))) {
      throw new ValidationError('cursor belongs to another list; start again without it', { path: 'cursor' });
    }
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: index,
        KeyConditionExpression: `${p} = :pk`,
        ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    );
    return { items: out.Items ?? [], nextCursor: encodeCursor(out.LastEvaluatedKey) };
  }

  async listConversations(opts: { phoneNumberId?: string; limit: number; cursor?: string; nowMs: number }): Promise<Page<Conversation>> {
    const { items, nextCursor } = opts.phoneNumberId
      ? await this.page('GSI1', keys.conversationsOf(opts.phoneNumberId), opts.limit, opts.cursor)
      : await this.page('GSI2', keys.allConversations, opts.limit, opts.cursor);
    return { items: items.map((i) => toConversation(i, opts.nowMs)), nextCursor };
  }

  async listMessages(opts: { phoneNumberId: string; contactId: string; limit: number; cursor?: string }): Promise<Page<Message>> {
    const { items, nextCursor } = await this.page('GSI1', keys.timeline(opts.phoneNumberId, opts.contactId), opts.limit, opts.cursor);
    const siblings = await this.siblingsOf(items);
    return { items: items.map((i, n) => toMessage(i, siblings[n])), nextCursor };
  }

  async listQuarantine(opts: { limit: number; cursor?: string }): Promise<Page<QuarantineItem>> {
    const { items, nextCursor } = await this.page('GSI1', keys.quarantine, opts.limit, opts.cursor);
    return {
      items: items.map((i) => ({
        id: i.id,
        receivedAt: i.receivedAt,
        reason: i.reason,
        raw: i.raw,
        ...(i.rawTruncated && { rawTruncated: true }),
        ...(i.source && { source: i.source }),
      })),
      nextCursor,
    };
  }
}
