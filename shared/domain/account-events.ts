/**
 * Webhook changes other than `messages` (facts §7.5): templates, quality, flows, account. Each is
 * kept as an account event with its raw value, under a kind from this table; a field not listed is
 * kept too, as `other`. Later features hook their own handling onto a kind here.
 */
export type AccountEventKind = 'template' | 'phone_number' | 'flow' | 'account' | 'user' | 'message_errors' | 'other';

export const ACCOUNT_EVENT_KINDS: Readonly<Record<string, AccountEventKind>> = {
  message_template_status_update: 'template',
  message_template_quality_update: 'template',
  message_template_components_update: 'template',
  template_category_update: 'template',
  phone_number_quality_update: 'phone_number',
  phone_number_name_update: 'phone_number',
  flows: 'flow',
  account_update: 'account',
  account_alerts: 'account',
  account_review_update: 'account',
  business_capability_update: 'account',
  security: 'account',
  user_preferences: 'user',
  'messages.errors': 'message_errors',
};

export function accountEventKind(field: string): AccountEventKind {
  return Object.hasOwn(ACCOUNT_EVENT_KINDS, field) ? ACCOUNT_EVENT_KINDS[field]! : 'other';
}
