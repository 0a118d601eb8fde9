import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TABLE_INDEXES, TABLE_KEYS } from '../resource-spec.ts';

/** Item-level reads and writes (TransactWriteItems is authorised per item action). */
const ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];

/** What DynamoDB needs of the table key on a caller's behalf, spelled out instead of wildcards. */
const KEY_ACTIONS = [
  'kms:Decrypt',
  'kms:DescribeKey',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
];

/** Properties of {@link MessageStore}. */
export interface MessageStoreProps {
  /**
   * Whether DynamoDB refuses to delete the table.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * What happens to the table and its key when they leave the stack. The key always follows the
   * table: a retained table with a deleted key could no longer be read.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The single DynamoDB table of docs/data-model.md: on-demand, point-in-time recovery, encrypted with
 * its own customer-managed KMS key (rotation on), TTL and GSIs taken from the resource spec.
 */
export class MessageStore extends Construct {
  readonly table: Table;
  readonly key: Key;

  constructor(scope: Construct, id: string, props: MessageStoreProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.key = new Key(this, 'Key', {
      description: 'Encrypts the WhatsApp backend message table',
      enableKeyRotation: true,
      removalPolicy,
    });

    // Table rather than TableV2: TableV2 renders a customer-managed key per replica region, which
    // cannot be done in a region-agnostic stack.
    this.table = new Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
      timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy,
    });
    for (const index of TABLE_INDEXES) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.ALL,
      });
    }
  }

  /**
   * Lets a principal read and write items of the table and query its GSIs (named one by one,
   * no `index/*`), and use the table key for it. No scans, no table management.
   */
  grantReadWriteData(grantee: IGrantable): Grant {
    const indexArns = TABLE_INDEXES.map((index) => `${this.table.tableArn}/index/${index.indexName}`);
    this.key.grant(grantee, ...KEY_ACTIONS);
    return Grant.addToPrincipal({
      grantee,
      actions: ITEM_ACTIONS,
      resourceArns: [this.table.tableArn, ...indexArns],
    });
  }
}
