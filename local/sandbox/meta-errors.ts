/**
 * Meta's error objects as they appear in webhooks (`statuses[].errors[]`, unsupported messages),
 * for the failures the sandbox simulates.
 */
export interface MetaErrorObject {
  code: number;
  title: string;
  message: string;
  error_data: { details: string };
  href: string;
}

const HREF = '/documentation/business-messaging/whatsapp/support/error-codes';

const META_ERRORS: Readonly<Record<number, { title: string; details: string }>> = {
  130429: { title: 'Rate limit hit', details: 'Cloud API message throughput has been reached.' },
  131008: { title: 'Required parameter is missing', details: 'The request is missing a required parameter.' },
  131021: { title: 'Recipient cannot be sender', details: 'Sender and recipient phone number is the same.' },
  131026: {
    title: 'Message undeliverable',
    details: 'Unable to deliver message. The recipient may not be a WhatsApp user or has not accepted the latest terms.',
  },
  131047: {
    title: 'Re-engagement message',
    details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
  },
  131048: {
    title: 'Spam rate limit hit',
    details: 'Message failed to send because there are restrictions on how many messages can be sent from this phone number.',
  },
  131051: { title: 'Message type unknown', details: 'Message type is currently not supported.' },
  131053: { title: 'Media upload error', details: 'Unable to upload the media used in the message.' },
  132000: { title: 'Number of parameters does not match the expected number of params', details: 'The number of template parameters does not match the template.' },
  132001: { title: 'Template does not exist', details: 'The template does not exist in the specified language or the template has not been approved.' },
  132012: { title: 'Parameter format does not match format in the created template', details: 'The template parameters do not match its format.' },
  132015: { title: 'Template is Paused', details: 'The template is paused due to low quality so it cannot be sent in a template message.' },
  132016: { title: 'Template is Disabled', details: 'The template has been paused too many times due to low quality and is now permanently disabled.' },
  131056: {
    title: '(Business Account, Consumer Account) pair rate limit hit',
    details: 'Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.',
  },
};

/** The webhook error object of `code`; `details` overrides Meta's generic text. */
export function metaError(code: number, details?: string): MetaErrorObject {
  const known = META_ERRORS[code];
  const title = known?.title ?? 'Unknown error';
  return { code, title, message: title, error_data: { details: details ?? known?.details ?? title }, href: HREF };
}
