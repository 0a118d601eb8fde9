import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DLQ_RETENTION_DAYS, INBOUND_QUEUE, MEDIA_QUEUE, visibilityTimeoutSeconds } from '../../shared/resource-spec.ts';
import {
  actionsOf,
  arnOf,
  deadLetterQueueIdOf,
  expectExactly,
  functionIdOf,
  logicalIdOf,
  mediaBucketIdOf,
  messageTableOf,
  objectsArn,
  OTHER_PHONE_NUMBER_ID,
  PHONE_NUMBER_ID,
  phoneNumberArn,
  queueAndDlqPropertiesOf,
  queueIdOf,
  roleIdOf,
  statementsFor,
  statementsOf,
  synthesize,
  tableKeyStatement,
  tableStatementsOf,
} from './support.ts';

const MEDIA_FUNCTION = /Copies inbound WhatsApp media/;
const INBOUND_FUNCTION = /Stores WhatsApp events/;
const API_FUNCTION = /HTTP API/;
const ORIGIN = 'https://app.example.com';

const accessLogBucketIdOf = (template: Template) =>
  logicalIdOf(template, 'AWS::S3::Bucket', { LoggingConfiguration: Match.absent() });
const bucketProps = (template: Template, id: string) => template.toJSON().Resources[id].Properties;

/** The statements of the policy of a bucket. */
function bucketPolicyOf(template: Template, bucketId: string) {
  const policies = Object.values(template.findResources('AWS::S3::BucketPolicy', { Properties: { Bucket: { Ref: bucketId } } }));
  expect(policies).toHaveLength(1);
  return policies[0]?.Properties.PolicyDocument.Statement as Record<string, unknown>[];
}

const BLOCK_ALL = { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true };

describe('media bucket', () => {
  it('blocks all public access and refuses requests without TLS 1.2', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const bucketId = mediaBucketIdOf(template);
    const statements = bucketPolicyOf(template, bucketId);

    // Assess
    expect(bucketProps(template, bucketId).PublicAccessBlockConfiguration).toEqual(BLOCK_ALL);
    expect(bucketProps(template, bucketId).OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
    );
    expect(statements.filter((s) => s.Effect === 'Allow')).toEqual([]);
  });

  it('is encrypted with its own rotating KMS key, with an S3 bucket key', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const keyId = logicalIdOf(template, 'AWS::KMS::Key', { Description: Match.stringLikeRegexp('media bucket') });

    // Assess
    template.hasResourceProperties('AWS::KMS::Key', { Description: Match.stringLikeRegexp('media bucket'), EnableKeyRotation: true });
    expect(bucketProps(template, mediaBucketIdOf(template)).BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        { BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: arnOf(keyId) } },
      ],
    });
  });

  it('can use S3-managed encryption, and then grants no key to anyone', () => {
    // Prepare / Act
    const { template } = synthesize({ mediaOptions: { encryption: 'S3_MANAGED' } });

    // Assess
    expect(bucketProps(template, mediaBucketIdOf(template)).BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(template.findResources('AWS::KMS::Key', { Properties: { Description: Match.stringLikeRegexp('media bucket') } })).toEqual({});
  });

  it('expires inbound media after a year, outbound uploads after 30 days, stale multipart uploads after a day', () => {
    // Prepare / Act
    const { template } = synthesize();

    // Assess
    expect(bucketProps(template, mediaBucketIdOf(template)).LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Prefix: 'inbound/', ExpirationInDays: 365, Status: 'Enabled' }),
        expect.objectContaining({ Prefix: 'outbound/', ExpirationInDays: 30, Status: 'Enabled' }),
        { Id: expect.any(String), AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
      ]),
    );
  });

  it('keeps media for the configured number of days and refuses nonsense', () => {
    // Prepare / Act
    const { template } = synthesize({ mediaOptions: { inboundRetentionDays: 90, outboundRetentionDays: 7 } });

    // Assess
    expect(bucketProps(template, mediaBucketIdOf(template)).LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Prefix: 'inbound/', ExpirationInDays: 90 }),
        expect.objectContaining({ Prefix: 'outbound/', ExpirationInDays: 7 }),
      ]),
    );
    expect(() => synthesize({ mediaOptions: { outboundRetentionDays: 0 } })).toThrow(/outboundRetentionDays/);
    expect(() => synthesize({ mediaOptions: { inboundRetentionDays: 1.5 } })).toThrow(/inboundRetentionDays/);
  });

  it('has no CORS rule unless browser origins are configured', () => {
    // Prepare / Act
    const { template } = synthesize();

    // Assess
    expect(bucketProps(template, mediaBucketIdOf(template)).CorsConfiguration).toBeUndefined();
  });

  it('lets the configured origins PUT and GET with presigned URLs', () => {
    // Prepare / Act
    const { template } = synthesize({ mediaOptions: { corsAllowedOrigins: [ORIGIN] } });

    // Assess
    expect(bucketProps(template, mediaBucketIdOf(template)).CorsConfiguration).toEqual({
      CorsRules: [
        expect.objectContaining({ AllowedOrigins: [ORIGIN], AllowedMethods: ['PUT', 'GET', 'HEAD'] }),
      ],
    });
  });

  it('sends its server access logs to a private, TLS-only bucket that forgets them', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const logsId = accessLogBucketIdOf(template);
    const statements = bucketPolicyOf(template, logsId);

    // Assess
    expect(bucketProps(template, mediaBucketIdOf(template)).LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logsId },
      LogFilePrefix: 'media/',
    });
    expect(bucketProps(template, logsId).PublicAccessBlockConfiguration).toEqual(BLOCK_ALL);
    expect(bucketProps(template, logsId).LifecycleConfiguration.Rules).toContainEqual(
      expect.objectContaining({ ExpirationInDays: 90 }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    expect(statements.filter((s) => s.Effect === 'Allow')).toEqual([
      expect.objectContaining({ Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject' }),
    ]);
  });

  it('is retained with the stack by default and deleted with a throwaway one', () => {
    // Prepare / Act
    const kept = synthesize().template;
    const { template: dropped } = synthesize({ removalPolicy: RemovalPolicy.DESTROY, deletionProtection: false });

    // Assess
    expect(kept.toJSON().Resources[mediaBucketIdOf(kept)].DeletionPolicy).toBe('Retain');
    expect(dropped.toJSON().Resources[mediaBucketIdOf(dropped)].DeletionPolicy).toBe('Delete');
  });
});

describe('media queue', () => {
  it('retries a job the spec number of times, then keeps it in its DLQ for the maximum time', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const { queue, dlq } = queueAndDlqPropertiesOf(template, MEDIA_QUEUE);

    // Assess
    expect(queue.RedrivePolicy.maxReceiveCount).toBe(MEDIA_QUEUE.maxReceiveCount);
    expect(queue.VisibilityTimeout).toBe(visibilityTimeoutSeconds(MEDIA_QUEUE));
    expect(dlq.MessageRetentionPeriod).toBe(DLQ_RETENTION_DAYS * 24 * 60 * 60);
  });

  it('is encrypted, with its DLQ, by a rotating key of its own', () => {
    // Prepare
    const { template } = synthesize();
    const resources = template.toJSON().Resources;

    // Act
    const mediaQueueId = queueIdOf(template, MEDIA_QUEUE);
    const inboundQueueId = queueIdOf(template, INBOUND_QUEUE);
    const keyRef = resources[mediaQueueId].Properties.KmsMasterKeyId as { 'Fn::GetAtt': [string, string] };

    // Assess
    expect(resources[deadLetterQueueIdOf(template, mediaQueueId)].Properties.KmsMasterKeyId).toEqual(keyRef);
    expect(resources[inboundQueueId].Properties.KmsMasterKeyId).not.toEqual(keyRef);
    expect(resources[keyRef['Fn::GetAtt'][0]].Properties.EnableKeyRotation).toBe(true);
  });

  it('is not subscribed to the event topic', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const queueId = queueIdOf(template, MEDIA_QUEUE);

    // Assess
    expect(template.findResources('AWS::SNS::Subscription', { Properties: { Endpoint: arnOf(queueId) } })).toEqual({});
  });
});

describe('media function', () => {
  it('drains the media queue in spec-sized batches and reports failures per record', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const functionId = functionIdOf(template, MEDIA_FUNCTION);

    // Assess
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: functionId },
      EventSourceArn: arnOf(queueIdOf(template, MEDIA_QUEUE)),
      BatchSize: MEDIA_QUEUE.batchSize,
      MaximumBatchingWindowInSeconds: MEDIA_QUEUE.maxBatchingWindowSeconds,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp(MEDIA_FUNCTION.source),
      Timeout: MEDIA_QUEUE.handlerTimeoutSeconds,
      TracingConfig: { Mode: 'Active' },
    });
  });

  it('is told its table, bucket and queue', () => {
    // Prepare
    const { template } = synthesize();
    const tableId = logicalIdOf(template, 'AWS::DynamoDB::Table', {});

    // Act
    const bucketId = mediaBucketIdOf(template);

    // Assess
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp(MEDIA_FUNCTION.source),
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: { Ref: tableId },
          MEDIA_BUCKET: { Ref: bucketId },
          MEDIA_QUEUE_URL: { Ref: queueIdOf(template, MEDIA_QUEUE) },
        }),
      },
    });
  });

  it('may download media of the configured phone numbers only', () => {
    // Prepare
    const { template } = synthesize({ phoneNumberIds: [PHONE_NUMBER_ID, OTHER_PHONE_NUMBER_ID] });

    // Act
    const social = statementsFor(statementsOf(template, functionIdOf(template, MEDIA_FUNCTION)), 'social-messaging');

    // Assess
    expect(social).toHaveLength(1);
    expect(social[0]?.Action).toBe('social-messaging:GetWhatsAppMessageMedia');
    expect(social[0]?.Resource).toHaveLength(2);
    expect(social[0]?.Resource).toEqual(
      expect.arrayContaining([phoneNumberArn(PHONE_NUMBER_ID), phoneNumberArn(OTHER_PHONE_NUMBER_ID)]),
    );
  });

  it('may not download any media without phone numbers', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const social = statementsFor(statementsOf(template, functionIdOf(template, MEDIA_FUNCTION)), 'social-messaging');

    // Assess
    expect(social).toEqual([]);
  });

  it('may write, read and list inbound media only', () => {
    // Prepare
    const { template } = synthesize({ phoneNumberIds: [PHONE_NUMBER_ID] });
    const bucketId = mediaBucketIdOf(template);

    // Act
    const s3 = statementsFor(statementsOf(template, functionIdOf(template, MEDIA_FUNCTION)), 's3');

    // Assess
    expect(s3).toHaveLength(2);
    expect(s3).toContainEqual({ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: objectsArn(bucketId, 'inbound/') });
    expect(s3).toContainEqual({
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: arnOf(bucketId),
      Condition: { StringLike: { 's3:prefix': 'inbound/*' } },
    });
  });

  it('may only update items of the table, and use its key only through DynamoDB', () => {
    // Prepare
    const { template } = synthesize();
    const { tableId, keyId } = messageTableOf(template);

    // Act
    const onTable = tableStatementsOf(template, functionIdOf(template, MEDIA_FUNCTION));

    // Assess
    expectExactly(onTable, [
      { Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: arnOf(tableId) },
      tableKeyStatement(keyId),
    ]);
  });
});

describe('inbound function and the media queue', () => {
  it('is told the media queue URL', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const queueId = queueIdOf(template, MEDIA_QUEUE);

    // Assess
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp(INBOUND_FUNCTION.source),
      Environment: { Variables: Match.objectLike({ MEDIA_QUEUE_URL: { Ref: queueId } }) },
    });
  });

  it('may send to the media queue, and only send', () => {
    // Prepare
    const { template } = synthesize();
    const queueId = queueIdOf(template, MEDIA_QUEUE);
    const keyId = (template.toJSON().Resources[queueId].Properties.KmsMasterKeyId as { 'Fn::GetAtt': [string, string] })[
      'Fn::GetAtt'
    ][0];

    // Act
    const statements = statementsOf(template, functionIdOf(template, INBOUND_FUNCTION));
    // The inbound function also queues broadcast sends again (a 130429 status): CDK may merge both queues in one statement.
    const names = (s: { Resource: unknown }) => [s.Resource].flat().map((r) => JSON.stringify(r));
    const onMediaQueue = statementsFor(statements, 'sqs').filter((s) => names(s).includes(JSON.stringify(arnOf(queueId))));
    const onMediaKey = statements.filter((s) => names(s).includes(JSON.stringify(arnOf(keyId))));

    // Assess
    expect(onMediaQueue).toHaveLength(1);
    expect(onMediaQueue[0]!.Action).toBe('sqs:SendMessage');
    expect(onMediaKey).toHaveLength(1);
    expect(actionsOf(onMediaKey[0]!).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(JSON.stringify(statementsFor(statements, 's3'))).toBe('[]');
  });
});

describe('function roles', () => {
  it('carry no managed policy; only the account CloudWatch role of API Gateway does', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const functionRoles = [INBOUND_FUNCTION, API_FUNCTION, MEDIA_FUNCTION].map((d) => roleIdOf(template, functionIdOf(template, d)));
    const withManaged = Object.entries(
      template.findResources('AWS::IAM::Role', { Properties: { ManagedPolicyArns: Match.anyValue() } }),
    );

    // Assess
    expect(withManaged).toHaveLength(1);
    expect(functionRoles).not.toContain(withManaged[0]?.[0]);
    expect(withManaged[0]?.[1].Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({
      Service: 'apigateway.amazonaws.com',
    });
  });
});

describe('retention of messages and conversations', () => {
  const envOf = (template: Template, description: RegExp) =>
    (template.toJSON().Resources[functionIdOf(template, description)].Properties.Environment?.Variables ?? {}) as Record<string, unknown>;
  const writers = [/Stores WhatsApp events/, /WhatsApp backend HTTP API$/, /Sends broadcast messages/];

  it('gives every function that writes messages or conversations RETENTION_DAYS (365 by default), the table TTL on `ttl`, inbound media the same days', () => {
    // Prepare / Act
    const { template } = synthesize();

    // Assess
    for (const d of writers) expect(envOf(template, d).RETENTION_DAYS, d.source).toBe('365');
    template.hasResourceProperties('AWS::DynamoDB::Table', { TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true } });
    expect(bucketProps(template, mediaBucketIdOf(template)).LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([expect.objectContaining({ Prefix: 'inbound/', ExpirationInDays: 365 })]),
    );
  });

  it('follows retentionDays, media too unless its own days are given, and refuses nonsense', () => {
    // Prepare / Act
    const { template } = synthesize({ retentionDays: 90 });
    const { template: own } = synthesize({ retentionDays: 90, mediaOptions: { inboundRetentionDays: 400 } });

    // Assess
    for (const d of writers) expect(envOf(template, d).RETENTION_DAYS, d.source).toBe('90');
    expect(bucketProps(template, mediaBucketIdOf(template)).LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([expect.objectContaining({ Prefix: 'inbound/', ExpirationInDays: 90 })]),
    );
    expect(bucketProps(own, mediaBucketIdOf(own)).LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([expect.objectContaining({ Prefix: 'inbound/', ExpirationInDays: 400 })]),
    );
    expect(() => synthesize({ retentionDays: 0 })).toThrow(/retentionDays/);
    expect(() => synthesize({ retentionDays: 2.5 })).toThrow(/retentionDays/);
  });
});
