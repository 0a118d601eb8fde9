import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { MONITORING_DEFAULTS } from '../../lib/constructs/monitoring.ts';
import { BACKEND_DIMENSION, BACKEND_ID_ENV, MEDIA_FAILED_OUTCOME, METRICS, METRICS_NAMESPACE, SERVICE_NAME } from '../../shared/metric-names.ts';
import { arnOf, deadLetterQueueIdOf, functionIdOf, logicalIdOf, PHONE_NUMBER_ID, synthesize, WABA_ID } from './support.ts';

const PROPS = { wabaId: WABA_ID, phoneNumberIds: [PHONE_NUMBER_ID] };
const FUNCTIONS = [/Stores WhatsApp events/, /WhatsApp backend HTTP API/, /Copies inbound WhatsApp media/, /Publishes the table's changes/, /Delivers domain events/];

type Alarm = { Properties: Record<string, any> };
const alarmsOf = (template: ReturnType<typeof synthesize>['template']) =>
  Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Alarm[];

const alarmTopicIdOf = (template: ReturnType<typeof synthesize>['template']) =>
  logicalIdOf(template, 'AWS::SNS::Topic', { DisplayName: 'WhatsApp backend alarms' });

describe('alarm topic', () => {
  it('is encrypted with its own rotated key, which CloudWatch may use for this account only, and is an output', () => {
    // Prepare
    const { template } = synthesize(PROPS);

    // Act
    const topicId = alarmTopicIdOf(template);
    const keyId = logicalIdOf(template, 'AWS::KMS::Key', { Description: 'Encrypts the WhatsApp backend alarm topic' });

    // Assess
    template.hasResourceProperties('AWS::SNS::Topic', { DisplayName: 'WhatsApp backend alarms', KmsMasterKeyId: arnOf(keyId) });
    template.hasResourceProperties('AWS::KMS::Key', {
      Description: 'Encrypts the WhatsApp backend alarm topic',
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Resource: { Ref: topicId } }),
        ]),
      },
    });
    template.hasOutput('AlarmTopicArn', { Value: { Ref: topicId } });
  });

  it('is what every alarm notifies, when it fires and when it clears', () => {
    // Prepare
    const { template } = synthesize(PROPS);
    const topicId = alarmTopicIdOf(template);

    // Act
    const alarms = alarmsOf(template);

    // Assess
    expect(alarms.length).toBe(5 + 6 * 2 + 2 + 3 + 2); // a DLQ alarm each (broadcasts included), errors and throttles of each function, API, domain, webhooks
    for (const a of alarms) {
      expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(a.Properties.OKActions).toEqual([{ Ref: topicId }]);
      expect(a.Properties.TreatMissingData).toBe('notBreaching');
    }
  });
});

describe('alarms', () => {
  it('fire on any message in every dead-letter queue', () => {
    // Prepare
    const { template } = synthesize(PROPS);
    const queues = Object.entries(template.toJSON().Resources as Record<string, any>).filter(
      ([, r]) => r.Type === 'AWS::SQS::Queue' && r.Properties.RedrivePolicy,
    );

    // Act
    const dlqIds = queues.map(([id]) => deadLetterQueueIdOf(template, id));

    // Assess
    expect(dlqIds).toHaveLength(5); // inbound, media, webhook delivery, webhook retry, broadcasts
    for (const dlqId of dlqIds) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }],
        Statistic: 'Maximum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
  });

  it('fire on errors and throttles of every function', () => {
    // Prepare
    const { template } = synthesize(PROPS);

    // Act
    const functionIds = FUNCTIONS.map((d) => functionIdOf(template, d));

    // Assess
    for (const id of functionIds) {
      for (const [metric, threshold] of [['Errors', MONITORING_DEFAULTS.functionErrors], ['Throttles', MONITORING_DEFAULTS.functionThrottles]] as const) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/Lambda',
          MetricName: metric,
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: id } }],
          Statistic: 'Sum',
          Threshold: threshold,
        });
      }
    }
  });

  it("fire on the API stage's 5xx answers and p99 latency", () => {
    // Prepare
    const { template } = synthesize(PROPS);

    // Act
    const stageDims = Match.arrayWith([Match.objectLike({ Name: 'ApiName' }), { Name: 'Stage', Value: Match.anyValue() }]);

    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApiGateway', MetricName: '5XXError', Dimensions: stageDims, Statistic: 'Sum', Threshold: MONITORING_DEFAULTS.api5xx,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApiGateway', MetricName: 'Latency', Dimensions: stageDims, ExtendedStatistic: 'p99', Threshold: MONITORING_DEFAULTS.apiP99LatencyMs,
    });
  });

  it("read the backend's own metrics under the names and Backend id the functions write them with", () => {
    // Prepare
    const { template } = synthesize(PROPS);
    const backendIds = FUNCTIONS.map((d) => template.toJSON().Resources[functionIdOf(template, d)].Properties.Environment.Variables[BACKEND_ID_ENV]);
    expect(new Set(backendIds)).toEqual(new Set(['Test/WhatsAppBackend']));
    // Exactly the dimensions of the EMF lines (CloudFormation lists them sorted by name).
    const dims = (extra: Record<string, string> = {}) =>
      Object.entries({ service: SERVICE_NAME, [BACKEND_DIMENSION]: 'Test/WhatsAppBackend', ...extra })
        .map(([Name, Value]) => ({ Name, Value }))
        .sort((a, b) => (a.Name < b.Name ? -1 : 1));

    // Act
    const alarms = alarmsOf(template);
    const share = alarms.find((a) => a.Properties.Metrics !== undefined)!;

    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE, MetricName: METRICS.quarantinedEvents.name, Dimensions: dims(), Threshold: MONITORING_DEFAULTS.quarantinedEvents,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: METRICS.mediaCopies.name,
      Dimensions: dims({ [METRICS.mediaCopies.by]: MEDIA_FAILED_OUTCOME }),
      Threshold: MONITORING_DEFAULTS.mediaFailures,
    });
    for (const [outcome, threshold] of [['failed', MONITORING_DEFAULTS.webhookFailures], ['parked', MONITORING_DEFAULTS.webhookParked]] as const) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: METRICS_NAMESPACE,
        MetricName: METRICS.webhookDeliveries.name,
        Dimensions: dims({ [METRICS.webhookDeliveries.by]: outcome }),
        Statistic: 'Sum',
        Threshold: threshold,
      });
    }
    expect(share.Properties.Threshold).toBe(MONITORING_DEFAULTS.failedStatusPercent);
    const metrics = share.Properties.Metrics as { Id: string; Expression?: string; MetricStat?: { Metric: { MetricName: string; Namespace: string } } }[];
    expect(metrics.find((m) => m.Expression)?.Expression).toBe(
      `IF(statuses >= ${MONITORING_DEFAULTS.failedStatusMinimum}, 100 * FILL(failed, 0) / statuses, 0)`,
    );
    expect(metrics.filter((m) => m.MetricStat).map((m) => [m.Id, m.MetricStat!.Metric.Namespace, m.MetricStat!.Metric.MetricName]).sort()).toEqual([
      ['failed', METRICS_NAMESPACE, METRICS.failedStatuses.name],
      ['statuses', METRICS_NAMESPACE, METRICS.statuses.name],
    ]);
  });

  it('take their thresholds from the monitoring props', () => {
    // Prepare / Act
    const { template } = synthesize({ ...PROPS, monitoring: { apiP99LatencyMs: 1500, failedStatusPercent: 25, failedStatusMinimum: 100, quarantinedEvents: 10, webhookParked: 3 } });

    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Latency', Threshold: 1500 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: METRICS.quarantinedEvents.name, Threshold: 10 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: METRICS.webhookDeliveries.name,
      Dimensions: Match.arrayWith([{ Name: METRICS.webhookDeliveries.by, Value: 'parked' }]),
      Threshold: 3,
    });
    const share = alarmsOf(template).find((a) => a.Properties.Metrics !== undefined)!;
    expect(share.Properties.Threshold).toBe(25);
    expect(JSON.stringify(share.Properties.Metrics)).toContain('IF(statuses >= 100,');
  });
});

describe('dashboard', () => {
  it('shows every alarm and graphs the same signals', () => {
    // Prepare
    const { template } = synthesize(PROPS);

    // Act
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as Alarm[];
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);

    // Assess
    expect(body).toContain('\\"type\\":\\"alarm\\"');
    for (const name of ['ApproximateNumberOfMessagesVisible', 'Errors', 'Throttles', '5XXError', 'Latency', ...Object.values(METRICS).map((m) => m.name)]) {
      expect(body, name).toContain(`\\"${name}\\"`);
    }
  });
});
