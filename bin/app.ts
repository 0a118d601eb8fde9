import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { MediaEncryption } from '../lib/constructs/media-store.ts';
import { WhatsAppBackendStack } from '../lib/whatsapp-backend-stack.ts';

// Context (cdk.json or `-c key=value`):
//   stackName       stack name (default WhatsAppBackend)
//   wabaId          AWS WABA id (waba-<hex>) to point at the event topic
//   phoneNumberIds  comma-separated AWS phone number ids (phone-number-id-<hex>); required: without
//                   them every send answers 404 and every inbound media job fails into the DLQ
//   retainData      "false" for throwaway stacks: table without deletion protection, table, buckets,
//                   keys and access logs deleted with the stack (default true; a bucket must be
//                   empty to be deleted)
//   metaApiVersion  Meta Graph API version for sends (default v24.0)
//   webAclArn       regional WAF web ACL to associate with the API stage (default none)
//   apiCloudWatchRole  "false" when the account already has its API Gateway CloudWatch role
//   mediaCorsOrigins   comma-separated browser origins allowed to PUT/GET media with presigned
//                      URLs (default none: no CORS rule)
//   mediaEncryption    "kms" (default: the bucket's own customer-managed key) or "s3-managed" (SSE-S3)
//   retentionDays      days messages, conversations and inbound media are kept (default 365; cost in
//                      docs/data-model.md, Retention)
const app = new App();
const context = (key: string): unknown => app.node.tryGetContext(key);
const text = (key: string): string | undefined => {
  const value = context(key);
  return value === undefined || value === null || String(value).trim() === '' ? undefined : String(value).trim();
};
const list = (key: string): string[] =>
  (text(key) ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
const retainData = text('retainData') !== 'false';

/** Stops the synthesis with a message for the person running `cdk`, not a stack trace. */
function stop(message: string): never {
  process.stderr.write(`\n${message}\n\n`);
  process.exit(1);
}

const phoneNumberIds = list('phoneNumberIds');
if (text('discoverNumbers') !== undefined) {
  stop('discoverNumbers is not available in this version: pass the numbers with -c phoneNumberIds=phone-number-id-<hex>[,...].');
}
if (phoneNumberIds.length === 0) {
  stop(
    [
      'Context phoneNumberIds is missing: the backend sends from, and downloads media of, only the numbers it is given.',
      'Without them every send answers 404 and every inbound media job fails into the DLQ.',
      'Pass the AWS phone number ids (not the display numbers or Meta ids):',
      '  npx cdk deploy -c wabaId=waba-<hex> -c phoneNumberIds=phone-number-id-<hex>[,phone-number-id-<hex>...]',
      "List them with: aws socialmessaging get-linked-whatsapp-business-account --id waba-<hex> --query 'account.phoneNumbers[].phoneNumberId'",
      '(Discovering the numbers from the WABA at deploy time, a planned discoverNumbers=true option, does not exist yet.)',
    ].join('\n'),
  );
}

const MEDIA_ENCRYPTION: Readonly<Record<string, MediaEncryption>> = { kms: 'KMS', 's3-managed': 'S3_MANAGED' };
const mediaEncryption = MEDIA_ENCRYPTION[text('mediaEncryption') ?? 'kms'];
if (mediaEncryption === undefined) {
  stop(`Context mediaEncryption must be "kms" or "s3-managed", got "${text('mediaEncryption')}".`);
}

const retentionText = text('retentionDays');
const retentionDays = retentionText === undefined ? undefined : Number(retentionText);
if (retentionDays !== undefined && !(Number.isInteger(retentionDays) && retentionDays >= 1)) {
  stop(`Context retentionDays must be a whole number of days >= 1, got "${retentionText}".`);
}

new WhatsAppBackendStack(app, text('stackName') ?? 'WhatsAppBackend', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Serverless WhatsApp messaging backend on AWS End User Messaging Social',
  wabaId: text('wabaId'),
  phoneNumberIds,
  deletionProtection: retainData,
  removalPolicy: retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  retentionDays,
  apiOptions: {
    metaApiVersion: text('metaApiVersion'),
    webAclArn: text('webAclArn'),
    cloudWatchRole: text('apiCloudWatchRole') !== 'false',
  },
  mediaOptions: { corsAllowedOrigins: list('mediaCorsOrigins'), encryption: mediaEncryption },
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
