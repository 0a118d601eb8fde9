/**
 * The secure defaults of every construct, in one place: what a prop left unset means. Constructs
 * read these instead of spelling the values again, so a reviewer finds them here.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

/** Every customer-managed KMS key rotates its material yearly. */
export const KEY_ROTATION = { enableKeyRotation: true } as const;

/** Buckets, queues and topics refuse requests that are not TLS (`aws:SecureTransport`). */
export const SSL_ONLY = { enforceSSL: true } as const;

/** What holds data (table, buckets, keys) stays when it leaves the stack, unless told otherwise. */
export const DATA_REMOVAL_POLICY = RemovalPolicy.RETAIN;

/** The message table refuses deletion unless told otherwise. */
export const TABLE_DELETION_PROTECTION = true;

/** How long function and API access logs are kept. */
export const LOG_RETENTION = RetentionDays.ONE_MONTH;

/**
 * CDK feature flags the constructs rely on, set on the backend's own subtree where the app has not
 * set them (an app that embeds the construct may have none of this repository's cdk.json): access
 * logs delivered by bucket policy, not ACLs; the SQS subscription's KMS grant limited to its topic;
 * custom resources use the SDK of their Lambda runtime (no install from npm at deploy time); key
 * policies scoped to the account and Region. The values equal cdk.json's (a test holds them there).
 */
export const FEATURE_FLAGS: Readonly<Record<string, boolean>> = {
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
  '@aws-cdk/aws-sns-subscriptions:restrictSqsDescryption': true,
  '@aws-cdk/customresources:installLatestAwsSdkDefault': false,
  '@aws-cdk/aws-kms:reduceCrossAccountRegionPolicyScope': true,
  '@aws-cdk/aws-iam:minimizePolicies': true,
  '@aws-cdk/aws-lambda:useCdkManagedLogGroup': true,
};
