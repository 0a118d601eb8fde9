import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { MessageStore, type TableAccess } from '../../lib/constructs/message-store.ts';
import { actionsOf, type Statement } from './support.ts';

/** A store and one role in a bare stack; returns the role's statements after the grant. */
function grantOnce(access: TableAccess): Statement[] {
  const stack = new Stack(new App(), 'Store');
  const store = new MessageStore(stack, 'Store');
  const role = new Role(stack, 'Reader', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
  store.grantItemAccess(role, access);
  return Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')).flatMap(
    (p) => p.Properties.PolicyDocument.Statement as Statement[],
  );
}

describe('MessageStore.grantItemAccess', () => {
  it('grants Query on the named index alone, and no item action, when only an index is asked for', () => {
    // Prepare / Act
    const statements = grantOnce({ items: [], queryIndexes: ['GSI2'] });

    // Assess
    const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo).toHaveLength(1);
    expect(actionsOf(dynamo[0]!)).toEqual(['dynamodb:Query']);
    expect(JSON.stringify(dynamo[0]!.Resource)).toContain('/index/GSI2');
    expect(JSON.stringify(dynamo[0]!.Resource)).not.toContain('GSI1');
  });

  it('names each item action once, however often it is listed', () => {
    // Prepare / Act
    const statements = grantOnce({ items: ['UpdateItem', 'GetItem', 'UpdateItem'] });

    // Assess
    const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo.flatMap(actionsOf).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
  });

  it('refuses an access that allows nothing', () => {
    // Prepare
    const stack = new Stack(new App(), 'Store');
    const store = new MessageStore(stack, 'Store');
    const role = new Role(stack, 'Reader', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });

    // Act / Assess
    expect(() => store.grantItemAccess(role, { items: [] })).toThrow(/no item action/);
  });
});
