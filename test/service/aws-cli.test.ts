import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalS3, type LocalS3 } from '../../src/emulator/s3/local.ts';
import { startHarness, storeEmulatorProfile, type ServiceHarness } from './harness.ts';
import { protocolOperations } from './protocol-ops.ts';

const run = promisify(execFile);

/** Whether the AWS CLI is installed (it is not a dependency; the test is skipped without it). */
const hasAwsCli = await run('aws', ['--version']).then(
  () => true,
  () => false,
);
if (!hasAwsCli) process.stderr.write('test/service/aws-cli.test.ts: skipped, the AWS CLI (`aws`) is not installed (pip install awscli, or Debian\'s awscli package).\n');

let h: ServiceHarness;
let dir: string;

beforeAll(async () => {
  if (!hasAwsCli) return;
  h = await startHarness({ operations: async () => protocolOperations(), region: 'eu-west-1' });
  dir = mkdtempSync(join(tmpdir(), 'ff-awscli-'));
});
afterAll(async () => {
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `aws appflow ...` with the service's env (as printed by forceflow serve), no profile files. */
async function aws(args: string[], service: ServiceHarness = h): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { PATH: process.env['PATH'] ?? '', HOME: dir, ...service.svc.env, AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'), AWS_MAX_ATTEMPTS: '1' };
  try {
    // No --endpoint-url: the env printed by forceflow serve (AWS_ENDPOINT_URL_APPFLOW, AWS_DEFAULT_REGION) is enough.
    const out = await run('aws', ['appflow', ...args, '--output', 'json'], { env });
    return { code: 0, stdout: out.stdout, stderr: out.stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe.skipIf(!hasAwsCli)('the AWS CLI (v1, botocore) against the service', () => {
  it('signs calls the service verifies (no x-amz-content-sha256, spaced JSON) and reads epoch-second timestamps', async () => {
    const out = await aws(['describe-flow', '--flow-name', 'cli-flow']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const flow = JSON.parse(out.stdout) as { flowName: string; createdAt: unknown };
    expect(flow.flowName).toBe('cli-flow');
    expect(flow.createdAt).toBe(1735689600.123);
  });

  it('signs the tag paths with the ARN percent-encoded, and --cli-input-json bodies', async () => {
    const arn = 'arn:aws:appflow:eu-west-1:123456789012:flow/cli-flow';
    const input = join(dir, 'tags.json');
    writeFileSync(input, JSON.stringify({ resourceArn: arn, tags: { team: 'data' } }));
    expect((await aws(['tag-resource', '--cli-input-json', `file://${input}`])).code).toBe(0);
    const listed = await aws(['list-tags-for-resource', '--resource-arn', arn]);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual({ tags: { team: 'data', echoedArn: arn } });
    expect((await aws(['untag-resource', '--resource-arn', arn, '--tag-keys', 'team'])).code).toBe(0);
  });

  it('prints AWS errors by name and exits 255', async () => {
    const out = await aws(['describe-flow', '--flow-name', 'missing']);
    expect(out.code).toBe(255);
    expect(out.stderr).toContain('An error occurred (ResourceNotFoundException) when calling the DescribeFlow operation: Flow missing does not exist.');
  });
});

/**
 * The README's recipe against the composed service (flows, executor, profile store): a flow definition file
 * given to `aws appflow create-flow --cli-input-json file://…`, a run started with `start-flow`, and its
 * execution record read back with `describe-flow-execution-records`.
 */
describe.skipIf(!hasAwsCli)('the AWS CLI recipe against the composed service', () => {
  let svc: ServiceHarness;
  let s3: LocalS3;
  const saved = new Map<string, string | undefined>();

  beforeAll(async () => {
    // The service's runs write to S3 through the SDK's usual chain (process.env), here the local S3.
    s3 = await startLocalS3({ bucket: 'forceflow' });
    for (const [k, v] of Object.entries(s3.env)) {
      saved.set(k, process.env[k]);
      process.env[k] = v;
    }
    svc = await startHarness();
    await storeEmulatorProfile(svc);
  });
  afterAll(async () => {
    await svc?.close();
    await s3?.close();
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('create-flow --cli-input-json file://examples/account-to-s3-parquet.json, start-flow, describe-flow-execution-records', async () => {
    const file = new URL('../../examples/account-to-s3-parquet.json', import.meta.url).pathname;
    const flowName = (JSON.parse(readFileSync(file, 'utf8')) as { flowName: string }).flowName;
    const created = await aws(['create-flow', '--cli-input-json', `file://${file}`], svc);
    expect(created.stderr).toBe('');
    expect(JSON.parse(created.stdout)).toEqual({ flowArn: `arn:aws:appflow:${svc.svc.region}:${svc.svc.accountId}:flow/${flowName}`, flowStatus: 'Active' });
    const described = JSON.parse((await aws(['describe-flow', '--flow-name', flowName], svc)).stdout) as Record<string, unknown>;
    // The CLI sent the file's members as they are (DescribeFlow returns them unchanged).
    expect(described['tasks']).toEqual((JSON.parse(readFileSync(file, 'utf8')) as { tasks: unknown }).tasks);

    const started = await aws(['start-flow', '--flow-name', flowName], svc);
    expect(started.code).toBe(0);
    const { executionId } = JSON.parse(started.stdout) as { executionId: string };
    expect(executionId).toMatch(/^[0-9a-f-]{36}$/);
    let record: { executionId?: string; executionStatus?: string; executionResult?: { recordsProcessed?: number }; startedAt?: number } | undefined;
    for (let i = 0; i < 120; i++) {
      const out = await aws(['describe-flow-execution-records', '--flow-name', flowName], svc);
      expect(out.code, out.stderr).toBe(0);
      record = (JSON.parse(out.stdout) as { flowExecutions: Array<typeof record> }).flowExecutions[0];
      if (record?.executionStatus !== 'InProgress') break;
      await sleep(250);
    }
    const seedAccounts = (JSON.parse(readFileSync(new URL('../../fixtures/org/records/Account.json', import.meta.url), 'utf8')) as Array<{ IsDeleted?: boolean }>).filter((a) => a.IsDeleted !== true).length;
    expect(record).toMatchObject({ executionId, executionStatus: 'Successful', executionResult: { recordsProcessed: seedAccounts } });
    // Timestamps are epoch seconds, as the CLI prints AppFlow's.
    expect(typeof record?.startedAt).toBe('number');
  }, 120_000);
});
