/**
 * The `discoverNumbers` custom resource: at deploy time, finds every linked WABA and number
 * (answered as comma-joined ids and ARNs, which the stack's functions and policies use), and points
 * each WABA's events at the stack's topic; on delete, clears the destination of the WABAs that still
 * point at it. A CloudFormation request always gets an answer (a failure is answered FAILED with its
 * reason), so a deployment never hangs on it.
 */
import type { CloudFormationCustomResourceEvent, CloudFormationCustomResourceResponse } from 'aws-lambda';
import { connect, disconnect, discover } from '../../shared/domain/business-accounts.ts';
import { logger } from '../../shared/observability.ts';
import { onFirstUse } from '../../shared/lazy.ts';
import type { LinkedAccounts } from '../../shared/ports/linked-accounts.ts';

/** What the stack reads with `Fn::GetAtt`. */
export interface DiscoveredAttributes {
  WabaIds: string;
  WabaArns: string;
  PhoneNumberIds: string;
  PhoneNumberArns: string;
}

const PHYSICAL_ID = 'linked-whatsapp-accounts';

export function makeHandler(deps: { accounts: LinkedAccounts; respond: (url: string, body: CloudFormationCustomResourceResponse) => Promise<void> }) {
  return async (event: CloudFormationCustomResourceEvent): Promise<void> => {
    const topicArn = typeof event.ResourceProperties.EventTopicArn === 'string' ? event.ResourceProperties.EventTopicArn : undefined;
    const base = { StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId, PhysicalResourceId: PHYSICAL_ID };
    let response: CloudFormationCustomResourceResponse;
    try {
      if (event.RequestType === 'Delete') {
        const cleared = topicArn ? await disconnect(deps.accounts, topicArn) : [];
        logger.info('event destinations cleared', { wabaIds: cleared });
        response = { ...base, Status: 'SUCCESS' };
      } else {
        const found = await discover(deps.accounts);
        // Empty lists would give policies without resources and functions that cannot send.
        if (found.phoneNumbers.length === 0) {
          throw new Error(`No phone number found in the ${found.wabas.length} linked WABA(s) whose registration is complete: link a WABA with a number in End User Messaging Social, or pass -c phoneNumberIds=...`);
        }
        if (topicArn) await connect(deps.accounts, found.wabas.map((w) => w.id), topicArn);
        const data: DiscoveredAttributes = {
          WabaIds: found.wabas.map((w) => w.id).join(','),
          WabaArns: found.wabas.map((w) => w.arn).join(','),
          PhoneNumberIds: found.phoneNumbers.map((p) => p.phoneNumberId).join(','),
          PhoneNumberArns: found.phoneNumbers.map((p) => p.arn).join(','),
        };
        logger.info('linked accounts discovered', { wabaIds: data.WabaIds, phoneNumberIds: data.PhoneNumberIds });
        response = { ...base, Status: 'SUCCESS', Data: data };
      }
    } catch (err) {
      logger.error('linked account discovery failed', { error: (err as Error).name, message: (err as Error).message });
      response = { ...base, Status: 'FAILED', Reason: `${(err as Error).name}: ${(err as Error).message}`.slice(0, 1000) };
    }
    await deps.respond(event.ResponseURL, response);
  };
}

/** The answer to CloudFormation: a PUT of the JSON to the presigned URL it gave, with no content type. */
async function respond(url: string, body: CloudFormationCustomResourceResponse): Promise<void> {
  const res = await fetch(url, { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': '' } });
  if (!res.ok) throw new Error(`CloudFormation did not take the answer: HTTP ${res.status}`);
}

const wired = onFirstUse(async () => makeHandler({ accounts: (await import('./wiring.ts')).linkedAccounts(), respond }));
export const handler = async (event: CloudFormationCustomResourceEvent) => (await wired())(event);
