import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { WhatsAppBackendStack } from '../lib/whatsapp-backend-stack.ts';

// Context (cdk.json or `-c key=value`):
//   stackName       stack name (default WhatsAppBackend)
//   wabaId          AWS WABA id (waba-<hex>) to point at the event topic
//   phoneNumberIds  comma-separated AWS phone number ids (phone-number-id-<hex>)
//   retainData      "false" for throwaway stacks: table without deletion protection, table and keys
//                   deleted with the stack (default true)
const app = new App();
const context = (key: string): unknown => app.node.tryGetContext(key);
const text = (key: string): string | undefined => {
  const value = context(key);
  return value === undefined || value === null || String(value).trim() === '' ? undefined : String(value).trim();
};
const retainData = text('retainData') !== 'false';

new WhatsAppBackendStack(app, text('stackName') ?? 'WhatsAppBackend', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Serverless WhatsApp messaging backend on AWS End User Messaging Social',
  wabaId: text('wabaId'),
  phoneNumberIds: (text('phoneNumberIds') ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== ''),
  deletionProtection: retainData,
  removalPolicy: retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
