/** Small building blocks of the outbound schemas: counted strings, URLs, media ids, unique keys, and the wording of type errors. */
import * as z from 'zod';
import { OUTBOUND_LIMITS } from './limits.ts';
import { unreachableHostReason } from '../public-url.ts';

/** Number of Unicode code points. */
export function charCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export const list = (values: readonly string[]): string => values.join(', ');

/**
 * A string of 1..max characters (code points). `label` starts the sentence of every message, e.g.
 * "reply button titles must be at most 20 characters (got 23)".
 */
export function chars(label: string, max: number = Number.POSITIVE_INFINITY) {
  return z
    .string({ error: typeError(label, 'a string') })
    .check((ctx) => {
      const n = charCount(ctx.value);
      if (n === 0) {
        ctx.issues.push({ code: 'custom', input: ctx.value, message: `${label} must not be empty` });
      } else if (n > max) {
        ctx.issues.push({
          code: 'custom',
          input: ctx.value,
          message: `${label} must be at most ${max} characters (got ${n})`,
        });
      }
    });
}

export function httpUrl(label: string) {
  return z
    .string({ error: typeError(label, 'a string') })
    .check((ctx) => {
      const ok = URL.canParse(ctx.value) && /^https?:$/.test(new URL(ctx.value).protocol);
      if (!ok) {
        ctx.issues.push({ code: 'custom', input: ctx.value, message: `${label} must be an http or https URL` });
        return;
      }
      // Meta downloads the link from the internet: a host it can never reach is refused here.
      const unreachable = unreachableHostReason(ctx.value);
      if (unreachable) {
        ctx.issues.push({ code: 'custom', input: ctx.value, message: `${label} must be a public URL Meta can fetch: it ${unreachable}` });
      }
    });
}

export function mediaId(label: string) {
  return z
    .string({ error: `${label} must be a string` })
    .regex(new RegExp(`^[A-Za-z0-9]{1,${OUTBOUND_LIMITS.mediaIdLength}}$`), {
      error: `${label} must be a WhatsApp media id (letters and digits, as returned by the media upload)`,
    });
}

/** `id` XOR `link`, reported on the object (neither) or on `link` (both). */
export function idXorLink(label: string) {
  return (ctx: { value: { id?: unknown; link?: unknown }; issues: z.core.$ZodRawIssue[] }) => {
    const hasId = ctx.value.id !== undefined;
    const hasLink = ctx.value.link !== undefined;
    if (hasId && hasLink) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        path: ['link'],
        message: `${label} takes either an id or a link, not both`,
      });
    } else if (!hasId && !hasLink) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `${label} needs an id (an uploaded media id) or a link (an http or https URL)`,
      });
    }
  };
}

/** Pushes an error at `path` when a value appears twice. */
export function requireUnique(
  ctx: { value: unknown; issues: z.core.$ZodRawIssue[] },
  entries: ReadonlyArray<{ value: string; path: PropertyKey[] }>,
  what: string,
): void {
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.value)) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        path: e.path,
        message: `${what} must be unique ("${e.value}" is used more than once)`,
      });
      return;
    }
    seen.add(e.value);
  }
}

/**
 * A schema-level error function also receives the schema's other issues (unknown keys, sizes);
 * these wordings are for a missing or mistyped value only and leave the rest to their own messages.
 */
export const typeError =
  (label: string, expected: string) =>
  (iss: { code: string; input?: unknown }): string | undefined => {
    if (iss.code !== 'invalid_type') return undefined;
    return iss.input === undefined ? `${label} is required` : `${label} must be ${expected}`;
  };
export const objectError = (label: string) => typeError(label, 'an object');

/** Error function of a union discriminated on `type`: missing value, not an object, unknown type. */
export const unionError =
  (label: string, types: readonly string[], missing = `${label} is required`) =>
  (iss: { code: string; input?: unknown }): string | undefined => {
    if (iss.code === 'invalid_type') return iss.input === undefined ? missing : `${label} must be an object`;
    if (iss.code !== 'invalid_union') return undefined;
    const t = (iss.input as { type?: unknown } | undefined)?.type;
    return t === undefined
      ? `${label} type is required: one of ${list(types)}`
      : `${label} type must be one of ${list(types)} (got ${JSON.stringify(t)})`;
  };

export const arrayOf = <T extends z.ZodType>(item: T, label: string, min: number, max = Number.POSITIVE_INFINITY) =>
  z
    .array(item, { error: typeError(label, 'an array') })
    .min(min, { error: min === 1 ? `${label} must not be empty` : `${label} needs at least ${min} entries` })
    .max(max, { error: (iss) => `${label} can have at most ${max} entries (got ${(iss.input as unknown[]).length})` });

export const latitude = z
  .union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/)], {
    error: 'latitude must be a number between -90 and 90',
  })
  .refine((v) => Math.abs(Number(v)) <= 90, { error: 'latitude must be between -90 and 90' });
export const longitude = z
  .union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/)], {
    error: 'longitude must be a number between -180 and 180',
  })
  .refine((v) => Math.abs(Number(v)) <= 180, { error: 'longitude must be between -180 and 180' });
