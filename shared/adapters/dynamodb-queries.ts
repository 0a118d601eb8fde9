/**
 * Read side of the single table: the stored records a query needs, typed, handed to the read
 * model (`domain/message-view.ts`), which turns them into API resources. Keyset pagination, stable
 * under concurrent writes: a timeline's cursor is its query's LastEvaluatedKey; a sharded list's is
 * its name and last sort key (`gatherPage`, dynamodb-lists.ts). Both are base64url-encoded.
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { messageIdFromWamid, messageIdOfSendStatuses } from '../domain/ids.ts';
import {
  hasStatusesElsewhere,
  isProjectId,
  isRecord,
  mergeSiblings,
  messageOfWamid,
  siblingIds,
  toConversation,
  toMessage,
  toQuarantineItem,
  type StoredConversation,
  type StoredMessage,
  type StoredQuarantine,
} from '../domain/message-view.ts';
import type { Conversation, Message, Page, QuarantineItem } from '../domain/resources.ts';
import type { MessageQueries } from '../ports/message-queries.ts';
import { keys, LISTS } from './dynamodb-keys.ts';
import { decodeCursor, encodeCursor, gatherPage, getItems, itemsOf, keyId } from './dynamodb-lists.ts';
import { DynamoDbTable, type TableOptions } from './dynamodb-table.ts';

export { decodeCursor, encodeCursor } from './dynamodb-lists.ts';

export class DynamoDbQueries extends DynamoDbTable implements MessageQueries {
  /** The phone numbers whose conversations the list of all conversations gathers. */
  private readonly phoneNumberIds: readonly string[];
  constructor(doc: DynamoDBDocumentClient, tableName: string, options: TableOptions & { phoneNumberIds?: readonly string[] } = {}) {
    super(doc, tableName, options);
    this.phoneNumberIds = [...new Set(options.phoneNumberIds ?? [])];
  }

  /** The items of a GSI2 key; those in `known` (already read, by message id) are not read again. */
  private async byGsi2(key: string, known: ReadonlyMap<string, StoredMessage> = new Map()): Promise<StoredMessage[]> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'GSI2',
        KeyConditionExpression: 'GSI2PK = :pk',
        ExpressionAttributeValues: { ':pk': key },
      }),
    );
    const entries = out.Items ?? [];
    const byKey = new Map([...known.values()].map((i) => [keyId(keys.message(i.id)), i]));
    const knownOf = (e: Record<string, unknown>) => byKey.get(keyId(e));
    const fresh = await itemsOf<StoredMessage>(this.doc, this.tableName, entries.filter((e) => !knownOf(e)));
    return [...entries.map(knownOf).filter((i): i is StoredMessage => i !== undefined), ...fresh];
  }

  /**
   * Every item of a wamid: a send record and status-only items through GSI2, and the item under
   * the id derived from the wamid, read by key (an inbound message has no wamid key: its id is
   * derived from its wamid; a status-only item of that id is in GSI2 too).
   */
  private async byWamid(wamid: string, known?: ReadonlyMap<string, StoredMessage>): Promise<StoredMessage[]> {
    const [indexed, derived] = await Promise.all([
      this.byGsi2(keys.wamid(wamid), known),
      this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.message(messageIdFromWamid(wamid)) })),
    ]);
    const own = derived.Item as StoredMessage | undefined;
    return own && own.wamid === wamid && !indexed.some((i) => i.id === own.id) ? [...indexed, own] : indexed;
  }

  /**
   * The Message of a wamid. When only items of statuses hold it, the item of the statuses that
   * named our id gives the send record's id (`recordId`); an item of AWS's own statuses finds the
   * record by AWS's send id. The Message is then the record's, under the id the send answered.
   */
  private async messageOfWamid(wamid: string): Promise<Message | undefined> {
    const items = await this.byWamid(wamid);
    if (!items.some(isRecord)) {
      const recordIds = [...new Set(items.map((i) => i.recordId).filter((r): r is string => typeof r === 'string'))];
      const awsIds = [...new Set(items.map((i) => i.awsMessageId).filter((a): a is string => typeof a === 'string'))];
      const [byRecordId, byAwsId] = await Promise.all([
        this.getMany(recordIds),
        recordIds.length ? Promise.resolve([]) : Promise.all(awsIds.map((a) => this.byGsi2(keys.awsSend(a)))),
      ]);
      const record = [...byRecordId.values(), ...byAwsId.flat()].find(isRecord);
      if (record) {
        // Every item of the wamid is in hand; only AWS's item may be missing (its statuses may name no wamid).
        const inHand = new Map(items.map((i) => [i.id, i]));
        const own = inHand.get(messageIdOfSendStatuses(record.id));
        const missing = siblingIds(record, own).filter((id) => !inHand.has(id) && id !== messageIdFromWamid(wamid));
        const more = missing.length ? await this.getMany(missing) : new Map<string, StoredMessage>();
        return toMessage(record, mergeSiblings(record, new Map([...inHand, ...more]), items));
      }
    }
    return messageOfWamid(wamid, items);
  }

  /** Items by message id (BatchGets of at most 100 keys). */
  private async getMany(ids: readonly string[]): Promise<Map<string, StoredMessage>> {
    const found = await getItems(this.doc, this.tableName, ids.map((id) => keys.message(id)));
    return new Map([...found.values()].map((i) => [i.id as string, i as unknown as StoredMessage]));
  }

  /**
   * The status-only items of each record, in merge order (`mergeSiblings`): the derived ones (see
   * `siblingIds`, one BatchGet per 100 keys) and, for a send whose wamid is known, every other item
   * of that wamid (one Query each). The second way does not rely on the envelope's `messageId`
   * being the AWS send id, which no real capture confirms yet (facts §8): should it be an id per
   * event, AWS's own statuses are still found by their wamid. A record written since its statuses
   * are kept beside it knows neither its wamid nor, when its send was in doubt, AWS's id: the item
   * of its statuses does, so what that item tells is read in a second round.
   */
  private async siblingsOf(records: StoredMessage[]): Promise<StoredMessage[][]> {
    const firstIds = records.map((r) => siblingIds(r));
    const ofWamid = (wamid: unknown, known?: ReadonlyMap<string, StoredMessage>) => (typeof wamid === 'string' ? this.byWamid(wamid, known) : Promise.resolve([]));
    const [found, byWamid] = await Promise.all([
      firstIds.some((i) => i.length) ? this.getMany(firstIds.flat()) : Promise.resolve(new Map<string, StoredMessage>()),
      Promise.all(records.map((r) => (hasStatusesElsewhere(r) ? ofWamid(r.wamid) : Promise.resolve([])))),
    ]);
    const own = records.map((r) => (isRecord(r) ? found.get(messageIdOfSendStatuses(r.id)) : undefined));
    // What the item beside a record told that the record did not: its wamid (every item of it is
    // then read as above, the one derived from it included) and AWS's id.
    const learnedWamid = records.map((r, i) => (r.wamid === undefined && typeof own[i]?.wamid === 'string' ? own[i]!.wamid : undefined));
    const asked = new Set(firstIds.flat());
    const laterIds = records.flatMap((r, i) =>
      siblingIds(r, own[i]).filter((id) => !asked.has(id) && (learnedWamid[i] === undefined || id !== messageIdFromWamid(learnedWamid[i]!))),
    );
    const [later, laterByWamid] = await Promise.all([
      laterIds.length ? this.getMany(laterIds) : Promise.resolve(new Map<string, StoredMessage>()),
      Promise.all(learnedWamid.map((w) => ofWamid(w, found))),
    ]);
    const all = new Map([...found, ...later]);
    return records.map((record, i) => mergeSiblings(record, all, [...byWamid[i]!, ...laterByWamid[i]!]));
  }

  /**
   * A message by the project's id or by wamid, with the statuses filed under other items merged
   * in: AWS's own statuses (under the id derived from the AWS send id) and statuses that named no
   * id (under the id derived from the wamid). A record by id is merged exactly as `listMessages`
   * merges it, so both show the same resource.
   */
  async getMessage(idOrWamid: string): Promise<Message | undefined> {
    if (isProjectId(idOrWamid)) {
      const item = (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.message(idOrWamid) }))).Item as StoredMessage | undefined;
      if (!item) return this.statusesOfMissingRecord(idOrWamid);
      if (isRecord(item)) return toMessage(item, (await this.siblingsOf([item]))[0]);
      // Statuses of a message with no record here: every item of its wamid.
      return toMessage(item, mergeSiblings(item, new Map(), typeof item.wamid === 'string' ? await this.byWamid(item.wamid) : []));
    }
    return this.messageOfWamid(idOrWamid);
  }

  /**
   * Statuses that named our id while no record is here (another deployment of the same WABA sent
   * it, or its record expired a little before them): the Message of their wamid, under that id.
   */
  private async statusesOfMissingRecord(id: string): Promise<Message | undefined> {
    const own = (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.message(messageIdOfSendStatuses(id)) }))).Item as StoredMessage | undefined;
    if (!own) return undefined;
    const items = typeof own.wamid === 'string' ? await this.byWamid(own.wamid, new Map([[own.id, own]])) : [];
    return toMessage({ ...own, id }, mergeSiblings(own, new Map(), items.filter((i) => i.id !== own.id)));
  }

  /** A conversation (for the 24-hour window check). */
  async getConversation(phoneNumberId: string, contactId: string, nowMs: number): Promise<Conversation | undefined> {
    const item = (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.conversation(phoneNumberId, contactId) }))).Item as
      | StoredConversation
      | undefined;
    return item ? toConversation(item, nowMs) : undefined;
  }

  /**
   * Conversations by last activity: of one number (its list's shards), or of every number this
   * backend serves (`phoneNumberIds`: every shard of each, merged). A conversation is in one list
   * only, its number's, so each message moves one index entry, not two.
   */
  async listConversations(opts: { phoneNumberId?: string; limit: number; cursor?: string; nowMs: number }): Promise<Page<Conversation>> {
    const numbers = opts.phoneNumberId !== undefined ? [opts.phoneNumberId] : [...this.phoneNumberIds].sort();
    const list = {
      id: opts.phoneNumberId !== undefined ? `CONVS#${opts.phoneNumberId}` : 'CONVSALL',
      index: LISTS.conversationsOfNumber.index,
      keys: numbers.flatMap((n) => keys.conversationsOfShards(n)),
    };
    const { items, nextCursor } = await gatherPage<StoredConversation>(this.doc, this.tableName, list, { limit: opts.limit, cursor: opts.cursor, newestFirst: true });
    return { items: items.map((i) => toConversation(i, opts.nowMs)), nextCursor };
  }

  async listMessages(opts: { phoneNumberId: string; contactId: string; limit: number; cursor?: string }): Promise<Page<Message>> {
    const { items, nextCursor } = await this.page<StoredMessage>('GSI1', keys.timeline(opts.phoneNumberId, opts.contactId), opts.limit, opts.cursor);
    const siblings = await this.siblingsOf(items);
    return { items: items.map((i, n) => toMessage(i, siblings[n])), nextCursor };
  }

  async listQuarantine(opts: { limit: number; cursor?: string }): Promise<Page<QuarantineItem>> {
    const list = { id: 'QUARANTINE', index: LISTS.quarantine.index, keys: keys.quarantineShards() };
    const { items, nextCursor } = await gatherPage<StoredQuarantine>(this.doc, this.tableName, list, { limit: opts.limit, cursor: opts.cursor, newestFirst: true });
    return { items: items.map(toQuarantineItem), nextCursor };
  }
}
