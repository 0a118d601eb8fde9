import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EVENTS_STREAM, WEBHOOK_DELIVERY_QUEUE } from '../../shared/resource-spec.ts';
import { logicalIdOf, synthesize } from './support.ts';

const EVENTS_TOPIC = 'WhatsApp backend domain events (CloudEvents)';

function functionId(template: ReturnType<typeof synthesize>['template'], description: string) {
  return logicalIdOf(template, 'AWS::Lambda::Function', { Description: description });
}

/** The logical id of a function's role. */
const roleOf = (template: ReturnType<typeof synthesize>['template'], fn: string) =>
  (template.toJSON().Resources[fn].Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

describe('domain events', () => {
  it('streams new and old images of the table', () => {
    const { template } = synthesize();
    template.hasResourceProperties('AWS::DynamoDB::Table', { StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' } });
  });

  it('maps the stream to the events function with partial batch failures, bisection, retries and a failure destination, filtered to event entities', () => {
    const { template } = synthesize();
    const fn = functionId(template, "Publishes the table's changes as CloudEvents");
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fn },
      EventSourceArn: { 'Fn::GetAtt': [Match.anyValue(), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: EVENTS_STREAM.batchSize,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: EVENTS_STREAM.retryAttempts,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ dynamodb: { NewImage: { entity: { S: ['message', 'accountEvent', 'quarantine'] } } } }) }] },
    });
  });

  it('updates the inbound function after the API and events functions, which read what it writes', () => {
    const { template } = synthesize();
    const inbound = functionId(template, 'Stores WhatsApp events from End User Messaging Social');
    const readers = [functionId(template, 'WhatsApp backend HTTP API'), functionId(template, "Publishes the table's changes as CloudEvents")];
    const dependsOn = (template.toJSON().Resources[inbound] as { DependsOn?: string[] }).DependsOn ?? [];
    expect(dependsOn).toEqual(expect.arrayContaining(readers));
  });

  it('publishes to a KMS-encrypted topic, with publish and the topic key only', () => {
    const { template } = synthesize();
    const topic = logicalIdOf(template, 'AWS::SNS::Topic', { DisplayName: EVENTS_TOPIC });
    const props = template.toJSON().Resources[topic].Properties;
    expect(props.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
    const fn = functionId(template, "Publishes the table's changes as CloudEvents");
    const env = template.toJSON().Resources[fn].Properties.Environment.Variables;
    expect(env.EVENTS_TOPIC_ARN).toEqual({ Ref: topic });
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleOf(template, fn)))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>);
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'sns:Publish', Resource: { Ref: topic } }));
    expect(JSON.stringify(statements)).not.toContain('ReEncrypt');
  });

  it('delivers raw CloudEvents to an encrypted delivery queue with a DLQ, drained by the webhooks function', () => {
    const { template } = synthesize();
    const topic = logicalIdOf(template, 'AWS::SNS::Topic', { DisplayName: EVENTS_TOPIC });
    template.hasResourceProperties('AWS::SNS::Subscription', { TopicArn: { Ref: topic }, Protocol: 'sqs', RawMessageDelivery: true });
    const subscription = Object.values(template.findResources('AWS::SNS::Subscription', { Properties: { TopicArn: { Ref: topic } } }))[0]!;
    const queueId = (subscription.Properties.Endpoint as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const queue = template.toJSON().Resources[queueId].Properties;
    expect(queue.KmsMasterKeyId).toBeDefined();
    expect(queue.RedrivePolicy.maxReceiveCount).toBe(WEBHOOK_DELIVERY_QUEUE.maxReceiveCount);
    const fn = functionId(template, 'Delivers domain events to the registered webhooks, signed');
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fn },
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    // SNS may use the queue's key for this topic only.
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'sns.amazonaws.com' }, Condition: { ArnEquals: { 'aws:SourceArn': { Ref: topic } } } })]) },
    });
  });

  it('encrypts webhook secrets with their own key: the API may encrypt, the delivery function decrypt', () => {
    const { template } = synthesize();
    const key = logicalIdOf(template, 'AWS::KMS::Key', { Description: 'Encrypts webhook signing secrets' });
    const api = functionId(template, 'WhatsApp backend HTTP API');
    const webhooks = functionId(template, 'Delivers domain events to the registered webhooks, signed');
    for (const [fn, action] of [
      [api, 'kms:Encrypt'],
      [webhooks, 'kms:Decrypt'],
    ] as const) {
      const env = template.toJSON().Resources[fn].Properties.Environment.Variables;
      expect(env.WEBHOOKS_KEY_ID).toEqual({ 'Fn::GetAtt': [key, 'Arn'] });
      expect(env.WEBHOOK_RETRY_QUEUE_URL).toBeDefined();
    }
    const onKey = (role: string) =>
      Object.values(template.findResources('AWS::IAM::Policy'))
        .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleOf(template, role)))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>)
        .filter((s) => JSON.stringify(s.Resource).includes(key))
        .flatMap((s) => [s.Action].flat());
    expect(onKey(api)).toEqual(['kms:Encrypt']);
    expect(onKey(webhooks)).toEqual(['kms:Decrypt']);
  });

  it('outputs the events topic ARN', () => {
    const { template } = synthesize();
    const topic = logicalIdOf(template, 'AWS::SNS::Topic', { DisplayName: EVENTS_TOPIC });
    template.hasOutput('EventsTopicArn', { Value: { Ref: topic } });
  });
});
