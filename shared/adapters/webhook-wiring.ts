/**
 * The webhook adapters a function builds from its environment: the secret cipher (KMS when
 * WEBHOOKS_KEY_ID is set; the local key otherwise, and a missing one fails loudly), the store, the
 * retry queue and the URL policy.
 */
import { lookup } from 'node:dns/promises';
import { KMSClient } from '@aws-sdk/client-kms';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { loadConfig } from '../config.ts';
import { traced } from '../tracing.ts';
import { sqsClient } from './aws-clients.ts';
import type { UrlPolicy } from '../domain/webhooks.ts';
import { DynamoDbWebhooks } from './dynamodb-webhooks.ts';
import { SqsRetryQueue } from './sqs-webhook-retries.ts';
import { KmsSecretCipher, LocalSecretCipher } from './webhook-secrets.ts';

export function webhookAdapters(doc: DynamoDBDocumentClient) {
  const config = loadConfig(['TABLE_NAME', 'WEBHOOKS_KEY_ID', 'WEBHOOKS_LOCAL_KEY', 'WEBHOOK_RETRY_QUEUE_URL', 'WEBHOOKS_ALLOW_LOOPBACK']);
  let secrets;
  if (config.WEBHOOKS_KEY_ID) secrets = new KmsSecretCipher(traced(new KMSClient({})), config.WEBHOOKS_KEY_ID);
  else if (config.WEBHOOKS_LOCAL_KEY) secrets = new LocalSecretCipher(config.WEBHOOKS_LOCAL_KEY);
  else throw new Error('Invalid configuration: WEBHOOKS_KEY_ID (or, locally, WEBHOOKS_LOCAL_KEY) is required');
  const allowLoopback = config.WEBHOOKS_ALLOW_LOOPBACK === 'true';
  const urlPolicy: UrlPolicy = {
    allowLoopback,
    resolve: async (host) => (await lookup(host, { all: true })).map((a) => a.address),
  };
  return {
    webhooks: new DynamoDbWebhooks(doc, config.TABLE_NAME),
    secrets,
    retries: new SqsRetryQueue(sqsClient(), config.WEBHOOK_RETRY_QUEUE_URL),
    urlPolicy,
    allowLoopback,
  };
}
