/**
 * The single table's keys (docs/data-model.md), in one place: every item's PK/SK and every index
 * key the adapters write or query.
 *
 * No list that grows with traffic lives under one index partition key value: DynamoDB serves at
 * most 1,000 write units a second per key value (docs/capacity.md). Such a list is spread over
 * `shards` key values (`<base>#<shard>`), the shard chosen by a stable hash of what the item is
 * (a conversation by its contact, a quarantined event by its hash), so an item that moves in its
 * list stays in its shard; a reader asks every shard and merges (`shardsOf`).
 * `test/unit/capacity.test.ts` fails when a list that grows with traffic has one key value.
 */

/** FNV-1a (32 bits): a stable, fast spread of a string over `shards` buckets. */
export function shardOf(discriminator: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < discriminator.length; i++) {
    h ^= discriminator.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

/** A list spread over index partition keys `<base>#00` … `<base>#<shards-1>`. */
export interface ShardedList {
  /** The index the list is kept in. */
  readonly index: 'GSI1' | 'GSI2';
  readonly shards: number;
  /** The key value an item goes under. */
  keyOf(base: string, discriminator: string): string;
  /** Every key value of the list, for a reader that gathers them all. */
  keysOf(base: string): string[];
}

const shardLabel = (n: number) => String(n).padStart(2, '0');

function shardedList(index: ShardedList['index'], shards: number): ShardedList {
  return {
    index,
    shards,
    keyOf: (base, discriminator) => `${base}#${shardLabel(shardOf(discriminator, shards))}`,
    keysOf: (base) => Array.from({ length: shards }, (_, i) => `${base}#${shardLabel(i)}`),
  };
}

/**
 * The lists that grow with traffic, and how far each is spread. Shard counts come from the
 * capacity model (docs/capacity.md): at 10 numbers × 1,000 messages a second, no key value takes
 * more than half of DynamoDB's 1,000 write units a second. A count may be raised at any time
 * (readers ask shards 0…n-1, so the old ones stay read); lowering one would hide items.
 */
export const LISTS = {
  /** Conversations of one number, by last activity (GSI1). Every message moves one. */
  conversationsOfNumber: shardedList('GSI1', 16),
  /** Quarantined events, newest first (GSI1). */
  quarantine: shardedList('GSI1', 160),
  /** Account events of every WABA, by time (GSI1). */
  accountEvents: shardedList('GSI1', 96),
  /** Events the topic refused, parked for a replay (GSI1): an outage parks every event. */
  unpublished: shardedList('GSI1', 160),
  /** Delivery attempts of one webhook, by time (GSI1, and the table's PK): every event is one or more. */
  webhookDeliveries: shardedList('GSI1', 96),
  /** Jobs of one webhook parked after their last attempt (GSI1): an endpoint down parks every event. */
  webhookParked: shardedList('GSI1', 160),
  /** Users suppressed for one business (GSI1): every MARKETING send of a broadcast from any of its numbers may add one (131050). */
  suppressions: shardedList('GSI1', 32),
} as const;

/** Key builders: the table's layout in one place. */
export const keys = {
  message: (id: string) => ({ PK: `MSG#${id}`, SK: 'MSG' }),
  conversation: (phoneNumberId: string, contactId: string) => ({ PK: `CONV#${phoneNumberId}#${contactId}`, SK: 'CONV' }),
  /** A conversation's messages (GSI1): one key value per conversation, paced by WhatsApp's pair rate. */
  timeline: (phoneNumberId: string, contactId: string) => `CONV#${phoneNumberId}#${contactId}`,
  /** The GSI1 key of a conversation in its number's list (sharded by contact). */
  conversationsOf: (phoneNumberId: string, contactId: string) => LISTS.conversationsOfNumber.keyOf(`CONVS#${phoneNumberId}`, contactId),
  /** Every GSI1 key of a number's conversation list. */
  conversationsOfShards: (phoneNumberId: string) => LISTS.conversationsOfNumber.keysOf(`CONVS#${phoneNumberId}`),
  /** A message by wamid (GSI2): one key value per message. */
  wamid: (wamid: string) => `WAMID#${wamid}`,
  /**
   * A send record by AWS's send id (GSI2), until a status brings its wamid (which takes the key
   * over): how an item of AWS's own statuses finds its record.
   */
  awsSend: (awsMessageId: string) => `AWSSEND#${awsMessageId}`,
  /** A user's BSUID → phone (`wa_id`) on one business number, for sends addressed by BSUID. */
  alias: (phoneNumberId: string, userId: string) => ({ PK: `ALIAS#${phoneNumberId}#${userId}`, SK: 'ALIAS' }),
  /** One account event of a WABA (`ACCT#<wabaId>`), by field, time and content. */
  accountEvent: (wabaId: string, field: string, at: string, hash: string) => ({ PK: `ACCT#${wabaId}`, SK: `${field}#${at}#${hash}` }),
  /** The GSI1 key of an account event in the list of all account events (sharded by its hash). */
  accountEvents: (hash: string) => LISTS.accountEvents.keyOf('ACCOUNT_EVENTS', hash),
  accountEventsShards: () => LISTS.accountEvents.keysOf('ACCOUNT_EVENTS'),
  /** One quarantined event, by the hash of its content. */
  quarantined: (hash: string) => ({ PK: `QUAR#${hash}`, SK: 'QUAR' }),
  /** The GSI1 key of a quarantined event in the quarantine list (sharded by its hash). */
  quarantine: (hash: string) => LISTS.quarantine.keyOf('QUARANTINE', hash),
  quarantineShards: () => LISTS.quarantine.keysOf('QUARANTINE'),
  /** An event the topic refused, and its GSI1 key in the list of them (sharded by event id). */
  unpublishedEvent: (eventId: string) => ({ PK: `UNPUB#${eventId}`, SK: 'EVENT' }),
  unpublished: (eventId: string) => LISTS.unpublished.keyOf('UNPUBLISHED', eventId),
  unpublishedShards: () => LISTS.unpublished.keysOf('UNPUBLISHED'),
  /** A registered webhook, and the list of them (GSI1): one key value, as they are registered by hand. */
  webhook: (webhookId: string) => ({ PK: `WEBHOOK#${webhookId}`, SK: 'WEBHOOK' }),
  webhookList: 'WEBHOOKS',
  /** A WABA's template catalog (GSI1): one key value per WABA; written by syncs and template webhooks, not by traffic. */
  templateCatalog: (wabaId: string) => `TPL#${wabaId}`,
  /** A broadcast's recipients (GSI1), spread over its shards by the recipient's sequence number. */
  broadcastRecipients: (broadcastId: string, shard: number) => `BCASTR#${broadcastId}#${shard}`,
  /** One delivery attempt of a webhook: its table key, sharded by event id, so one busy endpoint is no hot key. */
  webhookDelivery: (webhookId: string, eventId: string, sortKey: string) => ({
    PK: LISTS.webhookDeliveries.keyOf(`WHDLV#${webhookId}`, eventId),
    SK: sortKey,
  }),
  webhookDeliveriesShards: (webhookId: string) => LISTS.webhookDeliveries.keysOf(`WHDLV#${webhookId}`),
  /** A job of a webhook parked after its last attempt; its table key and GSI1 key share the shard. */
  webhookParked: (webhookId: string, eventId: string) => {
    const pk = LISTS.webhookParked.keyOf(`WHPARKED#${webhookId}`, eventId);
    return { PK: pk, SK: `PARKED#${eventId}` };
  },
  webhookParkedShards: (webhookId: string) => LISTS.webhookParked.keysOf(`WHPARKED#${webhookId}`),
  /** A user suppressed for a business (its WABA id, or a number's id), and its GSI1 key in the list (sharded by user). */
  suppression: (listId: string, to: string) => ({ PK: `SUPP#${listId}#${to}`, SK: 'SUPP' }),
  suppressions: (listId: string, to: string) => LISTS.suppressions.keyOf(`SUPPS#${listId}`, to),
  suppressionsShards: (listId: string) => LISTS.suppressions.keysOf(`SUPPS#${listId}`),
  /** An outbound upload (with a TTL). */
  upload: (uploadId: string) => ({ PK: `UPLOAD#${uploadId}`, SK: 'UPLOAD' }),
} as const;

/**
 * The attribute holding one status of a message: `st:read`, or `st:read:<member>` for a group
 * member's own status, so each member's delivered and read is kept once.
 */
export const statusAttribute = (status: string, participantId?: string) =>
  participantId === undefined ? `st:${status}` : `st:${status}:${participantId}`;
