import { RemovalPolicy } from 'aws-cdk-lib';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { QueueSpec } from '../../shared/resource-spec.ts';
import { encryptedQueue } from './encrypted-queue.ts';
import { DATA_REMOVAL_POLICY, KEY_ROTATION } from '../defaults.ts';

/** Properties of {@link WorkQueue}. */
export interface WorkQueueProps {
  /** Visibility timeout (from the handler timeout) and DLQ receive count. */
  readonly queueSpec: QueueSpec;
  /**
   * What happens to the queues' KMS key when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly keyRemovalPolicy?: RemovalPolicy;
}

/**
 * A queue fed by the backend's own producers (not by the event topic) and its DLQ, both encrypted
 * with their own customer-managed key (rotation on) and refusing requests without TLS.
 */
export class WorkQueue extends Construct {
  readonly key: Key;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: WorkQueueProps) {
    super(scope, id);
    const spec = props.queueSpec;
    this.key = new Key(this, 'Key', {
      description: `Encrypts the ${spec.name} queue and its DLQ`,
      ...KEY_ROTATION,
      removalPolicy: props.keyRemovalPolicy ?? DATA_REMOVAL_POLICY,
    });
    ({ queue: this.queue, deadLetterQueue: this.deadLetterQueue } = encryptedQueue(this, this.key, spec));
  }

  /**
   * Lets a principal send messages to the queue and nothing else: `sqs:SendMessage` on this queue,
   * and on its key what SQS needs for it (a data key to encrypt with, which it may have to decrypt
   * when SQS reuses a cached one).
   */
  grantSend(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.queue.queueArn] }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [this.key.keyArn] }),
    );
  }
}
