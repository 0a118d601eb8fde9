import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId, type AwsSdkCall } from 'aws-cdk-lib/custom-resources';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays as Retention } from 'aws-cdk-lib/aws-logs';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Function as HandlerLambda } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct, type IConstruct } from 'constructs';
import { HandlerFunction } from './handler-function.ts';
import type { MessageStore, TableAccess } from './message-store.ts';
import { arnsOf, grantPhoneNumberActions } from './phone-numbers.ts';
import { wabaArn } from './waba-event-destination.ts';

/** Template operations of the API (catalog routes): read, create, delete. */
export const API_TEMPLATE_ACTIONS = [
  'ListWhatsAppMessageTemplates',
  'GetWhatsAppMessageTemplate',
  'CreateWhatsAppMessageTemplate',
  'CreateWhatsAppMessageTemplateFromLibrary',
  'DeleteWhatsAppMessageTemplate',
] as const;

/** What a sync reads. */
export const SYNC_TEMPLATE_ACTIONS = ['ListWhatsAppMessageTemplates', 'GetWhatsAppMessageTemplate'] as const;

/**
 * Allows End User Messaging Social template actions on the given WABAs only (the template
 * operations are operations of the WABA resource). With no WABA, nothing is granted.
 */
export function grantWabaActions(scope: IConstruct, grantee: IGrantable, wabaIds: readonly string[], actions: readonly string[]): void {
  if (wabaIds.length === 0) return;
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      actions: actions.map((a) => `social-messaging:${a}`),
      resources: arnsOf(wabaIds, (id) => wabaArn(Stack.of(scope), id)),
    }),
  );
}

/** A sync reads and updates catalog items, and lists a WABA's catalog through GSI1 (keys) and BatchGetItem (the items). */
export const TEMPLATE_SYNC_TABLE_ACCESS: TableAccess = { items: ['GetItem', 'BatchGetItem', 'UpdateItem'], queryIndexes: ['GSI1'] };

/** Properties of {@link TemplateSync}. */
export interface TemplateSyncProps {
  readonly store: MessageStore;
  /** The AWS WABA ids whose catalogs are synced. */
  readonly wabaIds: readonly string[];
  /** The phone numbers of the backend: their WABAs are the ones synced. */
  readonly phoneNumberIds: readonly string[];
  /**
   * How often the catalog is synced besides the template webhooks.
   * @default Duration.hours(6)
   */
  readonly every?: Duration;
  /** @default the HandlerFunction default */
  readonly logRetention?: RetentionDays;
}

/**
 * The template catalog sync: a function (`lambdas/templates`) run on a schedule and once after each
 * deploy, allowed to read the templates of the backend's WABAs only.
 */
export class TemplateSync extends Construct {
  readonly function: HandlerLambda;

  constructor(scope: Construct, id: string, props: TemplateSyncProps) {
    super(scope, id);
    const fn = new HandlerFunction(this, 'Handler', {
      handler: 'templates',
      timeout: Duration.minutes(5),
      description: 'Syncs the WhatsApp template catalog of each WABA into the table',
      environment: { TABLE_NAME: props.store.table.tableName, PHONE_NUMBER_IDS: props.phoneNumberIds.join(',') },
      ...(props.logRetention !== undefined && { logRetention: props.logRetention }),
    });
    this.function = fn.function;
    props.store.grantItemAccess(this.function, TEMPLATE_SYNC_TABLE_ACCESS);
    grantWabaActions(this, this.function, props.wabaIds, SYNC_TEMPLATE_ACTIONS);
    grantPhoneNumberActions(this, this.function, props.phoneNumberIds, ['GetLinkedWhatsAppBusinessAccountPhoneNumber']);
    new Rule(this, 'Schedule', {
      schedule: Schedule.rate(props.every ?? Duration.hours(6)),
      targets: [new LambdaFunction(this.function, { retryAttempts: 2 })],
    });
    // On deploy (created, or its WABAs or numbers changed), without holding the deployment up: an
    // asynchronous invocation, whose failure shows in the function's logs; the next scheduled run
    // tries again.
    const invoke: AwsSdkCall = {
      service: 'Lambda',
      action: 'invoke',
      parameters: { FunctionName: this.function.functionName, InvocationType: 'Event', Payload: JSON.stringify({ wabaIds: props.wabaIds, phoneNumberIds: props.phoneNumberIds }) },
      physicalResourceId: PhysicalResourceId.of('template-sync-on-deploy'),
    };
    const logGroup = new LogGroup(this, 'OnDeployLogs', { retention: props.logRetention ?? Retention.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    // Own role instead of the default one with the AWSLambdaBasicExecutionRole managed policy.
    const role = new Role(this, 'OnDeployRole', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    new AwsCustomResource(this, 'OnDeploy', {
      resourceType: 'Custom::WhatsAppTemplateSync',
      onCreate: invoke,
      onUpdate: invoke,
      policy: AwsCustomResourcePolicy.fromStatements([new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.function.functionArn] })]),
      role,
      logGroup,
      installLatestAwsSdk: false,
    });
  }
}
