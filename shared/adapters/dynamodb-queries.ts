/**
 * Read side of the single table: items → API resources. Cursors are the query's
 * LastEvaluatedKey, base64url-encoded (keyset pagination: stable under concurrent writes).
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../domain/errors.ts';
import { isMessageId } from '../domain/ids.ts';
import { publicMedia } from '../domain/media-jobs.ts';
import { classifyMetaError } from '../domain/meta-errors.ts';
import type { Conversation, Message, Page, QuarantineItem } from '../domain/resources.ts';
import { currentStatus, STATUS_RANK } from '../domain/status.ts';
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
    .map(([, v]) => v as { status: string; timestamp: string; errors?: Array<Record<string, unknown>> });

/**
 * A message resource from its item, merged with other items of the same wamid (statuses of a
 * message filed before its record existed, under the id derived from the wamid).
 */
export function toMessage(primary: Item, others: Item[] = []): Message {
  const byStatus = new Map<string, ReturnType<typeof statusEntries>[number]>();
  for (const item of [primary, ...others]) for (const e of statusEntries(item)) if (!byStatus.has(e.status)) byStatus.set(e.status, e);
  const statuses = [...byStatus.values()].sort(
    (a, b) => a.timestamp.localeCompare(b.timestamp) || (STATUS_RANK[a.status] ?? 9) - (STATUS_RANK[b.status] ?? 9),
  );
  const direction: 'inbound' | 'outbound' = primary.direction === 'inbound' ? 'inbound' : 'outbound';
  const metaErrors = [
    ...((primary.errors as Array<Record<string, any>>) ?? []),
    ...statuses.flatMap((s) => s.errors ?? []),
  ] as Array<{ code: number; title?: string; details?: string }>;
  // A send AWS refused (rejected, or throttled/failed and not yet taken over by a retry) never got a status.
  const sendFailed = primary.sendState === 'rejected' || primary.sendState === 'retryable_failure';
  const status = direction === 'inbound' ? 'received' : (currentStatus(byStatus.keys()) ?? (sendFailed ? 'failed' : 'accepted'));
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
  };
}

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

  /** A message by the project's id or by wamid, with statuses filed under the other key merged in. */
  async getMessage(idOrWamid: string): Promise<Message | undefined> {
    if (isMessageId(idOrWamid)) {
      const item = (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.message(idOrWamid) }))).Item;
      if (!item) return undefined;
      const others = item.wamid ? (await this.byWamid(item.wamid)).filter((o) => o.id !== item.id) : [];
      return toMessage(item, others);
    }
    const items = await this.byWamid(idOrWamid);
    if (!items.length) return undefined;
    // The record made by a send or an inbound message leads; status-only items follow.
    const [primary, ...others] = [...items].sort((a, b) => Number(b.GSI1PK !== undefined) - Number(a.GSI1PK !== undefined));
    return toMessage(primary!, others);
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
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: index,
        KeyConditionExpression: `${p} = :pk`,
        ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor, ['PK', 'SK', p, s]),
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
    return { items: items.map((i) => toMessage(i)), nextCursor };
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
