/**
 * Records every AWS SDK command sent in this process while a function's code runs, with the name
 * of that function. Every SDK v3 client (the document client included) sends through
 * `Client.prototype.send` of `@smithy/core/client`, so wrapping it sees the commands of clients the
 * handlers build themselves; an AsyncLocalStorage context, entered around each handler call, says
 * which function's code sent it. Commands sent outside a handler (the local runtime's pollers and
 * provisioning, the test's own clients) carry no function and are not kept.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Client } from '@smithy/core/client';

export interface RecordedCommand {
  /** The function whose code sent it (`api`, `inbound`, `media`, `events`, `webhooks`). */
  fn: string;
  /** The client's service id (`DynamoDB`, `SQS`, `S3`, `SNS`, `KMS`, `SocialMessaging`). */
  service: string;
  /** The operation (`PutItem`, `SendMessage`, …); for a document-client command, the operation it sends. */
  operation: string;
  input: Record<string, any>;
  /** How long the call took to settle (answer or error), in ms; absent while it runs. */
  ms?: number;
}

const current = new AsyncLocalStorage<string>();
const recorded: RecordedCommand[] = [];
let installed = false;

/** Starts recording (once per process). */
export function installSdkRecorder(): void {
  if (installed) return;
  installed = true;
  const send = Client.prototype.send;
  Client.prototype.send = function (this: Client<any, any, any, any>, command: any, ...rest: any[]) {
    const fn = current.getStore();
    const out = (send as (...a: any[]) => any).call(this, command, ...rest);
    if (fn !== undefined) {
      const sent = command.clientCommand ?? command;
      const entry: RecordedCommand = {
        fn,
        service: String((this.config as { serviceId?: string }).serviceId),
        operation: String(sent.constructor.name).replace(/Command$/, ''),
        input: command.input ?? {},
      };
      recorded.push(entry);
      const startedAt = performance.now();
      if (out instanceof Promise) {
        const settled = () => {
          entry.ms = performance.now() - startedAt;
        };
        out.then(settled, settled);
      }
    }
    return out;
  } as typeof Client.prototype.send;
}

/** A handler whose SDK commands are recorded under `fn`. */
export function recordedAs<A extends unknown[], R>(fn: string, handler: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return (...args) => current.run(fn, () => handler(...args));
}

/** Everything recorded so far. */
export function recordedCommands(): readonly RecordedCommand[] {
  return recorded;
}
