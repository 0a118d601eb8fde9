/** Many WABAs and numbers: from context (`wabaIds`, `phoneNumberIds`) or discovered at deploy time. */
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import {
  actionsOf,
  eventTopicIdOf,
  functionIdOf,
  OTHER_PHONE_NUMBER_ID,
  PHONE_NUMBER_ID,
  phoneNumberArn,
  statementsOf,
  synthesize,
  WABA_ID,
  wabaArn,
  type Statement,
} from './support.ts';

const OTHER_WABA_ID = 'waba-ffeeddccbbaa99887766554433221100';
const social = (statements: Statement[]) => statements.filter((s) => actionsOf(s).some((a) => a.startsWith('social-messaging:')));
const resourcesOf = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

describe('many WABAs from context', () => {
  const props = { wabaIds: [WABA_ID, OTHER_WABA_ID], phoneNumberIds: [PHONE_NUMBER_ID, OTHER_PHONE_NUMBER_ID] };

  it('points each WABA at the topic with its own event destination', () => {
    // Prepare / Act
    const { template } = synthesize(props);
    const resources = Object.values(template.findResources('Custom::WhatsAppEventDestination'));

    // Assess
    expect(resources).toHaveLength(2);
    const ids = resources.map((r) => (JSON.parse(r.Properties.Delete as string) as { parameters: { id: string } }).parameters.id).sort();
    expect(ids).toEqual([WABA_ID, OTHER_WABA_ID].sort());
    for (const r of resources) expect(JSON.stringify(r.Properties.Create)).toContain(JSON.stringify({ Ref: eventTopicIdOf(template) }));
  });

  it('grants template operations on exactly those WABAs and sends on exactly those numbers', () => {
    // Prepare / Act
    const { template } = synthesize(props);
    const api = social(statementsOf(template, functionIdOf(template, /HTTP API/)));
    const broadcasts = social(statementsOf(template, functionIdOf(template, /Sends broadcast messages/)));

    // Assess
    const templates = api.find((s) => actionsOf(s).includes('social-messaging:ListWhatsAppMessageTemplates'))!;
    expect(resourcesOf(templates)).toHaveLength(2);
    expect(resourcesOf(templates)).toEqual(expect.arrayContaining([wabaArn(WABA_ID), wabaArn(OTHER_WABA_ID)]));
    const sends = broadcasts.find((s) => actionsOf(s).includes('social-messaging:SendWhatsAppMessage'))!;
    expect(resourcesOf(sends)).toHaveLength(2);
    expect(resourcesOf(sends)).toEqual(expect.arrayContaining([phoneNumberArn(PHONE_NUMBER_ID), phoneNumberArn(OTHER_PHONE_NUMBER_ID)]));
  });

  it('keeps wabaId working beside wabaIds, each WABA once', () => {
    // Prepare / Act
    const { stack, template } = synthesize({ wabaId: WABA_ID, wabaIds: [WABA_ID, OTHER_WABA_ID], phoneNumberIds: [PHONE_NUMBER_ID] });

    // Assess
    template.resourceCountIs('Custom::WhatsAppEventDestination', 2);
    expect(stack.backend.wabaIds).toEqual([WABA_ID, OTHER_WABA_ID]);
    expect(stack.backend.wabaId).toBe(WABA_ID);
  });

  it('refuses a WABA id that is not an AWS WABA id', () => {
    expect(() => synthesize({ wabaIds: [WABA_ID, '1393727385109399'] })).toThrow(/wabaIds must look like waba-<hex>/);
  });
});

describe('discoverNumbers', () => {
  const DISCOVERER = /Discovers the linked WhatsApp Business Accounts/;

  it('finds the WABAs and numbers with a custom resource that points them at the topic', () => {
    // Prepare / Act
    const { template } = synthesize({ discoverNumbers: true });
    const [resource] = Object.values(template.findResources('Custom::WhatsAppLinkedAccounts'));
    const fn = functionIdOf(template, DISCOVERER);

    // Assess
    expect(resource?.Properties.ServiceToken).toEqual({ 'Fn::GetAtt': [fn, 'Arn'] });
    expect(resource?.Properties.EventTopicArn).toEqual({ Ref: eventTopicIdOf(template) });
    expect(resource?.DependsOn).toEqual(expect.arrayContaining([eventTopicIdOf(template)]));
    template.resourceCountIs('Custom::WhatsAppEventDestination', 0);
  });

  it('lets the discovery list every WABA and read and point WABAs of this account and Region only', () => {
    // Prepare / Act
    const { template } = synthesize({ discoverNumbers: true });
    const statements = social(statementsOf(template, functionIdOf(template, DISCOVERER)));

    // Assess
    // (Tracing's two actions share the statement on `*`.)
    expect(statements).toEqual([
      { Effect: 'Allow', Action: ['social-messaging:ListLinkedWhatsAppBusinessAccounts', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'], Resource: '*' },
      {
        Effect: 'Allow',
        Action: ['social-messaging:GetLinkedWhatsAppBusinessAccount', 'social-messaging:PutWhatsAppBusinessAccountEventDestinations'],
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':social-messaging:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':waba/*']] },
      },
    ]);
  });

  it('scopes every function to exactly the ARNs found, and gives them the ids found', () => {
    // Prepare / Act
    const { template } = synthesize({ discoverNumbers: true });
    const [discoveryId] = Object.keys(template.findResources('Custom::WhatsAppLinkedAccounts'));
    const found = (attribute: string) => ({ 'Fn::Split': [',', { 'Fn::GetAtt': [discoveryId, attribute] }] });
    const api = social(statementsOf(template, functionIdOf(template, /HTTP API/)));
    const broadcastFn = functionIdOf(template, /Sends broadcast messages/);
    const broadcasts = social(statementsOf(template, broadcastFn));
    const env = template.toJSON().Resources[broadcastFn].Properties.Environment.Variables;

    // Assess
    expect(api.length).toBeGreaterThan(0);
    for (const s of [...api, ...broadcasts]) {
      const onWaba = actionsOf(s).some((a) => a.includes('Template'));
      expect(s.Resource, JSON.stringify(s)).toEqual(found(onWaba ? 'WabaArns' : 'PhoneNumberArns'));
    }
    expect(env.PHONE_NUMBER_IDS).toEqual({ 'Fn::GetAtt': [discoveryId, 'PhoneNumberIds'] });
  });

  it('syncs the templates of the WABAs found', () => {
    const { template } = synthesize({ discoverNumbers: true });
    template.resourceCountIs('Custom::WhatsAppTemplateSync', 1);
  });

  it('passes cdk-nag with its acknowledged wildcards only', () => {
    // Prepare
    const { stack } = synthesize({ discoverNumbers: true });

    // Act
    const report = new AwsSolutionsChecks(stack).validateScope(stack);

    // Assess
    const found = report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.resourceLogicalId).join(', ')}`);
    expect(found, found.join('\n')).toEqual([]);
  });

  it('refuses ids given beside it', () => {
    expect(() => synthesize({ discoverNumbers: true, phoneNumberIds: [PHONE_NUMBER_ID] })).toThrow(/discoverNumbers finds the WABAs and numbers itself/);
  });
});
