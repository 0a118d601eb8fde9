/**
 * `discoverNumbers`: the custom resource's function against End User Messaging Social (mocked: no
 * AWS here), asserting each call's exact input and the answer CloudFormation gets.
 */
import {
  GetLinkedWhatsAppBusinessAccountCommand,
  ListLinkedWhatsAppBusinessAccountsCommand,
  PutWhatsAppBusinessAccountEventDestinationsCommand,
  SocialMessagingClient,
  type LinkedWhatsAppBusinessAccountSummary,
} from '@aws-sdk/client-socialmessaging';
import type { CloudFormationCustomResourceEvent, CloudFormationCustomResourceResponse } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeHandler } from '../../lambdas/numbers/handler.ts';
import { SocialMessagingAccounts } from '../../shared/adapters/socialmessaging-accounts.ts';

const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:events';
const OTHER_TOPIC = 'arn:aws:sns:eu-west-1:111122223333:someone-else';
const arn = (kind: string, hex: string) => `arn:aws:social-messaging:eu-west-1:111122223333:${kind}/${hex}`;
const waba = (hex: string, extra: object = {}) =>
  ({ id: `waba-${hex}`, arn: arn('waba', hex), wabaId: '1', registrationStatus: 'COMPLETE', linkDate: new Date(0), wabaName: 'W', eventDestinations: [], ...extra }) as LinkedWhatsAppBusinessAccountSummary;
const number = (hex: string) => ({ arn: arn('phone-number-id', hex), phoneNumberId: `phone-number-id-${hex}`, phoneNumber: '+1', metaPhoneNumberId: '1', displayPhoneNumberName: 'N', displayPhoneNumber: '+1', qualityRating: 'GREEN' });

const sm = mockClient(SocialMessagingClient);
let answers: { url: string; body: CloudFormationCustomResourceResponse }[];
const handler = makeHandler({
  accounts: new SocialMessagingAccounts(new SocialMessagingClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })),
  respond: async (url, body) => void answers.push({ url, body }),
});
const event = (RequestType: 'Create' | 'Update' | 'Delete'): CloudFormationCustomResourceEvent =>
  ({
    RequestType,
    ServiceToken: 'arn:aws:lambda:eu-west-1:111122223333:function:f',
    ResponseURL: 'https://cloudformation-custom-resource-response.example/answer',
    StackId: 'stack',
    RequestId: 'req-1',
    LogicalResourceId: 'Discovery',
    ResourceType: 'Custom::WhatsAppLinkedAccounts',
    ResourceProperties: { ServiceToken: 'x', EventTopicArn: TOPIC },
    ...(RequestType !== 'Create' && { PhysicalResourceId: 'linked-whatsapp-accounts' }),
    ...(RequestType === 'Update' && { OldResourceProperties: {} }),
  }) as CloudFormationCustomResourceEvent;

beforeEach(() => {
  sm.reset();
  answers = [];
});

describe('number discovery on deploy', () => {
  it('lists every page of WABAs, reads the numbers of the complete ones, points them at the topic and answers the ids and ARNs', async () => {
    // Prepare: two pages; one WABA whose sign-up is not finished
    // (The SDK's paginator reuses one input object: each call's input is copied when it is made.)
    const listed: object[] = [];
    sm.on(ListLinkedWhatsAppBusinessAccountsCommand).callsFake((input: { nextToken?: string }) => {
      listed.push(JSON.parse(JSON.stringify(input)));
      return input.nextToken === 'page2'
        ? { linkedAccounts: [waba('aa')] }
        : { linkedAccounts: [waba('bb'), waba('cc', { registrationStatus: 'INCOMPLETE' })], nextToken: 'page2' };
    });
    sm.on(GetLinkedWhatsAppBusinessAccountCommand, { id: 'waba-aa' }).resolves({ account: { ...waba('aa'), phoneNumbers: [number('a2'), number('a1')] } });
    sm.on(GetLinkedWhatsAppBusinessAccountCommand, { id: 'waba-bb' }).resolves({ account: { ...waba('bb'), phoneNumbers: [number('b1')] } });
    sm.on(PutWhatsAppBusinessAccountEventDestinationsCommand).resolves({});

    // Act
    await handler(event('Create'));

    // Assess
    expect(listed).toEqual([{}, { nextToken: 'page2' }]);
    expect(sm.commandCalls(GetLinkedWhatsAppBusinessAccountCommand).map((c) => c.args[0].input)).toEqual([{ id: 'waba-aa' }, { id: 'waba-bb' }]);
    expect(sm.commandCalls(PutWhatsAppBusinessAccountEventDestinationsCommand).map((c) => c.args[0].input)).toEqual([
      { id: 'waba-aa', eventDestinations: [{ eventDestinationArn: TOPIC }] },
      { id: 'waba-bb', eventDestinations: [{ eventDestinationArn: TOPIC }] },
    ]);
    expect(answers).toEqual([
      {
        url: 'https://cloudformation-custom-resource-response.example/answer',
        body: {
          Status: 'SUCCESS',
          StackId: 'stack',
          RequestId: 'req-1',
          LogicalResourceId: 'Discovery',
          PhysicalResourceId: 'linked-whatsapp-accounts',
          Data: {
            WabaIds: 'waba-aa,waba-bb',
            WabaArns: `${arn('waba', 'aa')},${arn('waba', 'bb')}`,
            PhoneNumberIds: 'phone-number-id-a1,phone-number-id-a2,phone-number-id-b1',
            PhoneNumberArns: `${arn('phone-number-id', 'a1')},${arn('phone-number-id', 'a2')},${arn('phone-number-id', 'b1')}`,
          },
        },
      },
    ]);
  });

  it('fails the deployment with a reason when no number is linked, pointing nothing', async () => {
    // Prepare
    sm.on(ListLinkedWhatsAppBusinessAccountsCommand).resolves({ linkedAccounts: [waba('aa')] });
    sm.on(GetLinkedWhatsAppBusinessAccountCommand).resolves({ account: { ...waba('aa'), phoneNumbers: [] } });

    // Act
    await handler(event('Update'));

    // Assess
    expect(answers[0]?.body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'linked-whatsapp-accounts' });
    expect(answers[0]?.body.Reason).toMatch(/No phone number found in the 1 linked WABA/);
    expect(sm.commandCalls(PutWhatsAppBusinessAccountEventDestinationsCommand)).toHaveLength(0);
  });

  it('answers FAILED with the AWS error when a call is refused, so the deployment does not hang', async () => {
    // Prepare
    sm.on(ListLinkedWhatsAppBusinessAccountsCommand).rejects(Object.assign(new Error('not allowed'), { name: 'AccessDeniedException' }));

    // Act
    await handler(event('Create'));

    // Assess
    expect(answers[0]?.body).toMatchObject({ Status: 'FAILED', Reason: 'AccessDeniedException: not allowed' });
  });

  it('on delete clears only the WABAs still pointing at the topic', async () => {
    // Prepare
    sm.on(ListLinkedWhatsAppBusinessAccountsCommand).resolves({
      linkedAccounts: [waba('aa', { eventDestinations: [{ eventDestinationArn: TOPIC }] }), waba('bb', { eventDestinations: [{ eventDestinationArn: OTHER_TOPIC }] })],
    });
    sm.on(PutWhatsAppBusinessAccountEventDestinationsCommand).resolves({});

    // Act
    await handler(event('Delete'));

    // Assess
    expect(sm.commandCalls(PutWhatsAppBusinessAccountEventDestinationsCommand).map((c) => c.args[0].input)).toEqual([{ id: 'waba-aa', eventDestinations: [] }]);
    expect(answers[0]?.body).toMatchObject({ Status: 'SUCCESS' });
    expect(sm.commandCalls(GetLinkedWhatsAppBusinessAccountCommand)).toHaveLength(0);
  });
});
