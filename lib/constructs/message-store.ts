import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, StreamViewType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { DEFAULT_RETENTION_DAYS, RETENTION_DAYS_ENV, TABLE_INDEX_PROJECTION, TABLE_INDEXES, TABLE_KEYS, TABLE_STREAM_VIEW } from '../../shared/resource-spec.ts';
import { DATA_REMOVAL_POLICY, KEY_ROTATION, TABLE_DELETION_PROTECTION } from '../defaults.ts';

/**
 * Item-level DynamoDB actions that can be granted on the table. Scan, Query on the base table and
 * table management are deliberately not offered. TransactWriteItems has no action of its own: each
 * element is authorised as its item action (Put → PutItem, Update → UpdateItem, ConditionCheck →
 * ConditionCheckItem).
 */
export type TableItemAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'BatchWriteItem'
  | 'ConditionCheckItem';

/** Name of one of the table's GSIs (from the resource spec). */
export type TableIndexName = (typeof TABLE_INDEXES)[number]['indexName'];

/** What one principal may do with the table: exactly what its code calls, nothing more. */
export interface TableAccess {
  /** Item actions on the table itself. */
  readonly items: readonly TableItemAction[];
  /**
   * GSIs the principal may Query (granted on those index ARNs only, never `index/*`).
   * @default - none
   */
  readonly queryIndexes?: readonly TableIndexName[];
}

/**
 * What DynamoDB needs of the table key when it serves a caller's request, allowed only for requests
 * DynamoDB makes on the caller's behalf (`kms:ViaService`). No Encrypt, ReEncrypt or
 * GenerateDataKeyWithoutPlaintext: the callers never use the key themselves.
 */
export const TABLE_KEY_ACTIONS = ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey'] as const;

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
  /**
   * Days messages, status-only items, contact aliases and conversations are kept after their time
   * (a conversation after its last message): the functions that write them set `ttl` from it, and
   * DynamoDB deletes expired items within a few days (no write units; the stream sees the deletion,
   * which tells no domain event). The cost of the default is in docs/data-model.md (Retention).
   * @default 365
   */
  readonly retentionDays?: number;
  /**
   * What the table's indexes project. Keys only (the default): a write that changes no index key
   * (a status, a count, the 24-hour window) writes no index, and lists read their items from the
   * table. `ALL` is for a table created by an earlier version, whose indexes projected every
   * attribute: CloudFormation cannot change an index's projection in place, and the code reads
   * either (docs/capacity.md, "Upgrading an existing table").
   * @default 'KEYS_ONLY'
   */
  readonly indexProjection?: 'KEYS_ONLY' | 'ALL';
}

/**
 * The single DynamoDB table of docs/data-model.md: on-demand, point-in-time recovery, encrypted with
 * its own customer-managed KMS key (rotation on), TTL and GSIs taken from the resource spec.
 */
export class MessageStore extends Construct {
  readonly table: Table;
  readonly key: Key;
  /** Days messages and conversations are kept (see {@link MessageStoreProps.retentionDays}). */
  readonly retentionDays: number;

  constructor(scope: Construct, id: string, props: MessageStoreProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? DATA_REMOVAL_POLICY;
    this.retentionDays = props.retentionDays ?? DEFAULT_RETENTION_DAYS;
    if (!Number.isInteger(this.retentionDays) || this.retentionDays < 1) {
      throw new Error(`retentionDays must be a whole number of days >= 1, got ${this.retentionDays}`);
    }

    this.key = new Key(this, 'Key', {
      description: 'Encrypts the WhatsApp backend message table',
      ...KEY_ROTATION,
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
      deletionProtection: props.deletionProtection ?? TABLE_DELETION_PROTECTION,
      removalPolicy,
      // The source of the domain events (see DomainEvents).
      stream: StreamViewType[TABLE_STREAM_VIEW],
    });
    for (const index of TABLE_INDEXES) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType[props.indexProjection ?? TABLE_INDEX_PROJECTION],
      });
    }
  }

  /** The variable a function that writes messages or conversations needs: their retention, for `ttl`. */
  retentionEnvironment(): Record<string, string> {
    return { [RETENTION_DAYS_ENV]: String(this.retentionDays) };
  }

  /**
   * Lets a principal make exactly the listed item calls on the table and Query the listed GSIs (each
   * index ARN named, no `index/*`), and use the table key through DynamoDB ({@link TABLE_KEY_ACTIONS}).
   * Each function declares its own {@link TableAccess} next to its handler's wiring.
   * @throws Error when the access allows nothing (a grant with no action is a wiring mistake)
   */
  grantItemAccess(grantee: IGrantable, access: TableAccess): Grant {
    const items = [...new Set(access.items)];
    const indexes = [...new Set(access.queryIndexes ?? [])];
    if (!items.length && !indexes.length) throw new Error('grantItemAccess: no item action and no index to query');
    let grant = Grant.addToPrincipal({
      grantee,
      actions: [...TABLE_KEY_ACTIONS],
      resourceArns: [this.key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
    });
    if (items.length) {
      grant = grant.combine(
        Grant.addToPrincipal({ grantee, actions: items.map((a) => `dynamodb:${a}`), resourceArns: [this.table.tableArn] }),
      );
    }
    if (indexes.length) {
      grant = grant.combine(
        Grant.addToPrincipal({
          grantee,
          actions: ['dynamodb:Query'],
          resourceArns: indexes.map((name) => `${this.table.tableArn}/index/${name}`),
        }),
      );
    }
    return grant;
  }
}
