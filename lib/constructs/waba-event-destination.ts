import { ArnFormat, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import {
  AwsCustomResource,
  AwsCustomResourcePolicy,
  type AwsSdkCall,
  PhysicalResourceId,
} from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { LOG_RETENTION } from '../defaults.ts';

/** An AWS WABA id as End User Messaging Social names it: `waba-` and hex digits. */
export const WABA_ID_PATTERN = /^waba-[0-9a-f]+$/;

/** Properties of {@link WabaEventDestination}. */
export interface WabaEventDestinationProps {
  /** The AWS WABA id (`waba-<hex>`), not Meta's numeric WABA id. */
  readonly wabaId: string;
  /** The standard SNS topic that receives the WABA's events. */
  readonly topic: ITopic;
  /**
   * How long the custom resource's logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/** The IAM ARN of a WABA: the resource name is the id without its `waba-` prefix. */
export function wabaArn(stack: Stack, wabaId: string): string {
  return stack.formatArn({
    service: 'social-messaging',
    resource: 'waba',
    resourceName: wabaId.slice('waba-'.length),
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}

/**
 * Points one WABA's event destination at a topic (there is no CloudFormation resource for it):
 * `PutWhatsAppBusinessAccountEventDestinations` on create and update, and an empty destination
 * list on delete, so a removed stack does not leave the WABA publishing to a deleted topic.
 * It depends on the topic and its policy, so the destination is set only once the service may
 * publish, and is cleared before that permission goes.
 * The call may touch only that WABA.
 */
export class WabaEventDestination extends Construct {
  readonly wabaId: string;

  constructor(scope: Construct, id: string, props: WabaEventDestinationProps) {
    super(scope, id);
    if (!Token.isUnresolved(props.wabaId) && !WABA_ID_PATTERN.test(props.wabaId)) {
      throw new Error(`wabaId must look like waba-<hex> (the AWS WABA id), got "${props.wabaId}"`);
    }
    this.wabaId = props.wabaId;

    const put = (eventDestinations: { eventDestinationArn: string }[]): AwsSdkCall => ({
      service: 'socialmessaging',
      action: 'PutWhatsAppBusinessAccountEventDestinations',
      parameters: { id: props.wabaId, eventDestinations },
      physicalResourceId: PhysicalResourceId.of(`${props.wabaId}/event-destination`),
    });

    const logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Own role instead of the default one with the AWSLambdaBasicExecutionRole managed policy.
    const role = new Role(this, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);

    const resource = new AwsCustomResource(this, 'Resource', {
      resourceType: 'Custom::WhatsAppEventDestination',
      onCreate: put([{ eventDestinationArn: props.topic.topicArn }]),
      onUpdate: put([{ eventDestinationArn: props.topic.topicArn }]),
      onDelete: put([]),
      policy: AwsCustomResourcePolicy.fromStatements([
        new PolicyStatement({
          actions: ['social-messaging:PutWhatsAppBusinessAccountEventDestinations'],
          resources: [wabaArn(Stack.of(this), props.wabaId)],
        }),
      ]),
      role,
      logGroup,
      installLatestAwsSdk: false,
    });
    // The topic and everything under it, its resource policy included: CloudFormation creates the
    // policy that lets End User Messaging Social publish before the WABA is pointed at the topic,
    // and on delete clears the destination before the policy (and the topic) go.
    resource.node.addDependency(props.topic);
  }
}
