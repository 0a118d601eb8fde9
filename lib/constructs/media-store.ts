import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type CfnBucket,
  HttpMethods,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DATA_REMOVAL_POLICY, KEY_ROTATION, SSL_ONLY } from '../defaults.ts';

/** Key prefix of media downloaded from WhatsApp (inbound messages). */
export const INBOUND_MEDIA_PREFIX = 'inbound/';
/** Key prefix of files callers upload to send (outbound messages). */
export const OUTBOUND_MEDIA_PREFIX = 'outbound/';
/** Key prefix of uploaded broadcast recipient lists. */
// From the resource spec, not the domain: the construct's package loads no zod.
export { RECIPIENT_LIST_PREFIX } from '../../shared/resource-spec.ts';
import { RECIPIENT_LIST_PREFIX } from '../../shared/resource-spec.ts';
/** Days an uploaded recipient list is kept: a broadcast reads it within hours. */
const RECIPIENT_LIST_RETENTION_DAYS = 7;

/**
 * How the media bucket is encrypted at rest: its own customer-managed KMS key, or S3-managed keys
 * (SSE-S3), which need no key permission from anyone who reads or writes the bucket.
 */
export type MediaEncryption = 'KMS' | 'S3_MANAGED';

/** The tunable settings of {@link MediaStore} (what a backend passes through as `mediaOptions`). */
export interface MediaStoreOptions {
  /**
   * Days an inbound media file is kept after it was stored. A backend aligns it with its
   * messages' `retentionDays`.
   * @default 365
   */
  readonly inboundRetentionDays?: number;
  /**
   * Days an outbound upload (registered with WhatsApp or abandoned) is kept. WhatsApp keeps an
   * uploaded media id for 30 days, after which the file is of no use for sending.
   * @default 30
   */
  readonly outboundRetentionDays?: number;
  /**
   * Days the server access logs of the media bucket are kept.
   * @default 90
   */
  readonly accessLogRetentionDays?: number;
  /**
   * Browser origins (`https://app.example.com`) that may PUT uploads to and GET files from the
   * bucket with presigned URLs. Server-side callers (SDKs, curl) need no CORS at all.
   * @default - none: no CORS rule, so browsers on other origins cannot read or write the bucket
   */
  readonly corsAllowedOrigins?: readonly string[];
  /**
   * Encryption at rest of the media bucket. With `KMS`, whoever presigns a URL or has End User
   * Messaging Social read or write the bucket on its behalf needs the key too (the `grant*`
   * methods give it); choose `S3_MANAGED` if a caller outside this stack cannot be granted the key.
   * @default 'KMS'
   */
  readonly encryption?: MediaEncryption;
}

/** Properties of {@link MediaStore}. */
export interface MediaStoreProps extends MediaStoreOptions {
  /**
   * What happens to the buckets and the media key when they leave the stack. A bucket that still
   * holds objects cannot be deleted: empty it first.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Whole days, at least one. */
function days(value: number, name: string): Duration {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number of days >= 1, got ${value}`);
  return Duration.days(value);
}

/**
 * The media bucket: inbound files downloaded from WhatsApp under `inbound/`, files callers upload
 * to send under `outbound/`.
 *
 * - Encrypted by default with its own customer-managed KMS key (rotation on, S3 bucket key on to
 *   keep KMS requests low). Presigned URLs keep working with SSE-KMS: S3 uses the key with the
 *   signer's permissions, so whoever presigns must be granted the key (the `grant*` methods do
 *   that), and browsers send nothing KMS-specific. S3-managed encryption is an option.
 * - All public access blocked, ACLs disabled (bucket owner enforced), TLS 1.2+ required.
 * - Lifecycle: `inbound/` and `outbound/` expire after their retention; incomplete multipart
 *   uploads are aborted after one day. Versioning is off: files are written once.
 * - Server access logs go to a second bucket (SSE-S3, the only encryption S3 log delivery
 *   supports), kept for a limited time.
 * - CORS only for the configured origins.
 */
export class MediaStore extends Construct {
  readonly bucket: Bucket;
  /** The bucket's key; undefined with S3-managed encryption. */
  readonly key?: Key;
  readonly accessLogsBucket: Bucket;

  constructor(scope: Construct, id: string, props: MediaStoreProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? DATA_REMOVAL_POLICY;
    const origins = [...(props.corsAllowedOrigins ?? [])];

    this.accessLogsBucket = new Bucket(this, 'AccessLogs', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      ...SSL_ONLY,
      minimumTLSVersion: 1.2,
      removalPolicy,
      lifecycleRules: [
        {
          id: 'ExpireAccessLogs',
          expiration: days(props.accessLogRetentionDays ?? 90, 'accessLogRetentionDays'),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket is the destination of the media bucket access logs; logging it to itself would loop.',
    });

    const kms = (props.encryption ?? 'KMS') === 'KMS';
    this.key = kms
      ? new Key(this, 'Key', {
          description: 'Encrypts the WhatsApp backend media bucket',
          ...KEY_ROTATION,
          removalPolicy,
        })
      : undefined;

    this.bucket = new Bucket(this, 'Bucket', {
      ...(this.key
        ? { encryption: BucketEncryption.KMS, encryptionKey: this.key, bucketKeyEnabled: true }
        : { encryption: BucketEncryption.S3_MANAGED }),
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      ...SSL_ONLY,
      minimumTLSVersion: 1.2,
      versioned: false,
      removalPolicy,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'media/',
      lifecycleRules: [
        {
          id: 'ExpireInboundMedia',
          prefix: INBOUND_MEDIA_PREFIX,
          expiration: days(props.inboundRetentionDays ?? 365, 'inboundRetentionDays'),
        },
        {
          id: 'ExpireOutboundMedia',
          prefix: OUTBOUND_MEDIA_PREFIX,
          expiration: days(props.outboundRetentionDays ?? 30, 'outboundRetentionDays'),
        },
        { id: 'ExpireRecipientLists', prefix: RECIPIENT_LIST_PREFIX, expiration: Duration.days(RECIPIENT_LIST_RETENTION_DAYS) },
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      cors:
        origins.length === 0
          ? undefined
          : [
              {
                allowedOrigins: origins,
                allowedMethods: [HttpMethods.PUT, HttpMethods.GET, HttpMethods.HEAD],
                // What a presigned PUT may carry: its content type and the SDK's checksum headers.
                allowedHeaders: ['content-type', 'content-md5', 'x-amz-*'],
                exposedHeaders: ['etag'],
                maxAge: 3000,
              },
            ],
    });
  }

  /**
   * Lets a principal write and read outbound uploads (`outbound/*`): what presigning an upload URL
   * and checking the uploaded file need. Without `s3:ListBucket`, S3 answers a missing key with
   * 403, not 404.
   */
  grantOutboundReadWrite(grantee: IGrantable): void {
    this.grantObjects(grantee, OUTBOUND_MEDIA_PREFIX, ['s3:PutObject', 's3:GetObject']);
    // Listing its own prefix lets the completion check tell a missing upload (S3 answers 403 then).
    this.grantList(grantee, OUTBOUND_MEDIA_PREFIX);
    this.grantKey(grantee, ['kms:Decrypt', 'kms:GenerateDataKey']);
  }

  /**
   * Lets a principal hand out upload URLs of broadcast recipient lists and check the uploaded file
   * (`broadcasts/*`; listing the prefix tells a missing upload from a refusal).
   */
  grantRecipientListWrite(grantee: IGrantable): void {
    this.grantObjects(grantee, RECIPIENT_LIST_PREFIX, ['s3:PutObject', 's3:GetObject']);
    this.grantList(grantee, RECIPIENT_LIST_PREFIX);
    this.grantKey(grantee, ['kms:Decrypt', 'kms:GenerateDataKey']);
  }

  /** Lets a principal read uploaded recipient lists (`broadcasts/*`), page by page. */
  grantRecipientListRead(grantee: IGrantable): void {
    this.grantObjects(grantee, RECIPIENT_LIST_PREFIX, ['s3:GetObject']);
    this.grantKey(grantee, ['kms:Decrypt']);
  }

  /** Lets a principal read stored inbound media (`inbound/*`), e.g. to presign download URLs. */
  grantInboundRead(grantee: IGrantable): void {
    this.grantObjects(grantee, INBOUND_MEDIA_PREFIX, ['s3:GetObject']);
    this.grantKey(grantee, ['kms:Decrypt']);
  }

  /**
   * Lets a principal store, read and list inbound media: objects under `inbound/*`, and
   * `s3:ListBucket` on the bucket only for prefixes under `inbound/`.
   */
  grantInboundReadWrite(grantee: IGrantable): void {
    this.grantObjects(grantee, INBOUND_MEDIA_PREFIX, ['s3:PutObject', 's3:GetObject']);
    this.grantList(grantee, INBOUND_MEDIA_PREFIX);
    this.grantKey(grantee, ['kms:Decrypt', 'kms:GenerateDataKey']);
  }

  /** `s3:ListBucket` on the bucket, only for prefixes under `prefix`. */
  private grantList(grantee: IGrantable, prefix: string): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': `${prefix}*` } },
      }),
    );
  }

  private grantObjects(grantee: IGrantable, prefix: string, actions: string[]): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions, resources: [this.bucket.arnForObjects(`${prefix}*`)] }),
    );
    const principal = grantee.grantPrincipal;
    if (Construct.isConstruct(principal)) {
      const stack = Stack.of(this);
      const bucketId = stack.resolve(stack.getLogicalId(this.bucket.node.defaultChild as CfnBucket)) as string;
      Validations.of(principal).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}*]`,
        reason: `Objects under the ${prefix} prefix of the media bucket only: keys are created per upload or message, so the object ARN needs the wildcard.`,
      });
    }
  }

  /** The media key, and only for requests S3 makes on the principal's behalf. */
  private grantKey(grantee: IGrantable, actions: string[]): void {
    if (!this.key) return;
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions,
        resources: [this.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }
}
