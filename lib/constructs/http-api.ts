import { ArnFormat, Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  AuthorizationType,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  type MethodOptions,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { HandlerFunction } from './handler-function.ts';
import type { MediaStore } from './media-store.ts';
import type { MessageStore, TableAccess } from './message-store.ts';
import { grantPhoneNumberActions } from './phone-numbers.ts';
import { DATA_REMOVAL_POLICY, KEY_ROTATION, LOG_RETENTION } from '../defaults.ts';

/** API Gateway's REST integration timeout is 29 s; the function stops a little earlier. */
const API_FUNCTION_TIMEOUT = Duration.seconds(28);

/**
 * The table calls of the API handler. Reads (DynamoDbQueries, DynamoDbOutbound, DynamoDbMediaRecords):
 * GetItem, BatchGetItem (statuses filed under another id of the same message, merged in), Query on
 * GSI1 (timelines, conversations by number, quarantine) and GSI2 (by wamid, all conversations).
 * Writes: conditional Puts (send records, uploads), conditional Updates (send and upload states), a
 * transaction of two Updates (a sent message and its conversation) and one conditional Delete (a
 * send AWS throttled removes its own `sending` record, so the caller may retry). No Scan, no batch write.
 */
export const API_TABLE_ACCESS: TableAccess = {
  items: ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem', 'DeleteItem'],
  queryIndexes: ['GSI1', 'GSI2'],
};

/** What the API function may do on the configured phone numbers, and nothing else there. */
export const API_PHONE_NUMBER_ACTIONS = [
  'SendWhatsAppMessage',
  'PostWhatsAppMessageMedia',
  'GetLinkedWhatsAppBusinessAccountPhoneNumber',
] as const;

/** The tunable settings of {@link HttpApi} (what a backend passes through as `apiOptions`). */
export interface HttpApiOptions {
  /**
   * The Meta Graph API version passed with each send (`v<major>.<minor>`).
   * @default 'v24.0'
   */
  readonly metaApiVersion?: string;
  /**
   * Steady-state requests per second the stage accepts before answering 429.
   * @default 100
   */
  readonly throttlingRateLimit?: number;
  /**
   * Requests the stage accepts in a burst above the steady rate.
   * @default 200
   */
  readonly throttlingBurstLimit?: number;
  /**
   * Name of the deployed stage (the first path segment of the API URL).
   * @default 'prod'
   */
  readonly stageName?: string;
  /**
   * Whether the stack sets the account's API Gateway CloudWatch role, which API Gateway needs to
   * write access and execution logs. It is one setting per account and Region: turn this off when
   * the account already has one.
   * @default true
   */
  readonly cloudWatchRole?: boolean;
  /**
   * ARN of a regional AWS WAF web ACL to associate with the stage.
   * @default - none: only IAM authorization guards the API
   */
  readonly webAclArn?: string;
  /**
   * Whether access log lines carry the request path. Paths can hold a user's phone number
   * (`/v1/conversations/{phoneNumberId}/{contactId}/messages`), so they are left out by default;
   * the function's own logs name the route.
   * @default false
   */
  readonly accessLogIncludesPath?: boolean;
}

/** Properties of {@link HttpApi}. */
export interface HttpApiProps extends HttpApiOptions {
  /** The message table the API reads and writes. */
  readonly store: MessageStore;
  /** The media bucket: outbound uploads and stored inbound media. */
  readonly media: MediaStore;
  /**
   * AWS phone number ids (`phone-number-id-<hex>`) the API may send from and upload media for.
   * @default - none: the API may not send at all
   */
  readonly phoneNumberIds?: readonly string[];
  /**
   * How long the function's logs and the access logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the access log group and its key when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The HTTP API of api-contract.md §3 as an API Gateway REST API: every path (`/` and `{proxy+}`,
 * any method) goes to the `api` function as a Lambda proxy request, and every method requires IAM
 * (SigV4) authorization; there are no CORS preflight methods, which would have to be open.
 *
 * The regional stage throttles, traces with X-Ray, writes JSON access logs (no bodies, no path
 * unless asked) to a KMS-encrypted log group, and execution logs at ERROR level only, without
 * request or response data.
 *
 * The function may make the table calls of {@link API_TABLE_ACCESS} only, send and upload media on
 * the configured phone numbers only, write and read `outbound/*` uploads and read `inbound/*` media.
 */
export class HttpApi extends Construct {
  readonly api: RestApi;
  readonly function: LambdaFunction;
  readonly accessLogGroup: LogGroup;
  readonly accessLogKey: Key;

  constructor(scope: Construct, id: string, props: HttpApiProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const phoneNumberIds = [...(props.phoneNumberIds ?? [])];
    const removalPolicy = props.removalPolicy ?? DATA_REMOVAL_POLICY;
    const metaApiVersion = props.metaApiVersion ?? 'v24.0';
    if (!/^v\d+\.\d+$/.test(metaApiVersion)) {
      throw new Error(`metaApiVersion must look like v<major>.<minor>, got "${metaApiVersion}"`);
    }

    const handler = new HandlerFunction(this, 'Handler', {
      handler: 'api',
      timeout: API_FUNCTION_TIMEOUT,
      logRetention: props.logRetention,
      description: 'WhatsApp backend HTTP API',
      // Each variable next to the permission that makes it usable.
      environment: {
        TABLE_NAME: props.store.table.tableName,
        MEDIA_BUCKET: props.media.bucket.bucketName,
        PHONE_NUMBER_IDS: phoneNumberIds.join(','),
        META_API_VERSION: metaApiVersion,
        ...props.store.retentionEnvironment(),
      },
    });
    this.function = handler.function;
    props.store.grantItemAccess(this.function, API_TABLE_ACCESS);
    props.media.grantOutboundReadWrite(this.function);
    props.media.grantInboundRead(this.function);
    grantPhoneNumberActions(this, this.function, phoneNumberIds, API_PHONE_NUMBER_ACTIONS);

    this.accessLogKey = new Key(this, 'AccessLogKey', {
      description: 'Encrypts the WhatsApp backend API access logs',
      ...KEY_ROTATION,
      removalPolicy,
    });
    this.accessLogKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchLogsForThisAccount',
        principals: [new ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: [
          'kms:Decrypt',
          'kms:DescribeKey',
          'kms:Encrypt',
          'kms:GenerateDataKey',
          'kms:GenerateDataKeyWithoutPlaintext',
          'kms:ReEncryptFrom',
          'kms:ReEncryptTo',
        ],
        resources: ['*'],
        // The log group's own ARN cannot be named here (it depends on the key): any log group of
        // this account and Region.
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    this.accessLogGroup = new LogGroup(this, 'AccessLogs', {
      encryptionKey: this.accessLogKey,
      retention: props.logRetention ?? LOG_RETENTION,
      removalPolicy,
    });

    const integration = new LambdaIntegration(this.function, { proxy: true, allowTestInvoke: false });
    this.api = new RestApi(this, 'Api', {
      description: 'WhatsApp backend HTTP API (IAM authorization)',
      // API Gateway's metrics are keyed by API name and stage: a name of its own per stack keeps
      // the alarms of two backends in one account and region apart.
      restApiName: Names.uniqueResourceName(this, { maxLength: 64 }),
      endpointTypes: [EndpointType.REGIONAL],
      cloudWatchRole: props.cloudWatchRole ?? true,
      // Methods added later by a user of the construct are IAM-authorized too.
      defaultMethodOptions: { authorizationType: AuthorizationType.IAM },
      deployOptions: {
        stageName: props.stageName ?? 'prod',
        throttlingRateLimit: props.throttlingRateLimit ?? 100,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 200,
        tracingEnabled: true,
        metricsEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        accessLogDestination: new LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: accessLogFormat(props.accessLogIncludesPath ?? false),
      },
    });
    // The stack decides its outputs (a reusable construct should not add one of its own).
    this.api.node.tryRemoveChild('Endpoint');
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole !== undefined) {
      Validations.of(cloudWatchRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          "API Gateway's CloudWatch role is one per account and Region, used by every REST API there; execution log groups are named by API Gateway per API and stage, so AWS's managed policy is the one that serves them all.",
      });
    }
    // API Gateway's own answers (auth, throttling, size, timeouts) in the contract's error shape too.
    for (const [id, type, code] of GATEWAY_ERRORS) {
      this.api.addGatewayResponse(id, {
        type,
        templates: { 'application/json': `{"error":{"code":"${code}","message":$context.error.messageString}}` },
      });
    }
    const validator = this.api.addRequestValidator('Validator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const methodOptions: MethodOptions = { authorizationType: AuthorizationType.IAM, requestValidator: validator };
    this.api.root.addMethod('ANY', integration, methodOptions);
    this.api.root
      .addResource('{proxy+}')
      .addMethod('ANY', integration, { ...methodOptions, requestParameters: { 'method.request.path.proxy': true } });

    if (props.webAclArn !== undefined) {
      new CfnWebACLAssociation(this, 'WebAcl', {
        resourceArn: this.api.deploymentStage.stageArn,
        webAclArn: props.webAclArn,
      });
    } else {
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason:
          'Every method requires IAM (SigV4) authorization, so unsigned requests never reach the function; a WAF web ACL can be attached with the webAclArn property.',
      });
    }
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'The API is authorized with IAM (SigV4) by design (api-contract.md §3), not with a Cognito user pool.',
    });
  }

  /** The invoke URL of the deployed stage. */
  get url(): string {
    return this.api.url;
  }
}

/** API Gateway's own error answers and the stable codes they get (the handler's are in shared/domain/errors.ts). */
export const GATEWAY_ERRORS: ReadonlyArray<readonly [string, ResponseType, string]> = [
  ['Unsigned', ResponseType.MISSING_AUTHENTICATION_TOKEN, 'unauthenticated'],
  ['BadSignature', ResponseType.INVALID_SIGNATURE, 'invalid_signature'],
  ['ExpiredToken', ResponseType.EXPIRED_TOKEN, 'expired_token'],
  ['Denied', ResponseType.ACCESS_DENIED, 'access_denied'],
  ['Throttled', ResponseType.THROTTLED, 'throttled'],
  ['TooLarge', ResponseType.REQUEST_TOO_LARGE, 'payload_too_large'],
  ['BadBody', ResponseType.BAD_REQUEST_BODY, 'validation_error'],
  ['BadParameters', ResponseType.BAD_REQUEST_PARAMETERS, 'validation_error'],
  ['Timeout', ResponseType.INTEGRATION_TIMEOUT, 'gateway_timeout'],
  ['Default4xx', ResponseType.DEFAULT_4XX, 'request_refused'],
  ['Default5xx', ResponseType.DEFAULT_5XX, 'gateway_error'],
];

/** One JSON object per request: who, what and how it went. No bodies, no headers. */
function accessLogFormat(includePath: boolean): AccessLogFormat {
  return AccessLogFormat.custom(
    JSON.stringify({
      requestId: AccessLogField.contextRequestId(),
      requestTime: AccessLogField.contextRequestTime(),
      ip: AccessLogField.contextIdentitySourceIp(),
      caller: AccessLogField.contextIdentityCaller(),
      userArn: AccessLogField.contextIdentityUserArn(),
      accountId: AccessLogField.contextIdentityAccountId(),
      method: AccessLogField.contextHttpMethod(),
      ...(includePath ? { path: AccessLogField.contextPath() } : {}),
      resourcePath: AccessLogField.contextResourcePath(),
      status: AccessLogField.contextStatus(),
      latency: AccessLogField.contextResponseLatency(),
      integrationLatency: AccessLogField.contextIntegrationLatency(),
      responseLength: AccessLogField.contextResponseLength(),
      error: AccessLogField.contextErrorMessage(),
      xrayTraceId: AccessLogField.contextXrayTraceId(),
    }),
  );
}

