/** A broadcast counter's attribute name from a status or an error code (letters, digits, `_` only). */
export const counterName = (prefix: 'st' | 'fc', value: string) => `${prefix}_${value.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 60)}`;
