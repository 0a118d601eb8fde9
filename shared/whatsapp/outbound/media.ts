/** Text, media, reaction and location objects of an outbound message. */
import * as z from 'zod';
import { OUTBOUND_LIMITS, type MediaKind } from './limits.ts';
import { chars, httpUrl, idXorLink, latitude, longitude, mediaId, objectError } from './fields.ts';

export const TextObject = z.strictObject(
  {
    body: chars('text body', OUTBOUND_LIMITS.textBody),
    preview_url: z.boolean({ error: 'text.preview_url must be true or false' }).optional(),
  },
  { error: objectError('text') },
);

export function mediaObject(kind: MediaKind, label: string = kind) {
  const base = {
    id: mediaId(`${label} id`).optional(),
    link: httpUrl(`${label} link`).optional(),
  };
  const schema = (() => {
    switch (kind) {
      case 'image':
      case 'video':
        return z.strictObject(
          { ...base, caption: chars(`${label} caption`, OUTBOUND_LIMITS.mediaCaption).optional() },
          { error: objectError(label) },
        );
      case 'document':
        return z.strictObject(
          {
            ...base,
            caption: chars(`${label} caption`, OUTBOUND_LIMITS.mediaCaption).optional(),
            filename: chars(`${label} filename`, OUTBOUND_LIMITS.documentFilename).optional(),
          },
          { error: objectError(label) },
        );
      case 'audio':
        return z.strictObject(
          { ...base, voice: z.boolean({ error: 'audio.voice must be true or false' }).optional() },
          { error: objectError(label) },
        );
      case 'sticker':
        return z.strictObject(base, { error: objectError(label) });
    }
  })();
  return schema.check(idXorLink(label));
}

/** Made on first use: building a segmenter loads ICU's break data, which every cold start would pay. */
let emojiSegmenter: Intl.Segmenter | undefined;
export const EMOJI_CHAR = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u;

/** One emoji (a single grapheme containing a pictograph, flag or keycap), or "" to remove the reaction. */
export function isReactionEmoji(s: string): boolean {
  if (s === '') return true;
  let graphemes = 0;
  for (const _ of (emojiSegmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' })).segment(s)) if (++graphemes > 1) return false;
  return EMOJI_CHAR.test(s);
}

export const ReactionObject = z.strictObject(
  {
    message_id: chars('reaction message_id (the wamid reacted to)'),
    emoji: z
      .string({ error: 'reaction emoji must be a string' })
      .refine(isReactionEmoji, { error: 'reaction emoji must be a single emoji, or "" to remove the reaction' })
      .optional(),
  },
  { error: objectError('reaction') },
);

export const LocationObject = z.strictObject(
  {
    latitude,
    longitude,
    name: chars('location name').optional(),
    address: chars('location address').optional(),
  },
  { error: objectError('location') },
);
