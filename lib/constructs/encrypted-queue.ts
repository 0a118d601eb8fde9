import { Duration } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { DLQ_RETENTION_DAYS, type QueueSpec, visibilityTimeoutSeconds } from '../../shared/resource-spec.ts';
import { SSL_ONLY } from '../defaults.ts';

/**
 * A queue and its DLQ as every queue of the backend is built: both encrypted with the given
 * customer-managed key, refusing requests without TLS, the visibility timeout and receive count from
 * the queue's spec. Made in `scope` itself (ids `DeadLetterQueue` and `Queue`), not in a construct
 * of its own, so the logical ids of the queues of a deployed stack stay what they are.
 */
export function encryptedQueue(scope: Construct, key: IKey, spec: QueueSpec): { queue: Queue; deadLetterQueue: Queue } {
  const deadLetterQueue = new Queue(scope, 'DeadLetterQueue', {
    encryption: QueueEncryption.KMS,
    encryptionMasterKey: key,
    ...SSL_ONLY,
    retentionPeriod: Duration.days(DLQ_RETENTION_DAYS),
  });
  const queue = new Queue(scope, 'Queue', {
    encryption: QueueEncryption.KMS,
    encryptionMasterKey: key,
    ...SSL_ONLY,
    visibilityTimeout: Duration.seconds(visibilityTimeoutSeconds(spec)),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: spec.maxReceiveCount },
  });
  return { queue, deadLetterQueue };
}
