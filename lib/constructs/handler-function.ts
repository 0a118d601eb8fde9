import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Code, Function as LambdaFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../shared/metric-names.ts';
import { LAMBDA_RUNTIME } from '../../shared/resource-spec.ts';
import { ensureBundles } from '../bundling.ts';
import { LOG_RETENTION } from '../defaults.ts';

const RUNTIMES: Readonly<Record<number, Runtime>> = { 24: Runtime.NODEJS_24_X };
const ARCHITECTURES: Readonly<Record<string, Architecture>> = {
  arm64: Architecture.ARM_64,
  x86_64: Architecture.X86_64,
};


/** The asset folder of a function's bundle (built first when missing in a checkout). */
function bundleOf(handler: string): string {
  const dir = (ensureBundles() as Readonly<Record<string, string>>)[handler];
  if (dir === undefined) throw new Error(`No function "${handler}" under lambdas/ (see FUNCTION_HANDLERS in lib/bundling.ts)`);
  return dir;
}

/** Properties of {@link HandlerFunction}. */
export interface HandlerFunctionProps {
  /** Folder under `lambdas/` whose `handler.ts` exports `handler`; deployed from its bundle. */
  readonly handler: string;
  /** Function timeout. */
  readonly timeout: Duration;
  /**
   * Extra environment variables (the Powertools ones are always set).
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Memory in MB.
   * @default LAMBDA_RUNTIME.memoryMb of the resource spec
   */
  readonly memorySize?: number;
  /**
   * How long the function's logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.DESTROY
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Function description.
   * @default - none
   */
  readonly description?: string;
}

/**
 * A Lambda function built the house way from `lambdas/<handler>/handler.ts`: Node runtime and
 * architecture from the resource spec, the code the bundle `npm run bundle` writes
 * (`dist/lambdas/<handler>/`: the entry `index.mjs` and its chunks, minified ESM, no source maps, the AWS SDK bundled in;
 * built now if missing in a checkout), X-Ray tracing, its own log group with a retention, and its own role
 * that may write only to that log group (no managed policy). Callers add what else it may do.
 */
export class HandlerFunction extends Construct {
  readonly function: LambdaFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    const runtime = RUNTIMES[LAMBDA_RUNTIME.nodeMajor];
    const architecture = ARCHITECTURES[LAMBDA_RUNTIME.architecture];
    if (!runtime || !architecture) {
      throw new Error(
        `No Lambda runtime mapping for node ${LAMBDA_RUNTIME.nodeMajor} on ${LAMBDA_RUNTIME.architecture}`,
      );
    }

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? LOG_RETENTION,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.role = new Role(this, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    this.logGroup.grantWrite(this.role);

    this.function = new LambdaFunction(this, 'Function', {
      code: Code.fromAsset(bundleOf(props.handler)),
      handler: 'index.handler',
      runtime,
      architecture,
      memorySize: props.memorySize ?? LAMBDA_RUNTIME.memoryMb,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      tracing: Tracing.ACTIVE,
      description: props.description,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...props.environment,
      },
    });

    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which have no resource-level permissions.',
    });
  }
}
