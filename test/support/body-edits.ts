/** Near-valid request bodies for property tests: a fixture with a few random edits. */
import fc from 'fast-check';

/**
 * One edit of a JSON body. `pick` chooses a node (modulo the number of nodes); the node is
 * replaced by `value`, or deleted when `value` is undefined. With `addKey`, `value` is instead
 * added under that key to the object holding the node (when it is an object, not an array).
 */
export type BodyEdit = [pick: number, value: unknown, addKey?: string];

/** Every path inside a JSON value (objects and arrays included), root excluded. */
function pathsOf(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(value)) return value.flatMap((v, i) => [[...prefix, i], ...pathsOf(v, [...prefix, i])]);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => [[...prefix, k], ...pathsOf(v, [...prefix, k])]);
  }
  return [];
}

/** A copy of `body` with one edit applied. */
export function editBody(body: Record<string, unknown>, [pick, value, addKey]: BodyEdit): Record<string, unknown> {
  const copy = structuredClone(body);
  const paths = pathsOf(copy);
  const path = paths[pick % paths.length]!;
  let cur: any = copy;
  for (const k of path.slice(0, -1)) cur = cur[k];
  const last = path[path.length - 1]!;
  if (addKey !== undefined && typeof cur === 'object' && !Array.isArray(cur)) cur[addKey] = value;
  else if (value === undefined) {
    if (Array.isArray(cur)) cur.splice(Number(last), 1);
    else delete cur[last];
  } else cur[last] = value;
  return copy;
}

/** One of the fixtures with a few edits applied in turn (with none, the fixture itself). */
export function editedFixture(
  fixtures: readonly Record<string, unknown>[],
  edit: fc.Arbitrary<BodyEdit>,
  edits: { minLength?: number; maxLength: number },
): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .tuple(fc.constantFrom(...fixtures), fc.array(edit, edits))
    .map(([fixture, list]) => list.reduce((body, e) => editBody(body, e), fixture));
}
