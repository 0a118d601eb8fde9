import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { MediaEncryption } from '../lib/constructs/media-store.ts';
import { WhatsAppBackendStack } from '../lib/whatsapp-backend-stack.ts';

// Context (cdk.json or `-c key=value`):
//   stackName       stack name (default WhatsAppBackend)
//   wabaIds         comma-separated AWS WABA ids (waba-<hex>) to point at the event topic and whose
//                   templates the backend manages; wabaId (one id) still works
//   phoneNumberIds  comma-separated AWS phone number ids (phone-number-id-<hex>); required unless
//                   discoverNumbers: without them every send answers 404 and every inbound media
//                   job fails into the DLQ
//   discoverNumbers "true": serve every linked WABA and every number of it, found at deploy time,
//                   instead of wabaIds and phoneNumberIds; discoveryRun=<new value> discovers again
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
//   indexProjection    "KEYS_ONLY" (default) or "ALL" for a table created by an earlier version
//                      (docs/capacity.md, Upgrading an existing table)
//   broadcastMps       messages per second a broadcast sends from one number (default 76)
//   broadcastMpsByNumber  numbers whose throughput differs: phone-number-id-<hex>=<mps>,…
//   messagingTier      unique users broadcasts may reach in 24 hours (default unlimited)
//   stopKeywords       comma-separated answers that stop marketing messages (default STOP,UNSUBSCRIBE)
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
const wabaIds = [...list('wabaId'), ...list('wabaIds')];
const discover = text('discoverNumbers');
if (discover !== undefined && discover !== 'true' && discover !== 'false') {
  stop(`Context discoverNumbers must be "true" or "false", got "${discover}".`);
}
const discoverNumbers = discover === 'true';
if (discoverNumbers && (phoneNumberIds.length > 0 || wabaIds.length > 0)) {
  stop('Context discoverNumbers=true finds the WABAs and numbers itself: pass it without wabaId, wabaIds and phoneNumberIds, or drop it and list them.');
}
if (phoneNumberIds.length === 0 && !discoverNumbers) {
  stop(
    [
      'Context phoneNumberIds is missing: the backend sends from, and downloads media of, only the numbers it is given.',
      'Without them every send answers 404 and every inbound media job fails into the DLQ. Either',
      '  - pass the AWS phone number ids (not the display numbers or Meta ids) and their WABAs:',
      '      npx cdk deploy -c wabaIds=waba-<hex>[,waba-<hex>...] -c phoneNumberIds=phone-number-id-<hex>[,phone-number-id-<hex>...]',
      "    (list them with: aws socialmessaging get-linked-whatsapp-business-account --id waba-<hex> --query 'account.phoneNumbers[].phoneNumberId'), or",
      '  - let the stack find every linked WABA and number at deploy time:',
      '      npx cdk deploy -c discoverNumbers=true',
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

const indexProjection = text('indexProjection');
if (indexProjection !== undefined && indexProjection !== 'KEYS_ONLY' && indexProjection !== 'ALL') {
  stop(`Context indexProjection must be "KEYS_ONLY" or "ALL" (a table created by an earlier version), got "${indexProjection}".`);
}

/** A context value that must be a number, or absent. */
function numberOf(key: string): number | undefined {
  const given = text(key);
  if (given === undefined) return undefined;
  const n = Number(given);
  if (!Number.isFinite(n)) stop(`Context ${key} must be a number, got "${given}".`);
  return n;
}
const mpsByNumber = Object.fromEntries(
  list('broadcastMpsByNumber').map((pair) => {
    const [id, mps] = pair.split('=').map((x) => x.trim());
    if (!id || mps === undefined || !Number.isFinite(Number(mps))) stop(`Context broadcastMpsByNumber must be phone-number-id-<hex>=<mps>,…, got "${pair}".`);
    return [id, Number(mps)];
  }),
);
const broadcastMps = numberOf('broadcastMps');
const messagingTier = numberOf('messagingTier');
const stopKeywords = list('stopKeywords');

new WhatsAppBackendStack(app, text('stackName') ?? 'WhatsAppBackend', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Serverless WhatsApp messaging backend on AWS End User Messaging Social',
  wabaIds,
  phoneNumberIds,
  discoverNumbers,
  discoveryRun: text('discoveryRun'),
  deletionProtection: retainData,
  removalPolicy: retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  retentionDays,
  indexProjection,
  apiOptions: {
    metaApiVersion: text('metaApiVersion'),
    webAclArn: text('webAclArn'),
    cloudWatchRole: text('apiCloudWatchRole') !== 'false',
  },
  mediaOptions: { corsAllowedOrigins: list('mediaCorsOrigins'), encryption: mediaEncryption },
  broadcastOptions: {
    ...(broadcastMps !== undefined && { messagesPerSecond: broadcastMps }),
    messagesPerSecondByNumber: mpsByNumber,
    ...(messagingTier !== undefined && { messagingTier }),
    ...(stopKeywords.length > 0 && { stopKeywords }),
  },
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
