import { CustomResource, Duration, Fn, Stack, Token, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { HandlerFunction } from './handler-function.ts';

/** Properties of {@link NumberDiscovery}. */
export interface NumberDiscoveryProps {
  /** The topic every discovered WABA publishes its events to (set on deploy, cleared on delete). */
  readonly topic: ITopic;
  /** @default the HandlerFunction default */
  readonly logRetention?: RetentionDays;
}

/**
 * `discoverNumbers=true`: a custom resource (`lambdas/numbers`) that lists every linked WABA
 * (ListLinkedWhatsAppBusinessAccounts) and its numbers (GetLinkedWhatsAppBusinessAccount) at deploy
 * time, and points each WABA's events at the topic. Its attributes are the comma-joined ids (for
 * the functions' environment) and the list tokens of the ARNs (for their policies), so every
 * function's permissions name exactly the WABAs and numbers found.
 *
 * A redeploy discovers again when the stack changes; `-c discoveryRun=<anything new>` forces it
 * after a number was linked without a stack change.
 */
export class NumberDiscovery extends Construct {
  /** The phone number ids found, comma-joined (a token). */
  readonly phoneNumberIds: string;
  /** The WABA ids found, comma-joined (a token). */
  readonly wabaIds: string;
  /** The ARNs of the numbers found (a list token): the resources of the send policies. */
  readonly phoneNumberArns: string[];
  /** The ARNs of the WABAs found (a list token): the resources of the template policies. */
  readonly wabaArns: string[];

  constructor(scope: Construct, id: string, props: NumberDiscoveryProps & { readonly run?: string }) {
    super(scope, id);
    const fn = new HandlerFunction(this, 'Handler', {
      handler: 'numbers',
      timeout: Duration.minutes(2),
      description: 'Discovers the linked WhatsApp Business Accounts and their numbers on deploy',
      ...(props.logRetention !== undefined && { logRetention: props.logRetention }),
    });
    const stack = Stack.of(this);
    const anyWaba = stack.formatArn({ service: 'social-messaging', resource: 'waba', resourceName: '*' });
    // Listing has no resource; reading and pointing a WABA can only name WABAs not known before
    // the call, so the WABAs of this account and Region.
    fn.role.addToPolicy(new PolicyStatement({ actions: ['social-messaging:ListLinkedWhatsAppBusinessAccounts'], resources: ['*'] }));
    fn.role.addToPolicy(
      new PolicyStatement({
        actions: ['social-messaging:GetLinkedWhatsAppBusinessAccount', 'social-messaging:PutWhatsAppBusinessAccountEventDestinations'],
        resources: [anyWaba],
      }),
    );
    Validations.of(fn.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ListLinkedWhatsAppBusinessAccounts has no resource-level permission; tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which have none either.',
    });
    Validations.of(fn.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:social-messaging:<AWS::Region>:<AWS::AccountId>:waba/*]`,
      reason:
        'Discovery reads the WABAs it has just listed and points them at the event topic: which WABAs is only known at deploy time, so the WABAs of this account and Region. The functions that serve the WABAs are scoped to the ARNs found.',
    });

    const resource = new CustomResource(this, 'Resource', {
      resourceType: 'Custom::WhatsAppLinkedAccounts',
      serviceToken: fn.function.functionArn,
      properties: { EventTopicArn: props.topic.topicArn, ...(props.run !== undefined && { Run: props.run }) },
    });
    // The topic's policy lets End User Messaging Social publish before any WABA is pointed at it.
    resource.node.addDependency(props.topic);
    this.phoneNumberIds = resource.getAttString('PhoneNumberIds');
    this.wabaIds = resource.getAttString('WabaIds');
    this.phoneNumberArns = Token.asList(Fn.split(',', resource.getAttString('PhoneNumberArns')));
    this.wabaArns = Token.asList(Fn.split(',', resource.getAttString('WabaArns')));
  }
}
