import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { WhatsAppBackendStack } from '../lib/whatsapp-backend-stack.ts';

// Context (cdk.json or `-c key=value`):
//   stackName       stack name (default WhatsAppBackend)
//   wabaId          AWS WABA id (waba-<hex>) to point at the event topic
//   phoneNumberIds  comma-separated AWS phone number ids (phone-number-id-<hex>)
//   retainData      "false" for throwaway stacks: table without deletion protection, table, buckets,
//                   keys and access logs deleted with the stack (default true; a bucket must be
//                   empty to be deleted)
//   metaApiVersion  Meta Graph API version for sends (default v24.0)
//   webAclArn       regional WAF web ACL to associate with the API stage (default none)
//   apiCloudWatchRole  "false" when the account already has its API Gateway CloudWatch role
//   mediaCorsOrigins   comma-separated browser origins allowed to PUT/GET media with presigned
//                      URLs (default none: no CORS rule)
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

new WhatsAppBackendStack(app, text('stackName') ?? 'WhatsAppBackend', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Serverless WhatsApp messaging backend on AWS End User Messaging Social',
  wabaId: text('wabaId'),
  phoneNumberIds: list('phoneNumberIds'),
  deletionProtection: retainData,
  removalPolicy: retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  apiOptions: {
    metaApiVersion: text('metaApiVersion'),
    webAclArn: text('webAclArn'),
    cloudWatchRole: text('apiCloudWatchRole') !== 'false',
  },
  mediaOptions: { corsAllowedOrigins: list('mediaCorsOrigins') },
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
