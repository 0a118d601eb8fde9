/**
 * The single table's keys (docs/data-model.md), in one place: every item's PK/SK and every index
 * key the adapters write or query.
 */

/** Key builders: the table's layout in one place. */
export const keys = {
  message: (id: string) => ({ PK: `MSG#${id}`, SK: 'MSG' }),
  conversation: (phoneNumberId: string, contactId: string) => ({ PK: `CONV#${phoneNumberId}#${contactId}`, SK: 'CONV' }),
  timeline: (phoneNumberId: string, contactId: string) => `CONV#${phoneNumberId}#${contactId}`,
  conversationsOf: (phoneNumberId: string) => `CONVS#${phoneNumberId}`,
  allConversations: 'CONVS',
  wamid: (wamid: string) => `WAMID#${wamid}`,
  /** A user's BSUID → phone (`wa_id`) on one business number, for sends addressed by BSUID. */
  alias: (phoneNumberId: string, userId: string) => ({ PK: `ALIAS#${phoneNumberId}#${userId}`, SK: 'ALIAS' }),
  /** One account event of a WABA (`ACCT#<wabaId>`), by field, time and content. */
  accountEvent: (wabaId: string, field: string, at: string, hash: string) => ({ PK: `ACCT#${wabaId}`, SK: `${field}#${at}#${hash}` }),
  accountEvents: 'ACCOUNT_EVENTS',
  /** One quarantined event, by the hash of its content. */
  quarantined: (hash: string) => ({ PK: `QUAR#${hash}`, SK: 'QUAR' }),
  quarantine: 'QUARANTINE',
  /** An outbound upload (with a TTL). */
  upload: (uploadId: string) => ({ PK: `UPLOAD#${uploadId}`, SK: 'UPLOAD' }),
} as const;

/**
 * The attribute holding one status of a message: `st:read`, or `st:read:<member>` for a group
 * member's own status, so each member's delivered and read is kept once.
 */
export const statusAttribute = (status: string, participantId?: string) =>
  participantId === undefined ? `st:${status}` : `st:${status}:${participantId}`;
