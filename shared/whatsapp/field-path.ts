/**
 * The `details.path` of a validation error: `interactive.action.buttons.1.reply.title`. A key that
 * is not a plain name (a dot, a space, an empty key…) is written `["a.b"]`, so every path reads back
 * to exactly one field.
 */
export function fieldPath(segments: readonly PropertyKey[]): string {
  return segments
    .map((s, i) => {
      const key = String(s);
      if (typeof s === 'number' || /^[\w$-]+$/.test(key)) return i === 0 ? key : `.${key}`;
      return `[${JSON.stringify(key)}]`;
    })
    .join('');
}
