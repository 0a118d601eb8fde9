/**
 * A handler's Lambda wiring (its adapters and SDK clients), imported and built on first use. A
 * function's bundle is one file, but a module reached only through `import()` is not evaluated
 * until then (esbuild wraps it): so a function's cold load runs no SDK client module, and each path
 * loads the clients it uses when it first needs them. A failed wiring (a missing setting) is tried
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
