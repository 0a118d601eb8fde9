import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { WhatsAppBackend, type WhatsAppBackendProps } from './whatsapp-backend.ts';

/** Properties of {@link WhatsAppBackendStack}: a stack's and the backend's. */
export interface WhatsAppBackendStackProps extends StackProps, WhatsAppBackendProps {}

/** A stack holding one {@link WhatsAppBackend} and its outputs. */
export class WhatsAppBackendStack extends Stack {
  readonly backend: WhatsAppBackend;

  constructor(scope: Construct, id: string, props: WhatsAppBackendStackProps = {}) {
    super(scope, id, props);
    this.backend = new WhatsAppBackend(this, 'WhatsAppBackend', props);

    new CfnOutput(this, 'EventTopicArn', {
      description: 'SNS topic to set as the WABA event destination',
      value: this.backend.eventTopic.topicArn,
    });
    new CfnOutput(this, 'EventsTopicArn', {
      description: 'SNS topic of the domain events (CloudEvents); filter on the type and phoneNumberId attributes',
      value: this.backend.eventsTopic.topicArn,
    });
    new CfnOutput(this, 'WebhookDeliveryQueueUrl', { value: this.backend.webhookDeliveryQueue.queueUrl });
    new CfnOutput(this, 'WebhookDeliveryDeadLetterQueueUrl', { value: this.backend.webhookDeliveryDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'AlarmTopicArn', {
      description: 'SNS topic every alarm notifies: subscribe an email address or a pager to it',
      value: this.backend.alarmTopic.topicArn,
    });
    new CfnOutput(this, 'TableName', { value: this.backend.table.tableName });
    new CfnOutput(this, 'InboundQueueUrl', { value: this.backend.inboundQueue.queueUrl });
    new CfnOutput(this, 'InboundDeadLetterQueueUrl', { value: this.backend.inboundDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'InboundFunctionName', { value: this.backend.inboundFunction.functionName });
    new CfnOutput(this, 'ApiUrl', {
      description: 'Base URL of the HTTP API (requests must be SigV4-signed for execute-api)',
      value: this.backend.apiUrl,
    });
    new CfnOutput(this, 'ApiFunctionName', { value: this.backend.apiFunction.functionName });
    new CfnOutput(this, 'MediaBucketName', { value: this.backend.mediaBucket.bucketName });
    new CfnOutput(this, 'MediaQueueUrl', { value: this.backend.mediaQueue.queueUrl });
    new CfnOutput(this, 'MediaDeadLetterQueueUrl', { value: this.backend.mediaDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'MediaFunctionName', { value: this.backend.mediaFunction.functionName });
  }
}
