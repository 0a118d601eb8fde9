/**
 * S3 answers 403 instead of 404 for a missing key when the caller may not list the whole bucket
 * (the deployed API role may list only `outbound/`). S3 cannot be made to do that locally, so this
 * drives the adapter with a mocked client and checks the exact requests.
 */
import { HeadObjectCommand, ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { S3MediaStorage } from '../../shared/adapters/s3-media.ts';

const s3 = mockClient(S3Client);
const forbidden = () => new S3ServiceException({ name: 'Forbidden', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'Forbidden' });
const key = 'outbound/phone-number-id-1/upload-1';

beforeEach(() => s3.reset());

describe('S3 media storage head()', () => {
  it('treats a 403 on a key that its prefix listing does not show as a missing object', async () => {
    s3.on(HeadObjectCommand).rejects(forbidden());
    s3.on(ListObjectsV2Command).resolves({ Contents: [] });
    const storage = new S3MediaStorage(new S3Client({ region: 'us-east-1' }), 'bucket');

    expect(await storage.head(key)).toBeUndefined();
    expect(s3.commandCalls(ListObjectsV2Command)[0]!.args[0].input).toEqual({ Bucket: 'bucket', Prefix: key, MaxKeys: 1 });
  });

  it('keeps a 403 on an object that exists as an error', async () => {
    s3.on(HeadObjectCommand).rejects(forbidden());
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: key }] });
    const storage = new S3MediaStorage(new S3Client({ region: 'us-east-1' }), 'bucket');

    await expect(storage.head(key)).rejects.toMatchObject({ name: 'Forbidden' });
  });
});
