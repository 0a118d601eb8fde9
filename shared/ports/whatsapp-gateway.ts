/**
 * What the send use cases need from WhatsApp (AWS End User Messaging Social): send one message
 * blob, and look up a linked business number. The adapter is
 * `shared/adapters/socialmessaging-gateway.ts`; media operations live in `ports/media.ts`.
 */

/** A business number as AWS describes it (GetLinkedWhatsAppBusinessAccountPhoneNumber). */
export interface LinkedPhoneNumber {
  /** `phone-number-id-<hex>`. */
  phoneNumberId: string;
  /** `arn:aws:social-messaging:<region>:<account>:phone-number-id/<hex>`. */
  arn?: string;
  /** The display number, digits only (AWS writes it with `+` and sometimes spaces). */
  displayPhoneNumber?: string;
  metaPhoneNumberId?: string;
  /** The AWS id of its WABA (`waba-<hex>`). */
  wabaId?: string;
}

export interface WhatsAppGateway {
  /**
   * SendWhatsAppMessage: `message` is the Meta Cloud API send-message object, sent as its JSON
   * bytes. Resolves once AWS accepted it; AWS exceptions are thrown as they come (see
   * `fromAwsError`), after the client's own retries.
   */
  sendMessage(input: { phoneNumberId: string; message: Record<string, unknown>; metaApiVersion: string }): Promise<{
    /** AWS's id of the send (a UUID, not a wamid); absent only if AWS left it out. */
    awsMessageId?: string;
  }>;
  /** GetLinkedWhatsAppBusinessAccountPhoneNumber. */
  getPhoneNumber(phoneNumberId: string): Promise<LinkedPhoneNumber>;
}
