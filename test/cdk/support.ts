/** Helpers of the CDK template tests: one synthesis per distinct props, lookups by what matters. */
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { expect } from 'vitest';
import { type QueueSpec, visibilityTimeoutSeconds } from '../../shared/resource-spec.ts';
import { WhatsAppBackendStack, type WhatsAppBackendStackProps } from '../../lib/whatsapp-backend-stack.ts';

export const WABA_ID = 'waba-0123456789abcdef0123456789abcdef';
export const PHONE_NUMBER_ID = 'phone-number-id-fedcba9876543210fedcba9876543210';
export const OTHER_PHONE_NUMBER_ID = 'phone-number-id-00112233445566778899aabbccddeeff';

/** The feature flags `cdk synth` runs with, so the tests see the template that is deployed. */
const CDK_JSON_CONTEXT = (JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
}).context;

const synthesized = new Map<string, { stack: WhatsAppBackendStack; template: Template }>();

/** Synthesizes once per distinct props (bundling skipped): the assertions only read the template. */
export function synthesize(props: WhatsAppBackendStackProps = {}) {
  const key = JSON.stringify(props);
  const cached = synthesized.get(key);
  if (cached) return cached;
  const app = new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
  const stack = new WhatsAppBackendStack(app, 'Test', props);
  const result = { stack, template: Template.fromStack(stack) };
  synthesized.set(key, result);
  return result;
}

/** Logical id of the only resource of a type that matches the given properties. */
export function logicalIdOf(template: Template, type: string, props: object): string {
  const ids = Object.keys(template.findResources(type, { Properties: props }));
  expect(ids, `${type} matching ${JSON.stringify(props)}`).toHaveLength(1);
  return ids[0] as string;
}

/** The WABA's event topic (the others are the alarm topic and the domain-events topic). */
export const eventTopicIdOf = (template: Template) =>
  logicalIdOf(template, 'AWS::SNS::Topic', { DisplayName: 'WhatsApp events (End User Messaging Social)' });

/** The queue (with a DLQ) drained by the handler of a queue spec. */
export function queueIdOf(template: Template, spec: QueueSpec): string {
  return logicalIdOf(template, 'AWS::SQS::Queue', {
    VisibilityTimeout: visibilityTimeoutSeconds(spec),
    RedrivePolicy: Match.anyValue(),
  });
}

/** The DLQ of a queue, from its redrive policy. */
export function deadLetterQueueIdOf(template: Template, queueId: string): string {
  const queue = template.toJSON().Resources[queueId] as {
    Properties: { RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [string, string] } } };
  };
  return queue.Properties.RedrivePolicy.deadLetterTargetArn['Fn::GetAtt'][0];
}

/** The properties of the queue of a queue spec and of its DLQ. */
export function queueAndDlqPropertiesOf(template: Template, spec: QueueSpec): { queue: any; dlq: any } {
  const queueId = queueIdOf(template, spec);
  const resources = template.toJSON().Resources;
  return { queue: resources[queueId].Properties, dlq: resources[deadLetterQueueIdOf(template, queueId)].Properties };
}

/** The media bucket (the one that is not the access log destination). */
export const mediaBucketIdOf = (template: Template) =>
  logicalIdOf(template, 'AWS::S3::Bucket', { LoggingConfiguration: Match.anyValue() });

/** The Lambda function built from `lambdas/<handler>/handler.ts` (known by its description). */
export function functionIdOf(template: Template, description: RegExp): string {
  return logicalIdOf(template, 'AWS::Lambda::Function', { Description: Match.stringLikeRegexp(description.source) });
}

export type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

/** Logical id of a function's execution role. */
export function roleIdOf(template: Template, functionId: string): string {
  const fn = template.toJSON().Resources[functionId] as { Properties: { Role: { 'Fn::GetAtt': [string, string] } } };
  return fn.Properties.Role['Fn::GetAtt'][0];
}

/** Every statement of the IAM policies of a template that match `props` (all of them by default). */
export function policyStatementsOf(template: Template, props: object = {}): Statement[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: props }));
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** Every statement of every policy attached to a function's role. */
export function statementsOf(template: Template, functionId: string): Statement[] {
  return policyStatementsOf(template, { Roles: [{ Ref: roleIdOf(template, functionId) }] });
}

/** The statements that allow at least one action of a service (`s3`, `sqs`, `social-messaging`…). */
export function statementsFor(statements: Statement[], service: string): Statement[] {
  return statements.filter((s) => actionsOf(s).some((a) => a.startsWith(`${service}:`)));
}

export function actionsOf(statement: Statement): string[] {
  return [statement.Action].flat();
}

/** `{ "Fn::GetAtt": [id, "Arn"] }` */
export const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

/** The ARN of objects under a prefix of a bucket, as CDK renders it. */
export const objectsArn = (bucketId: string, prefix: string) => ({ 'Fn::Join': ['', [arnOf(bucketId), `/${prefix}*`]] });

/** The IAM ARN of an End User Messaging Social resource of the stack's account and region. */
const socialMessagingArn = (resource: string) => ({
  'Fn::Join': [
    '',
    ['arn:', { Ref: 'AWS::Partition' }, ':social-messaging:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${resource}`],
  ],
});

/** The IAM ARN of an AWS phone number id (the resource name is the id without its prefix). */
export const phoneNumberArn = (phoneNumberId: string) =>
  socialMessagingArn(`phone-number-id/${phoneNumberId.slice('phone-number-id-'.length)}`);

/** The IAM ARN of an AWS WABA id (the resource name is the id without its prefix). */
export const wabaArn = (wabaId: string) => socialMessagingArn(`waba/${wabaId.slice('waba-'.length)}`);

/** The message table and its key. */
export function messageTableOf(template: Template): { tableId: string; keyId: string } {
  return {
    tableId: logicalIdOf(template, 'AWS::DynamoDB::Table', {}),
    keyId: logicalIdOf(template, 'AWS::KMS::Key', { Description: Match.stringLikeRegexp('message table') }),
  };
}

/** A function's statements on the message table: any DynamoDB action, or any use of the table key. */
export function tableStatementsOf(template: Template, functionId: string): Statement[] {
  const { keyId } = messageTableOf(template);
  return statementsOf(template, functionId).filter(
    (s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')) || JSON.stringify(s.Resource).includes(`"${keyId}"`),
  );
}

/**
 * The only use of the table key a function may have: what DynamoDB needs to serve its requests,
 * and only through DynamoDB.
 */
export const tableKeyStatement = (keyId: string): Statement => ({
  Effect: 'Allow',
  Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey'],
  Resource: arnOf(keyId),
  Condition: {
    StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['dynamodb.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
  },
});

/** The ARN of one of the table's GSIs, as CDK renders it. */
export const indexArn = (tableId: string, indexName: string) => ({ 'Fn::Join': ['', [arnOf(tableId), `/index/${indexName}`]] });

/** JSON with object keys sorted, so that two equal statements give the same text. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

/** Asserts a list holds exactly these statements, in any order. */
export function expectExactly(actual: Statement[], expected: Statement[]): void {
  const byText = (a: Statement, b: Statement) => canonical(a).localeCompare(canonical(b));
  expect([...actual].sort(byText)).toEqual([...expected].sort(byText));
}
