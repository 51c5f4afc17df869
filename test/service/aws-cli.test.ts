import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type ServiceHarness } from './harness.ts';
import { protocolOperations } from './protocol-ops.ts';

const run = promisify(execFile);

/** Whether the AWS CLI is installed (it is not a dependency; the test is skipped without it). */
const hasAwsCli = await run('aws', ['--version']).then(
  () => true,
  () => false,
);

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
async function aws(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { PATH: process.env['PATH'] ?? '', HOME: dir, ...h.svc.env, AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'), AWS_MAX_ATTEMPTS: '1' };
  try {
    const out = await run('aws', ['appflow', ...args, '--endpoint-url', h.svc.endpoint, '--output', 'json'], { env });
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
