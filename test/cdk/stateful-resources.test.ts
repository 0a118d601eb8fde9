/**
 * Safe upgrades: the resources that hold data or keys (table, buckets, KMS keys, queues, topics) keep
 * their logical ids, and the properties whose change makes CloudFormation replace them, from one
 * release to the next. A changed logical id is a delete and a create: the table, a bucket or a key
 * would be replaced (or, with retainData, orphaned next to an empty new one).
 *
 * The committed snapshot is test/cdk/stateful-resources.json. When a change is deliberate (a new
 * queue, or a replacement with a documented migration), update it with
 *   UPDATE_STATEFUL_SNAPSHOT=1 npx vitest run test/cdk/stateful-resources.test.ts
 * and say in the commit and the release notes what an existing stack goes through.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PHONE_NUMBER_ID, synthesize, WABA_ID } from './support.ts';

const SNAPSHOT = new URL('./stateful-resources.json', import.meta.url);

/**
 * The stateful resource types, each with the properties CloudFormation can only change by
 * replacing the resource ("Update requires: Replacement" in the resource reference).
 */
const STATEFUL_TYPES: Readonly<Record<string, readonly string[]>> = {
  'AWS::DynamoDB::Table': ['TableName', 'KeySchema', 'LocalSecondaryIndexes'],
  'AWS::S3::Bucket': ['BucketName'],
  'AWS::KMS::Key': ['KeySpec', 'KeyUsage', 'MultiRegion'],
  'AWS::SQS::Queue': ['QueueName', 'FifoQueue'],
  'AWS::SNS::Topic': ['TopicName', 'FifoTopic'],
};

interface StatefulResource {
  type: string;
  /** The replacement-forcing properties that are set (absent ones are left out). */
  replacedBy: Record<string, unknown>;
}
type Snapshot = Record<string, StatefulResource>;

/** The stateful resources of a template by logical id. */
export function statefulResourcesOf(template: Template): Snapshot {
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  const entries = Object.entries(resources)
    .filter(([, r]) => r.Type in STATEFUL_TYPES)
    .map(([id, r]): [string, StatefulResource] => [
      id,
      {
        type: r.Type,
        replacedBy: Object.fromEntries(
          (STATEFUL_TYPES[r.Type] ?? []).filter((p) => r.Properties?.[p] !== undefined).map((p) => [p, r.Properties?.[p]]),
        ),
      },
    ]);
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

/** What an upgrade from `before` to `after` would do to each stateful resource, one line each. */
export function replacements(before: Snapshot, after: Snapshot): string[] {
  const found: string[] = [];
  for (const [id, old] of Object.entries(before)) {
    const now = after[id];
    if (now === undefined) found.push(`${id} (${old.type}) is gone: CloudFormation would delete it (or orphan it, if retained)`);
    else if (now.type !== old.type) found.push(`${id} changes type from ${old.type} to ${now.type}: a replacement`);
    else if (JSON.stringify(now.replacedBy) !== JSON.stringify(old.replacedBy)) {
      found.push(`${id} (${old.type}) changes ${JSON.stringify(old.replacedBy)} to ${JSON.stringify(now.replacedBy)}: a replacement`);
    }
  }
  for (const [id, now] of Object.entries(after)) {
    if (!(id in before)) found.push(`${id} (${now.type}) is new: not a replacement, but record it in the snapshot deliberately`);
  }
  return found;
}

const HOW_TO_UPDATE =
  'If this is deliberate, run UPDATE_STATEFUL_SNAPSHOT=1 npx vitest run test/cdk/stateful-resources.test.ts and document the upgrade.';

describe('stateful resources across upgrades', () => {
  it('keep the logical ids and replacement-forcing properties of the committed snapshot', () => {
    // Prepare
    const { template } = synthesize({ wabaId: WABA_ID, phoneNumberIds: [PHONE_NUMBER_ID] });
    const current = statefulResourcesOf(template);
    if (process.env.UPDATE_STATEFUL_SNAPSHOT === '1') writeFileSync(SNAPSHOT, `${JSON.stringify(current, null, 2)}\n`);

    // Act
    const committed = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Snapshot;
    const found = replacements(committed, current);

    // Assess
    expect(found, `${found.join('\n')}\n${HOW_TO_UPDATE}`).toEqual([]);
  });

  it('covers the table, both buckets, every key, queue and topic', () => {
    // Prepare
    const committed = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Snapshot;

    // Act
    const types = Object.values(committed).map((r) => r.type);
    const count = (type: string) => types.filter((t) => t === type).length;

    // Assess
    expect(count('AWS::DynamoDB::Table')).toBe(1);
    expect(count('AWS::S3::Bucket')).toBe(2);
    expect(count('AWS::KMS::Key')).toBeGreaterThanOrEqual(4);
    expect(count('AWS::SQS::Queue')).toBe(11); // inbound, media, webhook delivery and retry, broadcasts, each with a DLQ; the stream's failure destination
    expect(count('AWS::SNS::Topic')).toBeGreaterThanOrEqual(1);
  });

  it('names a renamed construct, a changed key schema and a new queue', () => {
    // Prepare
    const { template } = synthesize({ wabaId: WABA_ID, phoneNumberIds: [PHONE_NUMBER_ID] });
    const before = statefulResourcesOf(template);
    const [tableId] = Object.entries(before).find(([, r]) => r.type === 'AWS::DynamoDB::Table')!;
    const [queueId, queue] = Object.entries(before).find(([, r]) => r.type === 'AWS::SQS::Queue')!;
    const after: Snapshot = structuredClone(before);
    delete after[queueId];
    after[`${queueId}Renamed`] = queue;
    after[tableId] = { type: 'AWS::DynamoDB::Table', replacedBy: { KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] } };

    // Act
    const found = replacements(before, after);

    // Assess
    expect(found).toHaveLength(3);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^${tableId} \\(AWS::DynamoDB::Table\\) changes .*KeySchema.*: a replacement$`)),
        `${queueId} (AWS::SQS::Queue) is gone: CloudFormation would delete it (or orphan it, if retained)`,
        `${queueId}Renamed (AWS::SQS::Queue) is new: not a replacement, but record it in the snapshot deliberately`,
      ]),
    );
  });
});
