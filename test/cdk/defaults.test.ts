/** The construct in an app that has none of this repository's cdk.json (as an embedding app may). */
import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { FEATURE_FLAGS } from '../../lib/defaults.ts';
import { WhatsAppBackend } from '../../lib/whatsapp-backend.ts';
import { mediaBucketIdOf, PHONE_NUMBER_ID } from './support.ts';

describe('the feature flags the construct relies on', () => {
  it('are the values of cdk.json, so this repository and an embedding app synthesize alike', () => {
    const context = (JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> }).context;
    for (const [flag, value] of Object.entries(FEATURE_FLAGS)) expect(context[flag], flag).toBe(value);
  });

  it('are set on its subtree in an app without them: access logs by bucket policy, no ACL', () => {
    // Prepare: an app with no context at all
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Embedding');

    // Act
    new WhatsAppBackend(stack, 'Messaging', { phoneNumberIds: [PHONE_NUMBER_ID] });
    const template = Template.fromStack(stack);

    // Assert
    const buckets = template.findResources('AWS::S3::Bucket');
    const logBucketId = Object.keys(buckets).find((id) => id !== mediaBucketIdOf(template))!;
    expect(buckets[logBucketId]!.Properties.AccessControl).toBeUndefined();
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logBucketId },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'logging.s3.amazonaws.com' } })]) },
    });
  });

  it('leave an app its own choice', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [], '@aws-cdk/aws-iam:minimizePolicies': false } });
    const backend = new WhatsAppBackend(new Stack(app, 'Embedding'), 'Messaging');
    expect(backend.node.tryGetContext('@aws-cdk/aws-iam:minimizePolicies')).toBe(false);
    expect(backend.node.tryGetContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy')).toBe(true);
  });
});
