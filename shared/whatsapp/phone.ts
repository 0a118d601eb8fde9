/** Digits of a phone number as WhatsApp's `wa_id` writes them (no `+`, spaces or dashes). */
export function phoneDigits(phone: string): string {
  return phone.replace(/[^0-9]/g, '');
}
