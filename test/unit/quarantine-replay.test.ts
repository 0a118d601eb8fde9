import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoDbStore, QUARANTINE_RAW_MAX } from '../../shared/adapters/dynamodb-store.ts';
import { httpStatusOf } from '../../lambdas/api/http-errors.ts';
import { isTransientFailure } from '../../shared/adapters/transient-errors.ts';
import { ApiError } from '../../shared/domain/errors.ts';
import { replayQuarantined } from '../../shared/domain/replay-quarantined.ts';
import { freshTable } from '../support/dynamodb.ts';
import { eumFixture, snsNotification } from '../support/events.ts';

describe('quarantine replay', () => {
  it('refuses with 409 an event whose stored body was cut to fit the table, and stores nothing', async () => {
    // Prepare: a real envelope padded past what an item keeps.
    const { doc, tableName } = await freshTable();
    const store = new DynamoDbStore(doc, tableName);
    const raw = snsNotification({ ...(eumFixture('inbound-text') as object), padding: 'x'.repeat(QUARANTINE_RAW_MAX) });
    await store.quarantine({ raw, reason: 'refused', receivedAtMs: Date.now() });
    const [item] = (await doc.send(new ScanCommand({ TableName: tableName }))).Items ?? [];
    expect(item?.rawTruncated).toBe(true);

    // Act
    const replay = replayQuarantined(item!.id as string, { store, isTransient: isTransientFailure, now: Date.now });

    // Assess
    const refusal = await replay.then(() => undefined, (e: unknown) => e);
    expect(refusal).toBeInstanceOf(ApiError);
    expect([httpStatusOf(refusal as ApiError), (refusal as ApiError).code]).toEqual([409, 'quarantine_raw_truncated']);
    expect((await store.getQuarantined(item!.id as string))?.replay).toBeUndefined();
  });
});
