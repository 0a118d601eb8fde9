import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbStore } from '../../shared/adapters/dynamodb-store.ts';
import type { EventStore } from '../../shared/ports/event-store.ts';
import { makeHandler } from '../../lambdas/inbound/handler.ts';
import { freshTable } from '../support/dynamodb.ts';
import { entryOf, eumFixture, snsNotification, sqsEvent, withEntry } from '../support/events.ts';

const context = { functionName: 'inbound', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

let doc: Awaited<ReturnType<typeof freshTable>>['doc'];
let tableName: string;
let store: DynamoDbStore;

beforeEach(async () => {
  ({ doc, tableName } = await freshTable());
  store = new DynamoDbStore(doc, tableName);
});

const byEntity = async (entity: string) =>
  (await doc.send(new ScanCommand({ TableName: tableName, FilterExpression: 'entity = :e', ExpressionAttributeValues: { ':e': entity } }))).Items ?? [];

describe('inbound handler', () => {
  it('stores a poison record in quarantine while its batch-mates are stored, and acknowledges all', async () => {
    const handler = makeHandler({ store });
    const event = sqsEvent([
      snsNotification(eumFixture('inbound-text')),
      'definitely not json',
      snsNotification(eumFixture('status-sent')),
      snsNotification({ unrelated: true }),
    ]);

    const response = await handler(event, context);

    expect(response.batchItemFailures).toEqual([]);
    const messages = await byEntity('message');
    expect(messages.map((m) => m.direction).sort()).toEqual(['inbound', 'outbound']);
    const quarantined = await byEntity('quarantine');
    expect(quarantined.map((q) => q.reason).sort()).toEqual([
      'body is not JSON',
      expect.stringMatching(/^not an End User Messaging Social envelope/),
    ]);
    expect(quarantined.find((q) => q.reason === 'body is not JSON')).toMatchObject({
      raw: 'definitely not json',
      source: event.Records[1]!.messageId,
    });
  });

  it('quarantines a poison envelope once though SNS delivered it in two notifications', async () => {
    const handler = makeHandler({ store });
    const poison = { context: { MetaPhoneNumberIds: [] }, whatsAppWebhookEntry: '{oops' };
    const event = sqsEvent([snsNotification(poison), snsNotification(poison)]);

    const response = await handler(event, context);

    expect(response.batchItemFailures).toEqual([]);
    const quarantined = await byEntity('quarantine');
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0]).toMatchObject({ reason: 'whatsAppWebhookEntry is not JSON', raw: expect.stringContaining('"Type":"Notification"') });
  });

  it('stores the good elements of a half-bad event and quarantines the event with the reason', async () => {
    const env = eumFixture('multi-change');
    const entry = entryOf(env);
    entry.changes[1].value.statuses[0].status = '';
    const handler = makeHandler({ store });

    const response = await handler(sqsEvent([snsNotification(withEntry(env, entry))]), context);

    expect(response.batchItemFailures).toEqual([]);
    expect(await byEntity('message')).toHaveLength(3); // two messages + the good status
    const [q] = await byEntity('quarantine');
    expect(q?.reason).toMatch(/^changes\.1\.value\.statuses\.0: status/);
  });

  it('reports only the record that hit a transient failure, so only it comes back', async () => {
    const throttle = new Error('Rate of requests exceeds the allowed throughput.');
    throttle.name = 'ProvisionedThroughputExceededException';
    const flaky: EventStore = {
      recordInbound: (m) => (m.contactId === '447700900123' ? Promise.reject(throttle) : store.recordInbound(m)),
      recordStatus: (s) => store.recordStatus(s),
      recordAccountEvent: (e) => store.recordAccountEvent(e),
      quarantine: (q) => store.quarantine(q),
    };
    const handler = makeHandler({ store: flaky });
    const event = sqsEvent([snsNotification(eumFixture('inbound-text')), snsNotification(eumFixture('multi-change'))]);

    const response = await handler(event, context);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1]!.messageId }]);
    expect(await byEntity('quarantine')).toEqual([]);
  });

  it('stores an account event whose envelope names no phone numbers instead of quarantining it', async () => {
    const handler = makeHandler({ store });

    const response = await handler(sqsEvent([snsNotification(eumFixture('account-update-no-phone-context'))]), context);

    expect(response.batchItemFailures).toEqual([]);
    expect(await byEntity('quarantine')).toEqual([]);
    expect((await byEntity('accountEvent')).map((e) => e.field)).toEqual(['account_update']);
  });

  it('handles every inbound fixture without quarantining any', async () => {
    const fixtures = [
      'inbound-text', 'inbound-text-ad-referral', 'inbound-text-product-context', 'inbound-text-forwarded',
      'inbound-text-reply', 'inbound-image', 'inbound-video', 'inbound-audio-voice', 'inbound-document',
      'inbound-sticker', 'inbound-location', 'inbound-contacts', 'inbound-interactive-button-reply',
      'inbound-interactive-list-reply', 'inbound-interactive-nfm-reply', 'inbound-button', 'inbound-reaction',
      'inbound-reaction-removed', 'inbound-order', 'inbound-system', 'inbound-unsupported', 'inbound-unknown-type',
      'inbound-bsuid-only', 'value-errors', 'template-status-update', 'flow-status-change',
    ];
    const handler = makeHandler({ store });

    const response = await handler(sqsEvent(fixtures.map((f) => snsNotification(eumFixture(f)))), context);

    expect(response.batchItemFailures).toEqual([]);
    expect(await byEntity('quarantine')).toEqual([]);
    const types = (await byEntity('message')).map((m) => m.type).sort();
    expect(new Set(types)).toEqual(
      new Set(['text', 'image', 'video', 'audio', 'document', 'sticker', 'location', 'contacts', 'interactive', 'button', 'reaction', 'order', 'system', 'unsupported', 'poll_vote']),
    );
    expect(await byEntity('accountEvent')).toHaveLength(3);
  });
});
