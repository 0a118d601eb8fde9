import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import {
  BROADCAST_CONCURRENT_BATCHES,
  DLQ_RETENTION_DAYS,
  INBOUND_QUEUE,
  LAMBDA_RUNTIME,
  TABLE_INDEXES,
  TABLE_KEYS,
  visibilityTimeoutSeconds,
} from '../../shared/resource-spec.ts';
import type { WhatsAppBackendStackProps } from '../../lib/whatsapp-backend-stack.ts';
import { loadConfig } from '../../shared/config.ts';
import {
  actionsOf,
  arnOf,
  deadLetterQueueIdOf,
  eventTopicIdOf,
  expectExactly,
  functionIdOf,
  logicalIdOf,
  messageTableOf,
  PHONE_NUMBER_ID,
  policyStatementsOf,
  queueAndDlqPropertiesOf,
  queueIdOf,
  roleIdOf,
  type Statement,
  statementsOf,
  synthesize,
  tableKeyStatement,
  tableStatementsOf,
  WABA_ID,
  wabaArn,
} from './support.ts';

const INBOUND_FUNCTION = /Stores WhatsApp events/;

const SOCIAL_MESSAGING = { Service: 'social-messaging.amazonaws.com' };
const SAME_ACCOUNT = { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } };

describe('event topic', () => {
  it('lets End User Messaging Social publish only on behalf of this account', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const topicId = eventTopicIdOf(template);

    // Assess
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: SOCIAL_MESSAGING,
            Action: 'sns:Publish',
            Resource: { Ref: topicId },
            Condition: SAME_ACCOUNT,
          }),
        ]),
      },
    });
  });

  it('refuses publications that do not use TLS', () => {
    // Prepare
    const { template } = synthesize();

    // Act / Assess
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('is encrypted with a rotating key that End User Messaging Social may use for this account only', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const keyId = logicalIdOf(template, 'AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({ Principal: SOCIAL_MESSAGING })]),
      },
    });

    // Assess
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Sid: Match.anyValue(),
            Effect: 'Allow',
            Principal: SOCIAL_MESSAGING,
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Resource: '*',
            Condition: SAME_ACCOUNT,
          },
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      FifoTopic: Match.absent(),
    });
  });

  it('delivers the SNS notification (not the raw message) to the inbound queue', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const queueId = queueIdOf(template, INBOUND_QUEUE);

    // Assess
    const topicId = eventTopicIdOf(template);
    expect(Object.keys(template.findResources('AWS::SNS::Subscription', { Properties: { TopicArn: { Ref: topicId } } }))).toHaveLength(1);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: { Ref: topicId },
      Protocol: 'sqs',
      Endpoint: { 'Fn::GetAtt': [queueId, 'Arn'] },
      RawMessageDelivery: false,
    });
  });
});

describe('inbound queue', () => {
  it('moves a message to the DLQ after the spec number of receives', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const { queue, dlq } = queueAndDlqPropertiesOf(template, INBOUND_QUEUE);

    // Assess
    expect(queue.RedrivePolicy.maxReceiveCount).toBe(INBOUND_QUEUE.maxReceiveCount);
    expect(queue.VisibilityTimeout).toBe(visibilityTimeoutSeconds(INBOUND_QUEUE));
    expect(dlq.RedrivePolicy).toBeUndefined();
    expect(dlq.MessageRetentionPeriod).toBe(DLQ_RETENTION_DAYS * 24 * 60 * 60);
  });

  it('encrypts queue and DLQ with a key SNS may use for this topic only', () => {
    // Prepare
    const { template } = synthesize();
    const topicId = eventTopicIdOf(template);

    // Act
    const keyId = logicalIdOf(template, 'AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'sns.amazonaws.com' }, Condition: { ArnEquals: { 'aws:SourceArn': { Ref: topicId } } } }),
        ]),
      },
    });

    // Assess
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'sns.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': { Ref: topicId } } },
          }),
        ]),
      },
    });
    const queueId = queueIdOf(template, INBOUND_QUEUE);
    const resources = template.toJSON().Resources;
    for (const id of [queueId, deadLetterQueueIdOf(template, queueId)]) {
      expect(resources[id].Properties.KmsMasterKeyId, id).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    }
  });

  it('refuses any access to either queue without TLS', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy'));
    const queueIds = Object.keys(template.findResources('AWS::SQS::Queue'));

    // Assess
    for (const queueId of queueIds) {
      const policy = policies.find((p) =>
        (p.Properties.Queues as unknown[]).some((q) => JSON.stringify(q) === JSON.stringify({ Ref: queueId })),
      );
      expect(policy, `policy of ${queueId}`).toBeDefined();
      expect(policy?.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 'sqs:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
  });
});

describe('inbound function', () => {
  it('runs on the spec runtime and architecture with tracing', () => {
    // Prepare
    const { template } = synthesize();

    // Act / Assess
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: `nodejs${LAMBDA_RUNTIME.nodeMajor}.x`,
      Architectures: [LAMBDA_RUNTIME.architecture],
      MemorySize: LAMBDA_RUNTIME.memoryMb,
      Timeout: INBOUND_QUEUE.handlerTimeoutSeconds,
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'whatsapp-backend',
          POWERTOOLS_LOG_LEVEL: 'INFO',
        }),
      },
    });
  });

  it('is told the name of the table it may write', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const tableId = logicalIdOf(template, 'AWS::DynamoDB::Table', {});

    // Assess
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TABLE_NAME: { Ref: tableId } }) },
    });
  });

  it('drains the queue in spec-sized batches and reports failures per record', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const queueId = queueIdOf(template, INBOUND_QUEUE);
    const functionId = functionIdOf(template, INBOUND_FUNCTION);

    // Assess
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionName: { Ref: functionId },
      BatchSize: INBOUND_QUEUE.batchSize,
      MaximumBatchingWindowInSeconds: INBOUND_QUEUE.maxBatchingWindowSeconds,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('may only get, put, update and condition-check items of the table, and use its key only through DynamoDB', () => {
    // Prepare
    const { template } = synthesize();
    const { tableId, keyId } = messageTableOf(template);

    // Act
    const onTable = tableStatementsOf(template, functionIdOf(template, INBOUND_FUNCTION));

    // Assess
    expectExactly(onTable, [
      { Effect: 'Allow', Action: ['dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], Resource: arnOf(tableId) },
      tableKeyStatement(keyId),
    ]);
  });

  it('has no managed policy and no wildcard action', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const functionId = functionIdOf(template, INBOUND_FUNCTION);
    const role = template.toJSON().Resources[roleIdOf(template, functionId)];
    const statements = statementsOf(template, functionId);

    // Assess
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      expect([statement.Action].flat().filter((a) => String(a).includes('*')), JSON.stringify(statement)).toEqual([]);
    }
  });

  it('keeps its logs for a limited time', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const logGroups = Object.values(template.findResources('AWS::Logs::LogGroup'));

    // Assess
    expect(logGroups.length).toBeGreaterThan(0);
    for (const group of logGroups) {
      expect(group.Properties.RetentionInDays).toBe(30);
    }
  });
});

describe('message table', () => {
  it('has the keys, TTL and GSIs of the resource spec', () => {
    // Prepare
    const { template } = synthesize();

    // Act / Assess
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: TABLE_KEYS.ttlAttribute, Enabled: true },
      GlobalSecondaryIndexes: TABLE_INDEXES.map((index) => ({
        IndexName: index.indexName,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: 'HASH' },
          { AttributeName: index.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      })),
      BillingMode: 'PAY_PER_REQUEST',
    });
  });

  it('keeps every attribute in the indexes of a table created by an earlier version (indexProjection ALL)', () => {
    // Prepare
    const { template } = synthesize({ indexProjection: 'ALL' });

    // Act / Assess: CloudFormation cannot change a projection in place, so such a stack deploys unchanged.
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: TABLE_INDEXES.map((index) => Match.objectLike({ IndexName: index.indexName, Projection: { ProjectionType: 'ALL' } })),
    });
  });

  it('is encrypted with its own rotating key, recoverable to a point in time and protected from deletion', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const keyId = logicalIdOf(template, 'AWS::KMS::Key', { Description: Match.stringLikeRegexp('table') });

    // Assess
    template.hasResourceProperties('AWS::KMS::Key', { Description: Match.stringLikeRegexp('table'), EnableKeyRotation: true });
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
      }),
    });
  });

  it('can be made disposable for throwaway stacks', () => {
    // Prepare / Act
    const { template } = synthesize({ deletionProtection: false, removalPolicy: RemovalPolicy.DESTROY });

    // Assess
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
  });

  it('is reachable by the inbound, media, API, events and webhooks functions alone; the first three may not scan, batch-write or encrypt', () => {
    // Prepare
    const { template } = synthesize({ wabaId: WABA_ID, phoneNumberIds: [PHONE_NUMBER_ID] });
    const { tableId, keyId } = messageTableOf(template);
    const functionRoles = [/Stores WhatsApp events/, /Copies inbound WhatsApp media/, /HTTP API/, /Sends broadcast messages/].map((d) =>
      roleIdOf(template, functionIdOf(template, d)),
    );
    // They park events and log deliveries with BatchWriteItem (see DomainEvents); the template sync keeps the catalog.
    const eventRoles = [/Publishes the table's changes/, /Delivers domain events/, /Syncs the WhatsApp template catalog/].map((d) => roleIdOf(template, functionIdOf(template, d)));

    // Act
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      [tableId, keyId].some((id) => JSON.stringify(p.Properties.PolicyDocument).includes(`"${id}"`)),
    );
    const roles = policies.flatMap((p) => (p.Properties.Roles as { Ref: string }[]).map((r) => r.Ref));
    // What the first three may do on the table or its key (the API encrypts webhook secrets with a key of their own).
    const actions = policies
      .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => functionRoles.includes(r.Ref)))
      .flatMap((p) => (p.Properties.PolicyDocument.Statement as Statement[]).filter((st) => [tableId, keyId].some((id) => JSON.stringify(st).includes(`"${id}"`))))
      .flatMap(actionsOf);

    // Assess
    expect(roles.sort()).toEqual([...functionRoles, ...eventRoles].sort());
    for (const forbidden of ['dynamodb:BatchWriteItem', 'dynamodb:Scan', 'kms:Encrypt', 'kms:ReEncryptFrom']) {
      expect(actions).not.toContain(forbidden);
    }
  });
});

describe('WABA event destination', () => {
  it('is left alone when no WABA id is given', () => {
    // Prepare / Act
    const { template } = synthesize();

    // Assess
    template.resourceCountIs('Custom::WhatsAppEventDestination', 0);
  });

  it('points the given WABA at the topic and clears it when the stack goes', () => {
    // Prepare
    const { template } = synthesize({ wabaId: WABA_ID });
    const topicId = eventTopicIdOf(template);

    // Act
    const resource = Object.values(template.findResources('Custom::WhatsAppEventDestination'))[0];
    const create = JSON.stringify(resource?.Properties.Create);
    const del = JSON.parse(resource?.Properties.Delete as string) as { parameters: unknown };

    // Assess
    expect(create).toContain('\\"service\\":\\"socialmessaging\\"');
    expect(create).toContain('\\"action\\":\\"PutWhatsAppBusinessAccountEventDestinations\\"');
    expect(create).toContain(`\\"id\\":\\"${WABA_ID}\\"`);
    expect(create).toContain(JSON.stringify({ Ref: topicId }));
    expect(del.parameters).toEqual({ id: WABA_ID, eventDestinations: [] });
  });

  it('is set after the topic policy that lets End User Messaging Social publish, and cleared before it goes', () => {
    // Prepare
    const { template } = synthesize({ wabaId: WABA_ID });
    const topicId = eventTopicIdOf(template);
    const policyId = logicalIdOf(template, 'AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Principal: SOCIAL_MESSAGING, Action: 'sns:Publish' })]) },
    });

    // Act
    const [resource] = Object.values(template.findResources('Custom::WhatsAppEventDestination')) as { DependsOn?: string[] }[];

    // Assess: CloudFormation creates what a resource depends on first and deletes it last.
    expect(resource?.DependsOn).toEqual(expect.arrayContaining([policyId, topicId]));
  });

  it('may change the event destination of that WABA only, without passing roles', () => {
    // Prepare
    const { template } = synthesize({ wabaId: WABA_ID });

    // Act
    const statements = policyStatementsOf(template);
    const social = statements.filter((s) => JSON.stringify(s.Action).includes('social-messaging:'));

    // Assess: the event destination, and the template catalog's operations, all on that WABA alone
    expect(social).toContainEqual({
      Effect: 'Allow',
      Action: 'social-messaging:PutWhatsAppBusinessAccountEventDestinations',
      Resource: wabaArn(WABA_ID),
    });
    for (const s of social) expect(s.Resource).toEqual(wabaArn(WABA_ID));
    expect(social.flatMap(actionsOf).filter((a) => a.includes('EventDestinations'))).toHaveLength(1);
    expect(JSON.stringify(statements)).not.toContain('iam:PassRole');
  });

  it('rejects an id that is not an AWS WABA id', () => {
    // Prepare / Act / Assess
    expect(() => synthesize({ wabaId: '1393727385109399' })).toThrow(/waba-<hex>/);
  });
});

describe('phone number ids', () => {
  it('are kept on the construct for the send API', () => {
    // Prepare / Act
    const { stack } = synthesize({ phoneNumberIds: [PHONE_NUMBER_ID] });

    // Assess
    expect(stack.backend.phoneNumberIds).toEqual([PHONE_NUMBER_ID]);
  });

  it('must be AWS phone number ids, not display numbers or Meta ids', () => {
    // Prepare / Act / Assess
    expect(() => synthesize({ phoneNumberIds: [PHONE_NUMBER_ID, '15555550100'] })).toThrow(/15555550100/);
  });
});

describe('stack outputs', () => {
  it('give the topic ARN to set as event destination', () => {
    // Prepare
    const { template } = synthesize();

    // Act
    const topicId = eventTopicIdOf(template);

    // Assess
    template.hasOutput('EventTopicArn', { Value: { Ref: topicId } });
    template.hasOutput('TableName', { Value: Match.anyValue() });
  });
});

describe('cdk-nag AwsSolutions', () => {
  it.each([
    ['without a WABA id', {}],
    ['with a WABA id and phone numbers', { wabaId: WABA_ID, phoneNumberIds: [PHONE_NUMBER_ID] }],
    [
      'with every API and media option set',
      {
        phoneNumberIds: [PHONE_NUMBER_ID],
        apiOptions: {
          webAclArn: 'arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/api/0123abcd-0123-4567-89ab-0123456789ab',
          cloudWatchRole: false,
          accessLogIncludesPath: true,
          metaApiVersion: 'v23.0',
        },
        mediaOptions: { encryption: 'S3_MANAGED', corsAllowedOrigins: ['https://app.example.com'] },
      },
    ],
  ] as [string, WhatsAppBackendStackProps][])('finds no unacknowledged violation %s', (_name, props) => {
    // Prepare
    const { stack } = synthesize(props);

    // Act
    const report = new AwsSolutionsChecks(stack).validateScope(stack);

    // Assess
    const found = report.violations.map(
      (v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.resourceLogicalId).join(', ')}`,
    );
    expect(found, found.join('\n')).toEqual([]);
  });
});

describe('template catalog', () => {
  const templateActions = (template: Template, description: RegExp) => {
    const role = roleIdOf(template, functionIdOf(template, description));
    return Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
      .filter((st) => actionsOf(st).some((a) => a.includes('Template')));
  };

  it('lets the API and the sync call the template operations on the WABA ARN alone', () => {
    // Prepare / Act
    const { template } = synthesize({ wabaId: WABA_ID, phoneNumberIds: [PHONE_NUMBER_ID] });
    const api = templateActions(template, /HTTP API/);
    const sync = templateActions(template, /Syncs the WhatsApp template catalog/);

    // Assess
    expect(api).toHaveLength(1);
    expect(actionsOf(api[0]!).sort()).toEqual(
      ['CreateWhatsAppMessageTemplate', 'CreateWhatsAppMessageTemplateFromLibrary', 'DeleteWhatsAppMessageTemplate', 'GetWhatsAppMessageTemplate', 'ListWhatsAppMessageTemplates'].map((a) => `social-messaging:${a}`),
    );
    expect(JSON.stringify(api[0]!.Resource)).toBe(JSON.stringify(wabaArn(WABA_ID)));
    expect(actionsOf(sync[0]!).sort()).toEqual(['social-messaging:GetWhatsAppMessageTemplate', 'social-messaging:ListWhatsAppMessageTemplates']);
    expect(JSON.stringify(sync[0]!.Resource)).toBe(JSON.stringify(wabaArn(WABA_ID)));
  });

  it('syncs on a schedule and once on deploy, asynchronously', () => {
    // Prepare / Act
    const { template } = synthesize({ wabaId: WABA_ID, phoneNumberIds: [PHONE_NUMBER_ID] });
    const fn = functionIdOf(template, /Syncs the WhatsApp template catalog/);

    // Assess
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(6 hours)', Targets: Match.arrayWith([Match.objectLike({ Arn: { 'Fn::GetAtt': [fn, 'Arn'] } })]) });
    const create = JSON.stringify(Object.values(template.findResources('Custom::WhatsAppTemplateSync'))[0]?.Properties.Create);
    expect(create).toContain('\\"action\\":\\"invoke\\"');
    expect(create).toContain('\\"InvocationType\\":\\"Event\\"');
  });

  it('has no sync and no template permission without a WABA id', () => {
    const { template } = synthesize({ phoneNumberIds: [PHONE_NUMBER_ID] });
    template.resourceCountIs('Custom::WhatsAppTemplateSync', 0);
    expect(templateActions(template, /HTTP API/)).toEqual([]);
  });
});

describe('broadcasts', () => {
  it('drains its own queue with a function that may send from the configured numbers only, fed by the API', () => {
    // Prepare / Act
    const { template } = synthesize({ phoneNumberIds: [PHONE_NUMBER_ID] });
    const fn = functionIdOf(template, /Sends broadcast messages/);
    const role = roleIdOf(template, fn);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    const social = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('social-messaging:')));

    // Assess
    expect(social.flatMap(actionsOf).sort()).toEqual(['social-messaging:GetLinkedWhatsAppBusinessAccountPhoneNumber', 'social-messaging:SendWhatsAppMessage']);
    expect(JSON.stringify(social.map((s) => s.Resource))).toContain(PHONE_NUMBER_ID.slice('phone-number-id-'.length));
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fn },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: BROADCAST_CONCURRENT_BATCHES },
    });
    const apiEnv = Object.values(template.findResources('AWS::Lambda::Function')).find((f) => /HTTP API/.test(f.Properties.Description))!.Properties.Environment.Variables;
    expect(Object.keys(apiEnv)).toEqual(expect.arrayContaining(['BROADCAST_SENDS_QUEUE_URL', 'BROADCAST_MPS']));
  });

  it('gives the broadcast options to every function that paces, counts or suppresses, as the functions read them, and refuses a wrong one', () => {
    // Prepare
    const broadcastOptions = { messagesPerSecond: 40, messagesPerSecondByNumber: { [PHONE_NUMBER_ID]: 1000 }, messagingTier: 2000, stopKeywords: ['STOP', ' ARRÊT '] };

    // Act
    const envOf = (t: Template, description: RegExp) => Object.values(t.findResources('AWS::Lambda::Function')).find((f) => description.test(f.Properties.Description))!.Properties.Environment.Variables;
    const { template } = synthesize({ phoneNumberIds: [PHONE_NUMBER_ID], broadcastOptions });
    const defaultEnv = envOf(synthesize({ phoneNumberIds: [PHONE_NUMBER_ID] }).template, /Sends broadcast messages/);

    // Assess
    const expected = { BROADCAST_MPS: '40', BROADCAST_MPS_BY_NUMBER: `${PHONE_NUMBER_ID}=1000`, BROADCAST_MESSAGING_TIER: '2000', BROADCAST_STOP_KEYWORDS: 'STOP,ARRÊT' };
    for (const fn of [/Sends broadcast messages/, /HTTP API/, /Stores WhatsApp events/]) expect(envOf(template, fn)).toMatchObject(expected);
    expect(loadConfig(['BROADCAST_MPS', 'BROADCAST_MPS_BY_NUMBER', 'BROADCAST_MESSAGING_TIER', 'BROADCAST_STOP_KEYWORDS'], expected)).toEqual({ ...expected, BROADCAST_MPS: 40, BROADCAST_MESSAGING_TIER: 2000 });
    expect(defaultEnv).toMatchObject({ BROADCAST_MPS: '76', BROADCAST_MPS_BY_NUMBER: '', BROADCAST_MESSAGING_TIER: 'UNLIMITED', BROADCAST_STOP_KEYWORDS: 'STOP,UNSUBSCRIBE' });
    expect(() => synthesize({ phoneNumberIds: [PHONE_NUMBER_ID], broadcastOptions: { messagingTier: 0 } })).toThrow(/messagingTier must be a whole number/);
    expect(() => synthesize({ phoneNumberIds: [PHONE_NUMBER_ID], broadcastOptions: { messagesPerSecond: 5000 } })).toThrow(/between 1 and 1,000/);
    expect(() => synthesize({ phoneNumberIds: [PHONE_NUMBER_ID], broadcastOptions: { messagesPerSecondByNumber: { [PHONE_NUMBER_ID]: 0.5 } } })).toThrow(/between 1 and 1,000/);
  });
});
