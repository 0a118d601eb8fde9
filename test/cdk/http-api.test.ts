import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  actionsOf,
  arnOf,
  expectExactly,
  functionIdOf,
  indexArn,
  logicalIdOf,
  mediaBucketIdOf,
  messageTableOf,
  objectsArn,
  OTHER_PHONE_NUMBER_ID,
  PHONE_NUMBER_ID,
  phoneNumberArn,
  policyStatementsOf,
  statementsFor,
  statementsOf,
  synthesize,
  tableKeyStatement,
  tableStatementsOf,
} from './support.ts';

const API_FUNCTION = /HTTP API/;
const WEB_ACL_ARN = 'arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/api/0123abcd-0123-4567-89ab-0123456789ab';

describe('HTTP API methods', () => {
  it('require IAM authorization on every method, the root included', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
    const restApiId = logicalIdOf(template, 'AWS::ApiGateway::RestApi', {});

    // Assess
    expect(methods.length).toBeGreaterThanOrEqual(2);
    for (const method of methods) {
      expect(method.Properties.AuthorizationType, JSON.stringify(method.Properties)).toBe('AWS_IAM');
    }
    expect(methods.map((m) => m.Properties.HttpMethod)).not.toContain('OPTIONS');
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'ANY',
      ResourceId: { 'Fn::GetAtt': [restApiId, 'RootResourceId'] },
      AuthorizationType: 'AWS_IAM',
    });
  });

  it('send the root and every {proxy+} path to the api function as proxy requests', () => {
    // Prepare
    const { template } = synthesize();
    const functionId = functionIdOf(template, API_FUNCTION);

    // Act
    const proxyId = logicalIdOf(template, 'AWS::ApiGateway::Resource', { PathPart: '{proxy+}' });
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));

    // Assess
    expect(methods).toHaveLength(2);
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'ANY',
      ResourceId: { Ref: proxyId },
      RequestParameters: { 'method.request.path.proxy': true },
    });
    for (const method of methods) {
      expect(method.Properties.Integration.Type).toBe('AWS_PROXY');
      expect(JSON.stringify(method.Properties.Integration.Uri)).toContain(JSON.stringify(arnOf(functionId)));
    }
  });

  it('validate declared request bodies and parameters', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const validatorId = logicalIdOf(template, 'AWS::ApiGateway::RequestValidator', {});
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));

    // Assess
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
    for (const method of methods) {
      expect(method.Properties.RequestValidatorId).toEqual({ Ref: validatorId });
    }
  });

  it('may invoke the api function only from this API', () => {
    // Prepare
    const { template } = synthesize();
    const functionId = functionIdOf(template, API_FUNCTION);
    const restApiId = logicalIdOf(template, 'AWS::ApiGateway::RestApi', {});

    // Act
    const permissions = Object.values(
      template.findResources('AWS::Lambda::Permission', { Properties: { FunctionName: arnOf(functionId) } }),
    );

    // Assess
    expect(permissions.length).toBeGreaterThan(0);
    for (const permission of permissions) {
      expect(permission.Properties.Principal).toBe('apigateway.amazonaws.com');
      expect(JSON.stringify(permission.Properties.SourceArn)).toContain(JSON.stringify({ Ref: restApiId }));
      // Not the console's test-invoke path (`test-invoke-stage`).
      expect(JSON.stringify(permission.Properties.SourceArn)).not.toContain('test-invoke-stage');
    }
  });
});

describe('HTTP API stage', () => {
  it('throttles with the default rate and burst', () => {
    // Prepare / Act
    const { template } = synthesize();

    // Assess
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [Match.objectLike({ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 })],
    });
  });

  it('throttles with the configured rate and burst', () => {
    // Prepare / Act
    const { template } = synthesize({ apiOptions: { throttlingRateLimit: 7, throttlingBurstLimit: 9 } });

    // Assess
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 7, ThrottlingBurstLimit: 9 })],
    });
  });

  it('traces with X-Ray and logs execution errors only, never request or response data', () => {
    // Prepare / Act
    const { template } = synthesize();

    // Assess
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      TracingEnabled: true,
      MethodSettings: [Match.objectLike({ LoggingLevel: 'ERROR', DataTraceEnabled: false })],
    });
  });

  it('writes one JSON access log line per request to its own log group, without bodies or paths', () => {
    // Prepare
    const { template } = synthesize();
    const logGroupId = logicalIdOf(template, 'AWS::Logs::LogGroup', { KmsKeyId: Match.anyValue() });

    // Act
    const stage = Object.values(template.findResources('AWS::ApiGateway::Stage'))[0];
    const setting = stage?.Properties.AccessLogSetting as { DestinationArn: unknown; Format: string };
    const format = JSON.parse(setting.Format) as Record<string, string>;

    // Assess
    expect(JSON.stringify(setting.DestinationArn)).toContain(JSON.stringify({ Ref: logGroupId }));
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      ip: '$context.identity.sourceIp',
      caller: '$context.identity.caller',
      method: '$context.httpMethod',
      status: '$context.status',
      latency: '$context.responseLatency',
    });
    expect(Object.values(format).filter((v) => v === '$context.path' || v.startsWith('$input'))).toEqual([]);
  });

  it('logs the request path when asked to', () => {
    // Prepare
    const { template } = synthesize({ apiOptions: { accessLogIncludesPath: true } });

    // Act
    const stage = Object.values(template.findResources('AWS::ApiGateway::Stage'))[0];
    const format = JSON.parse((stage?.Properties.AccessLogSetting as { Format: string }).Format) as Record<string, string>;

    // Assess
    expect(format.path).toBe('$context.path');
  });

  it('encrypts the access logs with a rotating key that CloudWatch Logs may use for this account only', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const group = Object.values(template.findResources('AWS::Logs::LogGroup', { Properties: { KmsKeyId: Match.anyValue() } }))[0];
    const keyId = (group?.Properties.KmsKeyId as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

    // Assess
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      Description: Match.stringLikeRegexp('access logs'),
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
            Condition: {
              ArnLike: {
                'kms:EncryptionContext:aws:logs:arn': {
                  'Fn::Join': [
                    '',
                    ['arn:', { Ref: 'AWS::Partition' }, ':logs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':log-group:*'],
                  ],
                },
              },
            },
          }),
        ]),
      },
    });
    expect(template.toJSON().Resources[keyId].Properties.Description).toMatch(/access logs/);
  });

  it('sets the account CloudWatch role unless told the account has one', () => {
    // Prepare / Act
    const withRole = synthesize().template;
    const withoutRole = synthesize({ apiOptions: { cloudWatchRole: false } }).template;

    // Assess
    withRole.resourceCountIs('AWS::ApiGateway::Account', 1);
    withoutRole.resourceCountIs('AWS::ApiGateway::Account', 0);
  });

  it('is associated with the given WAF web ACL, and with none by default', () => {
    // Prepare / Act
    const withAcl = synthesize({ apiOptions: { webAclArn: WEB_ACL_ARN } }).template;
    const withoutAcl = synthesize().template;

    // Assess
    withAcl.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { WebACLArn: WEB_ACL_ARN });
    withoutAcl.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
  });

  it('gives its URL as the ApiUrl output', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const restApiId = logicalIdOf(template, 'AWS::ApiGateway::RestApi', {});
    const output = template.findOutputs('ApiUrl').ApiUrl as { Value: unknown };

    // Assess
    expect(JSON.stringify(output.Value)).toContain(JSON.stringify({ Ref: restApiId }));
  });
});

describe('api function', () => {
  it('is told its table, bucket, phone numbers, Meta API version and body limit', () => {
    // Prepare
    const { template } = synthesize({ phoneNumberIds: [PHONE_NUMBER_ID, OTHER_PHONE_NUMBER_ID] });
    const tableId = logicalIdOf(template, 'AWS::DynamoDB::Table', {});

    // Act
    const bucketId = mediaBucketIdOf(template);

    // Assess
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('HTTP API'),
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: { Ref: tableId },
          MEDIA_BUCKET: { Ref: bucketId },
          PHONE_NUMBER_IDS: `${PHONE_NUMBER_ID},${OTHER_PHONE_NUMBER_ID}`,
          META_API_VERSION: 'v24.0',
          POWERTOOLS_SERVICE_NAME: 'whatsapp-backend',
        }),
      },
    });
  });

  it('passes the configured Meta API version and refuses a malformed one', () => {
    // Prepare / Act
    const { template } = synthesize({ apiOptions: { metaApiVersion: 'v25.0' } });

    // Assess
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ META_API_VERSION: 'v25.0' }) },
    });
    expect(() => synthesize({ apiOptions: { metaApiVersion: '24' } })).toThrow(/metaApiVersion/);
  });

  it('may send, upload media and read phone number details on the configured numbers only', () => {
    // Prepare
    const { template } = synthesize({ phoneNumberIds: [PHONE_NUMBER_ID, OTHER_PHONE_NUMBER_ID] });

    // Act
    const social = statementsFor(statementsOf(template, functionIdOf(template, API_FUNCTION)), 'social-messaging');

    // Assess
    expect(social).toHaveLength(1);
    expect(social[0]).toEqual({
      Effect: 'Allow',
      Action: [
        'social-messaging:GetLinkedWhatsAppBusinessAccountPhoneNumber',
        'social-messaging:PostWhatsAppMessageMedia',
        'social-messaging:SendWhatsAppMessage',
      ],
      Resource: expect.any(Array),
    });
    // IAM policy minimization orders the resources: compare them as a set.
    expect(social[0]?.Resource).toHaveLength(2);
    expect(social[0]?.Resource).toEqual(
      expect.arrayContaining([phoneNumberArn(PHONE_NUMBER_ID), phoneNumberArn(OTHER_PHONE_NUMBER_ID)]),
    );
  });

  it('has no End User Messaging Social permission at all without phone numbers', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const all = policyStatementsOf(template);

    // Assess
    expect(JSON.stringify(all)).not.toContain('social-messaging:');
  });

  it('may write, read and list outbound uploads and recipient lists and read inbound media, nothing else in S3', () => {
    // Prepare
    const { template } = synthesize({ phoneNumberIds: [PHONE_NUMBER_ID] });
    const bucketId = mediaBucketIdOf(template);

    // Act
    const s3 = statementsFor(statementsOf(template, functionIdOf(template, API_FUNCTION)), 's3');

    // Assess
    // (Outbound uploads and recipient lists share one statement: the same actions on two prefixes.)
    expect(s3).toHaveLength(4);
    expect(s3).toContainEqual({
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject'],
      Resource: expect.arrayContaining([objectsArn(bucketId, 'outbound/'), objectsArn(bucketId, 'broadcasts/')]),
    });
    expect(s3.find((st) => Array.isArray(st.Resource) && st.Resource.length === 2)?.Resource).toHaveLength(2);
    expect(s3).toContainEqual({
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: arnOf(bucketId),
      Condition: { StringLike: { 's3:prefix': 'broadcasts/*' } },
    });
    expect(s3).toContainEqual({
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: arnOf(bucketId),
      Condition: { StringLike: { 's3:prefix': 'outbound/*' } },
    });
    expect(s3).toContainEqual({ Effect: 'Allow', Action: 's3:GetObject', Resource: objectsArn(bucketId, 'inbound/') });
  });

  it('may use the media key only through S3', () => {
    // Prepare
    const { template } = synthesize();
    const keyId = logicalIdOf(template, 'AWS::KMS::Key', { Description: Match.stringLikeRegexp('media bucket') });

    // Act
    const kms = statementsFor(statementsOf(template, functionIdOf(template, API_FUNCTION)), 'kms').filter(
      (s) => JSON.stringify(s.Resource) === JSON.stringify(arnOf(keyId)),
    );

    // Assess
    expect(kms.length).toBeGreaterThan(0);
    for (const statement of kms) {
      expect(actionsOf(statement).sort()).toEqual(expect.arrayContaining(['kms:Decrypt']));
      expect(actionsOf(statement).every((a) => ['kms:Decrypt', 'kms:GenerateDataKey'].includes(a))).toBe(true);
      expect(statement.Condition).toEqual({
        StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
      });
    }
  });

  it('may get, batch-get, put, update and delete items, query the two named GSIs, and use the table key only through DynamoDB', () => {
    // Prepare
    const { template } = synthesize();
    const { tableId, keyId } = messageTableOf(template);

    // Act
    const onTable = tableStatementsOf(template, functionIdOf(template, API_FUNCTION));

    // Assess
    expectExactly(onTable, [
      {
        Effect: 'Allow',
        Action: ['dynamodb:BatchGetItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Resource: arnOf(tableId),
      },
      { Effect: 'Allow', Action: 'dynamodb:Query', Resource: [indexArn(tableId, 'GSI1'), indexArn(tableId, 'GSI2')] },
      tableKeyStatement(keyId),
    ]);
  });
});

describe("API Gateway's own errors", () => {
  it('answers them in the contract error shape with a stable code', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const responses = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse')).map((r) => r.Properties);

    // Assess
    const byType = Object.fromEntries(responses.map((p) => [p.ResponseType, JSON.parse(p.ResponseTemplates['application/json'].replace('$context.error.messageString', '"m"'))]));
    expect(byType).toMatchObject({
      MISSING_AUTHENTICATION_TOKEN: { error: { code: 'unauthenticated', message: 'm' } },
      ACCESS_DENIED: { error: { code: 'access_denied' } },
      THROTTLED: { error: { code: 'throttled' } },
      REQUEST_TOO_LARGE: { error: { code: 'payload_too_large' } },
      INTEGRATION_TIMEOUT: { error: { code: 'gateway_timeout' } },
      DEFAULT_4XX: { error: { code: 'request_refused' } },
      DEFAULT_5XX: { error: { code: 'gateway_error' } },
    });
  });
});
