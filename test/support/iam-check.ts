/**
 * IAM of the synthesized template against the SDK commands the code sent (test/support/sdk-recorder.ts).
 *
 * A command becomes the IAM requests it needs: an action (`dynamodb:PutItem`) on a resource written
 * the way the template writes it (`Arn(TableId)`, `Arn(BucketId)/inbound/…`). The local resource a
 * command names (a table name, a queue URL, a bucket, a topic ARN, a key id) is traced back to the
 * environment variable that handed it to the code (`TABLE_NAME`, `MEDIA_QUEUE_URL` …), and from there
 * to the template's value of that variable on that function (`{"Ref": "TableId"}`). The role's
 * statements are resolved the same way, and matched with IAM's wildcards.
 */
import type { RecordedCommand } from './sdk-recorder.ts';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

type Cfn = unknown;

/** A CloudFormation value as a string: `Ref(X)`, `Arn(X)` for `Fn::GetAtt [X, Arn]`, pseudo parameters filled in. */
export function resolve(value: Cfn): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(resolve).join(',');
  if (value && typeof value === 'object') {
    const [key, arg] = Object.entries(value)[0] as [string, any];
    if (key === 'Ref') {
      const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT, 'AWS::URLSuffix': 'amazonaws.com' };
      return pseudo[arg] ?? `Ref(${arg})`;
    }
    if (key === 'Fn::GetAtt') return `${arg[1]}(${arg[0]})`;
    if (key === 'Fn::Join') return (arg[1] as Cfn[]).map(resolve).join(arg[0]);
    if (key === 'Fn::Select') {
      const list = arg[1] && typeof arg[1] === 'object' && 'Fn::Split' in arg[1] ? resolve(arg[1]['Fn::Split'][1]).split(arg[1]['Fn::Split'][0]) : undefined;
      return list?.[arg[0]] ?? `Select(${JSON.stringify(arg)})`;
    }
  }
  return `Unresolved(${JSON.stringify(value)})`;
}

export interface Statement {
  actions: string[];
  resources: string[];
}

/** A function of the template: its logical id, its environment and its role's Allow statements. */
export interface TemplateFunction {
  id: string;
  environment: Record<string, Cfn>;
  statements: Statement[];
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export function templateFunction(resources: Record<string, any>, id: string): TemplateFunction {
  const fn = resources[id];
  const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
  const documents: any[] = [];
  for (const r of Object.values(resources)) {
    if (r.Type === 'AWS::IAM::Policy' && list(r.Properties.Roles).some((ref: any) => ref.Ref === roleId)) documents.push(r.Properties.PolicyDocument);
  }
  for (const p of list(resources[roleId].Properties.Policies)) documents.push((p as any).PolicyDocument);
  const statements = documents
    .flatMap((d) => list(d.Statement))
    .filter((s: any) => s.Effect === 'Allow')
    .map((s: any) => ({ actions: list<string>(s.Action), resources: list<Cfn>(s.Resource).map(resolve) }));
  return { id, environment: fn.Properties.Environment?.Variables ?? {}, statements };
}

/** One IAM request a command needs. */
export interface Need {
  action: string;
  resource: string;
}

const IAM_PREFIX: Record<string, string> = { DynamoDB: 'dynamodb', SQS: 'sqs', S3: 's3', SNS: 'sns', KMS: 'kms', SocialMessaging: 'social-messaging' };
/** Operations whose IAM action has another name. */
const IAM_ACTION: Record<string, string> = {
  'S3:HeadObject': 'GetObject',
  'S3:ListObjectsV2': 'ListBucket',
  'SQS:SendMessageBatch': 'SendMessage',
  'SQS:DeleteMessageBatch': 'DeleteMessage',
  'SQS:ChangeMessageVisibilityBatch': 'ChangeMessageVisibility',
  'SNS:PublishBatch': 'Publish',
};
/** A transaction needs the action of each of its items. */
const TRANSACT_ITEM_ACTION: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem', Get: 'GetItem' };

/**
 * The IAM requests of one command, on resources written as the template writes them. `local` maps a
 * local value (a table name, a queue URL …) to the environment variable that held it.
 */
export function needsOf(cmd: RecordedCommand, fn: TemplateFunction, local: ReadonlyMap<string, string>): Need[] {
  const prefix = IAM_PREFIX[cmd.service] ?? `unknown-service(${cmd.service})`;
  const action = `${prefix}:${IAM_ACTION[`${cmd.service}:${cmd.operation}`] ?? cmd.operation}`;
  /** The template's value of the variable that carried a local value, resolved (`Ref(X)`). */
  const fromEnv = (value: string | undefined): string => {
    const name = value === undefined ? undefined : local.get(value);
    const cfn = name === undefined ? undefined : fn.environment[name];
    return cfn === undefined ? `Unmapped(${value})` : resolve(cfn);
  };
  const arnOf = (value: string | undefined) => fromEnv(value).replace(/^Ref\((.+)\)$/, 'Arn($1)');
  const i = cmd.input;
  switch (cmd.service) {
    case 'DynamoDB': {
      if (i.TransactItems) {
        return (i.TransactItems as Array<Record<string, { TableName: string }>>).flatMap((item) =>
          Object.entries(item).map(([kind, op]) => ({ action: `dynamodb:${TRANSACT_ITEM_ACTION[kind] ?? kind}`, resource: arnOf(op.TableName) })),
        );
      }
      const tables = i.RequestItems ? Object.keys(i.RequestItems) : [i.TableName as string];
      return tables.map((t) => ({ action, resource: `${arnOf(t)}${i.IndexName ? `/index/${i.IndexName}` : ''}` }));
    }
    case 'SQS':
      return [{ action, resource: arnOf(i.QueueUrl) }];
    case 'S3':
      return [{ action, resource: i.Key === undefined ? arnOf(i.Bucket) : `${arnOf(i.Bucket)}/${i.Key}` }];
    case 'SNS':
      return [{ action, resource: fromEnv(i.TopicArn) }];
    case 'KMS':
      return [{ action, resource: arnOf(i.KeyId) }];
    case 'SocialMessaging': {
      const id = String(i.originationPhoneNumberId ?? i.id ?? '');
      // Template operations take the WABA's id (`waba-<hex>`): their resource is the WABA.
      if (id.startsWith('waba-')) return [{ action, resource: `arn:aws:social-messaging:${REGION}:${ACCOUNT}:waba/${id.slice('waba-'.length)}` }];
      return [{ action, resource: `arn:aws:social-messaging:${REGION}:${ACCOUNT}:phone-number-id/${id.replace(/^phone-number-id-/, '')}` }];
    }
    default:
      return [{ action, resource: `Unmapped(${JSON.stringify(i).slice(0, 100)})` }];
  }
}

/** IAM's `*` and `?` in an action or a resource. */
export function globMatches(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`, 'i');
  return re.test(value);
}

/** The statement that allows a request, if any. */
export function allowing(statements: readonly Statement[], need: Need): Statement | undefined {
  return statements.find((s) => s.actions.some((a) => globMatches(a, need.action)) && s.resources.some((r) => globMatches(r, need.resource)));
}
