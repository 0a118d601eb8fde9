/**
 * What to do about a Meta error code (from a `failed` status, an unsupported message or a
 * value-level webhook error). Meta publishes no "retryable" flag: the table below is derived from
 * the descriptions on Meta's error-code page.
 *
 * - `retryable`: sending the same request again later can succeed without changing it.
 * - `action`: what the sender should do next:
 *   `send_template` (the 24-hour window is closed), `fix_request` (the request or the template is
 *   wrong), `wait` (a limit or an outage; try again later), `none` (nothing the sender can do).
 */

export type MetaErrorAction = 'send_template' | 'fix_request' | 'wait' | 'none';

export interface MetaErrorPolicy {
  readonly retryable: boolean;
  readonly action: MetaErrorAction;
  /** A short hint a person can act on. */
  readonly hint: string;
}

const policy = (retryable: boolean, action: MetaErrorAction, hint: string): MetaErrorPolicy => ({
  retryable,
  action,
  hint,
});

/** The classification of every Meta error code this project knows. */
export const META_ERROR_POLICY: Readonly<Record<number, MetaErrorPolicy>> = {
  0: policy(false, 'none', 'Access token problem on the WhatsApp side; the token is managed by AWS: open an AWS support case.'),
  1: policy(true, 'wait', 'Unknown WhatsApp API error; retry with backoff.'),
  2: policy(true, 'wait', 'Temporary WhatsApp service error; retry with backoff.'),
  3: policy(false, 'none', 'The app lacks the capability for this API method.'),
  4: policy(true, 'wait', 'Too many API calls from the app; slow down and retry later.'),
  10: policy(false, 'none', 'Permission denied for this operation.'),
  33: policy(false, 'none', 'The business phone number has been deleted.'),
  100: policy(false, 'fix_request', 'A request parameter is invalid or misspelled.'),
  190: policy(false, 'none', 'Access token expired; the token is managed by AWS: open an AWS support case.'),
  368: policy(false, 'none', 'The business is temporarily blocked for policy violations.'),
  80007: policy(true, 'wait', 'WhatsApp Business Account rate limit reached; retry with backoff.'),
  130429: policy(true, 'wait', 'Throughput limit of the business number reached; retry with backoff.'),
  130472: policy(false, 'none', "The user is part of a Meta marketing experiment; the message was not delivered."),
  130497: policy(false, 'none', 'The business may not message users in this country.'),
  131000: policy(true, 'wait', 'Something went wrong on the WhatsApp side; retry later.'),
  131005: policy(false, 'none', 'Permission denied.'),
  131008: policy(false, 'fix_request', 'A required parameter is missing.'),
  131009: policy(false, 'fix_request', 'A parameter value is invalid (e.g. the message reacted to or marked read is too old or unknown).'),
  131016: policy(true, 'wait', 'WhatsApp service temporarily unavailable; retry later.'),
  131021: policy(false, 'fix_request', 'The recipient cannot be the sender.'),
  131026: policy(false, 'none', 'Message undeliverable: the number may not be on WhatsApp, or the user has not accepted the terms or uses an old app.'),
  131031: policy(false, 'none', 'The business account is locked.'),
  131037: policy(false, 'none', 'The display name of the number is not approved.'),
  131042: policy(false, 'none', 'A payment or billing problem on the business account.'),
  131045: policy(false, 'none', 'The phone number registration certificate is incorrect.'),
  131047: policy(false, 'send_template', 'More than 24 hours since the user last wrote: only a template can be sent.'),
  131048: policy(false, 'none', 'Spam rate limit: too many earlier messages were blocked or flagged; improve message quality.'),
  131049: policy(false, 'wait', 'Meta did not deliver this marketing message to keep engagement healthy; wait at least 24 hours before trying again.'),
  131050: policy(false, 'none', 'The user stopped marketing messages from this business; do not resend marketing.'),
  131051: policy(false, 'fix_request', 'Unsupported message type.'),
  131052: policy(false, 'none', 'The media the user sent could not be downloaded.'),
  131053: policy(false, 'fix_request', 'The media could not be uploaded: check the file type and size.'),
  131055: policy(false, 'fix_request', 'Method not allowed: this API only accepts marketing templates.'),
  131056: policy(true, 'wait', 'Too many messages to the same user in a short time; retry after a delay.'),
  131057: policy(true, 'wait', 'The business account is in maintenance (e.g. a throughput upgrade); retry shortly.'),
  132000: policy(false, 'fix_request', 'The number of template parameters does not match the template.'),
  132001: policy(false, 'fix_request', 'The template does not exist in this language or is not approved.'),
  132005: policy(false, 'fix_request', 'The template text with its parameters is too long.'),
  132007: policy(false, 'fix_request', 'A template parameter breaks the format policy.'),
  132012: policy(false, 'fix_request', 'A template parameter has the wrong format.'),
  132015: policy(false, 'wait', 'The template is paused for low quality; send it after it is unpaused, or use another template.'),
  132016: policy(false, 'fix_request', 'The template is disabled; create a new template.'),
  132068: policy(false, 'none', 'The Flow is blocked.'),
  132069: policy(true, 'wait', 'The Flow is throttled (10 messages per hour); retry later.'),
  133004: policy(true, 'wait', 'WhatsApp server temporarily unavailable; retry later.'),
  133010: policy(false, 'none', 'The business phone number is not registered.'),
  133016: policy(true, 'wait', 'Registration rate limit reached; retry later.'),
  135000: policy(false, 'none', 'Generic user error.'),
};

/** Template errors Meta may add to the 132xxx range: the template or its parameters are wrong. */
const TEMPLATE_RANGE = policy(false, 'fix_request', 'A problem with the template or its parameters.');
const UNKNOWN = policy(false, 'none', 'Unknown WhatsApp error code; see Meta\'s error-code reference.');

/** The policy of a Meta error code; unknown codes are not retryable and need no automatic action. */
export function classifyMetaError(code: number): MetaErrorPolicy {
  const known = META_ERROR_POLICY[code];
  if (known !== undefined) return known;
  if (Number.isInteger(code) && code >= 132000 && code <= 132999) return TEMPLATE_RANGE;
  return UNKNOWN;
}
