/**
 * Powertools Tracer, from one module: a subsegment per invocation (annotated with the cold start
 * and the service) and one per AWS SDK call of every client built by `adapters/aws-clients.ts`.
 *
 * Cold start: the Tracer brings the X-Ray SDK, whose import is the costliest of the Powertools
 * utilities. It is imported only where traces go somewhere: in Lambda (the stack turns active
 * tracing on), unless `POWERTOOLS_TRACE_ENABLED=false`. The local runtime never loads it; the tests
 * load it only in the child process of `test/unit/tracing.test.ts`, which runs as in Lambda, and the
 * bench where it measures cold loads (`POWERTOOLS_TRACE_ENABLED=true`). Outgoing HTTP requests
 * other than the SDK's are not captured: a webhook URL may carry its receiver's secret in its
 * query, and a trace must not keep it.
 */
import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import { SERVICE_NAME } from './metric-names.ts';
import { logger, safeError } from './observability.ts';

/** Whether this process sends traces: in Lambda by default, never elsewhere unless asked. */
export function tracingWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const flag = env.POWERTOOLS_TRACE_ENABLED;
  if (flag !== undefined && flag !== '') return flag !== 'false' && flag !== '0';
  return env.AWS_LAMBDA_FUNCTION_NAME !== undefined;
}

/** The tracer of this process, or `undefined` where nothing is traced (not even loaded). */
export const tracer: Tracer | undefined = tracingWanted()
  ? new (await import('@aws-lambda-powertools/tracer')).Tracer({
      serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME,
      captureHTTPsRequests: false,
    })
  : undefined;

/** An SDK client whose calls become subsegments (the client itself where nothing is traced). */
export function traced<C extends object>(client: C): C {
  return tracer?.isTracingEnabled() ? tracer.captureAWSv3Client(client) : client;
}

/**
 * A Lambda handler with the invocation's context on every log line (`function_request_id`,
 * `cold_start`) and, where traced, its own subsegment `## <name>`. An error is recorded on the
 * subsegment without what could identify a user (phone-like digits masked), then rethrown. The
 * answer is never put on the trace: it may hold message bodies.
 */
export function instrumented<E, R>(name: string, fn: (event: E, context: Context) => Promise<R>): (event: E, context: Context) => Promise<R> {
  return async (event, context) => {
    if (context) logger.addContext(context);
    const parent = tracer?.isTracingEnabled() ? tracer.getSegment() : undefined;
    if (!tracer || !parent) return fn(event, context);
    const sub = parent.addNewSubsegment(`## ${name}`);
    tracer.setSegment(sub);
    tracer.annotateColdStart();
    tracer.addServiceNameAnnotation();
    try {
      return await fn(event, context);
    } catch (err) {
      const safe = safeError(err);
      tracer.addErrorAsMetadata(Object.assign(new Error(safe.message), { name: safe.name }));
      throw err;
    } finally {
      sub.close();
      tracer.setSegment(parent);
    }
  };
}
