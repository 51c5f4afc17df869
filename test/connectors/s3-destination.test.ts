import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Destination } from '../../src/connectors/s3/destination.ts';
import { isForceflowError } from '../../src/core/errors.ts';
import { accountRows, batchesOf, startTestS3, testContext } from '../helpers/s3.ts';
import type { TestS3 } from '../helpers/s3.ts';

// Shared destination behaviours (layout, aggregation, partitions, formats, staging, error files) are in
// test/conformance/, run for S3 by test/conformance/s3.test.ts. Here: what only S3 has.
let t: TestS3;
beforeAll(async () => {
  t = await startTestS3();
});
afterAll(async () => {
  await t.close();
});

const deps = (executionId: string) => ({ client: t.client, flowName: 'flow', executionId, schemaVersion: 1, startedAt: new Date('2024-04-16T19:05:42.123Z') });

describe('S3 destination', () => {
  it('works without a bucket prefix (keys start at the bucket root, staging under _temporary/)', async () => {
    const r = await createS3Destination({ bucketName: t.bucket }, deps('no-prefix')).write(batchesOf(accountRows(2), 2), testContext());
    // Without s3OutputFormatConfig the file type is JSON (JSON lines), as the compiled plan and docs/flows.md say.
    expect(r.outputs).toEqual([`s3://${t.bucket}/flow/no-prefix/no-prefix-00000.jsonl`]);
    expect(await t.keys()).toEqual(['flow/no-prefix/no-prefix-00000.jsonl']);
    const lines = (await t.getText('flow/no-prefix/no-prefix-00000.jsonl')).trim().split('\n');
    expect(lines.map((l) => Object.keys(JSON.parse(l) as object).length)).toEqual([6, 6]);
  });

  it('a missing bucket fails with FILE_NOT_FOUND', async () => {
    const error = await createS3Destination({ bucketName: 'no-such-bucket' }, deps('missing')).write(batchesOf(accountRows(3), 3), testContext()).then(() => undefined, (e: unknown) => e);
    expect(isForceflowError(error, 'FILE_NOT_FOUND')).toBe(true);
  });
});
