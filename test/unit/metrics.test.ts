import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeHandler } from '../../lambdas/inbound/handler.ts';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import { BACKEND_DIMENSION, BACKEND_ID_ENV, METRICS, METRICS_NAMESPACE } from '../../shared/metric-names.ts';
import { MetricTally } from '../../shared/metrics.ts';
import { freshTable } from '../support/dynamodb.ts';
import { emfLines, valueOf } from '../support/emf.ts';
import { eumFixture, snsNotification, sqsEvent } from '../support/events.ts';

const context = { functionName: 'inbound', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

describe('metrics of the inbound handler', () => {
  beforeEach(() => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    vi.stubEnv(BACKEND_ID_ENV, 'Test/WhatsAppBackend');
  });
  afterEach(() => vi.unstubAllEnvs());

  it('counts messages by type, statuses by status, failures by Meta code and quarantined events, per batch', async () => {
    // Prepare
    const { doc, tableName } = await freshTable();
    const handler = makeHandler({ store: new DynamoDbStore(doc, tableName) });
    const event = sqsEvent([
      snsNotification(eumFixture('inbound-text')),
      snsNotification(eumFixture('inbound-image')),
      snsNotification(eumFixture('status-delivered')),
      snsNotification(eumFixture('status-failed-131047')),
      'not json',
    ]);

    // Act
    const lines = await emfLines(() => handler(event, context));

    // Assess
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line._aws.CloudWatchMetrics[0]!.Namespace).toBe(METRICS_NAMESPACE);
      expect(line).toMatchObject({ service: 'whatsapp-backend', [BACKEND_DIMENSION]: 'Test/WhatsAppBackend' });
    }
    expect(valueOf(lines, METRICS.inboundMessages.name)).toBe(2);
    expect(valueOf(lines, METRICS.inboundMessages.name, { MessageType: 'text' })).toBe(1);
    expect(valueOf(lines, METRICS.inboundMessages.name, { MessageType: 'image' })).toBe(1);
    expect(valueOf(lines, METRICS.statuses.name)).toBe(2);
    expect(valueOf(lines, METRICS.statuses.name, { Status: 'failed' })).toBe(1);
    expect(valueOf(lines, METRICS.failedStatuses.name)).toBe(1);
    expect(valueOf(lines, METRICS.failedStatuses.name, { MetaErrorCode: '131047' })).toBe(1);
    expect(valueOf(lines, METRICS.quarantinedEvents.name)).toBe(1);
    // Counts and ids only: no phone number of the fixtures reaches the metrics.
    expect(JSON.stringify(lines)).not.toMatch(/16505551234|15550783881/);
  });

  it('writes nothing outside Lambda unless asked to', async () => {
    // Prepare
    vi.unstubAllEnvs();
    vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', undefined);
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', undefined);

    // Act
    const lines = await emfLines(async () => new MetricTally().add('sends', 'accepted').publish());

    // Assess
    expect(lines).toEqual([]);
  });
});
