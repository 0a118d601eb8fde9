import { ArnFormat, Fn, Stack, Token } from 'aws-cdk-lib';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/** How End User Messaging Social spells a phone number id: this prefix and 32 hex digits. */
export const PHONE_NUMBER_ID_PREFIX = 'phone-number-id-';

/**
 * The IAM ARN of an AWS phone number id. The resource name is the id WITHOUT its
 * `phone-number-id-` prefix: `arn:<partition>:social-messaging:<region>:<account>:phone-number-id/<hex>`.
 */
export function phoneNumberArn(scope: IConstruct, phoneNumberId: string): string {
  const name = Token.isUnresolved(phoneNumberId)
    ? Fn.select(1, Fn.split(PHONE_NUMBER_ID_PREFIX, phoneNumberId))
    : phoneNumberId.startsWith(PHONE_NUMBER_ID_PREFIX)
      ? phoneNumberId.slice(PHONE_NUMBER_ID_PREFIX.length)
      : undefined;
  if (name === undefined || name === '') {
    throw new Error(`phone number ids must look like ${PHONE_NUMBER_ID_PREFIX}<hex>, got "${phoneNumberId}"`);
  }
  return Stack.of(scope).formatArn({
    service: 'social-messaging',
    resource: 'phone-number-id',
    resourceName: name,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}

/**
 * Ids found at deploy time (`discoverNumbers`): the token of their comma-joined ids, which the
 * functions' environment takes as it is, stands for the list token of their ARNs in policies.
 */
const DISCOVERED_ARNS = new Map<string, string[]>();

/**
 * Registers ids found at deploy time: `joinedIds` (a token of comma-joined ids) is what the
 * constructs pass around as the id list; `arns` (a list token) what policies grant on.
 */
export function discoveredIds(joinedIds: string, arns: string[]): string[] {
  DISCOVERED_ARNS.set(joinedIds, arns);
  return [joinedIds];
}

/** The ARNs of some ids: each one's own, or the ARNs of a discovered set. */
export function arnsOf(ids: readonly string[], arnOf: (id: string) => string): string[] {
  return ids.flatMap((id) => DISCOVERED_ARNS.get(id) ?? [arnOf(id)]);
}

/**
 * Allows End User Messaging Social actions on the given phone numbers only. With no phone number,
 * nothing is granted: a statement without resources would be invalid, and one on `*` too broad.
 */
export function grantPhoneNumberActions(
  scope: IConstruct,
  grantee: IGrantable,
  phoneNumberIds: readonly string[],
  actions: readonly string[],
): void {
  if (phoneNumberIds.length === 0) return;
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      actions: actions.map((a) => `social-messaging:${a}`),
      resources: arnsOf(phoneNumberIds, (id) => phoneNumberArn(scope, id)),
    }),
  );
}
