/** Builds the events the inbound handler receives, from the JSON fixtures. */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';

const cache = new Map<string, unknown>();

/** An EUM envelope fixture (the SNS `Message` once parsed), as a fresh copy. */
export function eumFixture<T = Record<string, unknown>>(name: string): T {
  if (!cache.has(name)) {
    cache.set(name, JSON.parse(readFileSync(new URL(`../fixtures/eum/${name}.json`, import.meta.url), 'utf8')));
  }
  return structuredClone(cache.get(name)) as T;
}

/** The webhook entry inside an envelope, decoded. */
export function entryOf(envelope: Record<string, unknown>): any {
  return JSON.parse(envelope.whatsAppWebhookEntry as string);
}

/** An envelope with its webhook entry replaced. */
export function withEntry(envelope: Record<string, unknown>, entry: unknown): Record<string, unknown> {
  return { ...envelope, whatsAppWebhookEntry: JSON.stringify(entry) };
}

/** The SQS body SNS delivers for a published message (raw delivery off). */
export function snsNotification(message: unknown, topicArn = 'arn:aws:sns:us-east-1:111122223333:events'): string {
  return JSON.stringify({
    Type: 'Notification',
    MessageId: randomUUID(),
    TopicArn: topicArn,
    Message: typeof message === 'string' ? message : JSON.stringify(message),
    Timestamp: new Date().toISOString(),
    SignatureVersion: '1',
    Signature: 'c2lnbmF0dXJl',
    SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem',
    UnsubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe',
  });
}

export function sqsRecord(body: string, messageId: string = randomUUID()): SQSRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:111122223333:inbound-events',
    awsRegion: 'us-east-1',
  };
}

export function sqsEvent(bodies: string[]): SQSEvent {
  return { Records: bodies.map((b) => sqsRecord(b)) };
}
