/** The `contacts` object of an outbound message (contact cards). */
import * as z from 'zod';
import { arrayOf, chars, objectError, typeError } from './fields.ts';

export const HOME_WORK = z.enum(['HOME', 'WORK'], { error: 'type must be HOME or WORK' });

export const isCalendarDate = (s: string): boolean => {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s);
};

export const ContactCard = z.strictObject(
  {
    name: z.strictObject(
      {
        formatted_name: chars('contact name.formatted_name'),
        first_name: chars('contact first_name').optional(),
        last_name: chars('contact last_name').optional(),
        middle_name: chars('contact middle_name').optional(),
        suffix: chars('contact suffix').optional(),
        prefix: chars('contact prefix').optional(),
      },
      { error: typeError('contact name (with formatted_name)', 'an object') },
    ),
    phones: arrayOf(
      z.strictObject({
        phone: chars('contact phone'),
        type: chars('contact phone type').optional(),
        wa_id: z.string().regex(/^\d+$/, { error: 'contact phone wa_id must be digits' }).optional(),
      }),
      'contact phones',
      1,
    ).optional(),
    emails: arrayOf(
      z.strictObject({ email: chars('contact email'), type: HOME_WORK.optional() }),
      'contact emails',
      1,
    ).optional(),
    urls: arrayOf(
      z.strictObject({ url: chars('contact url'), type: HOME_WORK.optional() }),
      'contact urls',
      1,
    ).optional(),
    addresses: arrayOf(
      z.strictObject({
        street: chars('address street').optional(),
        city: chars('address city').optional(),
        state: chars('address state').optional(),
        zip: chars('address zip').optional(),
        country: chars('address country').optional(),
        country_code: z
          .string()
          .regex(/^[A-Za-z]{2}$/, { error: 'address country_code must be a two-letter ISO country code' })
          .optional(),
        type: HOME_WORK.optional(),
      }),
      'contact addresses',
      1,
    ).optional(),
    org: z
      .strictObject({
        company: chars('org company').optional(),
        department: chars('org department').optional(),
        title: chars('org title').optional(),
      })
      .optional(),
    birthday: z
      .string()
      .refine(isCalendarDate, { error: 'contact birthday must be a date written YYYY-MM-DD' })
      .optional(),
  },
  { error: objectError('contact') },
);
