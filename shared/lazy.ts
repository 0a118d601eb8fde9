/**
 * A handler's Lambda wiring (its adapters and SDK clients), imported and built on first use. A
 * module reached only through `import()` is bundled into chunks of its own (lib/bundling.ts), read
 * and run only then: so a function's cold load neither parses nor runs an SDK client module, and
 * the wiring's clients are loaded by the first invocation that needs them. A failed wiring (a missing setting) is tried
 * again by the next invocation, as before.
 */
export function onFirstUse<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () =>
    (made ??= make().catch((err: unknown) => {
      made = undefined;
      throw err;
    }));
}
