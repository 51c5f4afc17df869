import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { holdingProxyEnv } from '../helpers/holding-proxy.ts';
import { FORCEFLOW_BIN, killableNode, type ProcessResult } from '../helpers/cli.ts';
import { profileThrough } from '../helpers/rewriting-proxy.ts';
import { emulatorEnv, tempDir } from '../helpers/salesforce-write.ts';

const env = emulatorEnv({});
const tmp = tempDir('ff-inc-kill-');
const proxy = holdingProxyEnv(() => env.emu.instanceUrl);

function cli(args: string[], cwd: string): { done: Promise<ProcessResult>; kill: () => void } {
  return killableNode([FORCEFLOW_BIN, ...args], cwd);
}

function count(db: Database.Database, sql: string): number {
  return (db.prepare(sql).get() as { n: number }).n;
}

/**
 * A real `forceflow run` of an incremental flow (files → Salesforce, with a lookback) killed mid-run: what it
 * staged as delivered is never committed, its window does not move, and the next run reads the same files.
 */
describe('incremental run killed (SIGKILL)', () => {
  it('advances neither the window nor the delivered keys; the next run reads the same files and drops the staged keys', async () => {
    const dir = join(tmp.path, 'killed');
    const input = join(dir, 'in');
    mkdirSync(input, { recursive: true });
    writeFileSync(join(input, 'a.csv'), 'Name\nKill A\n');
    const flowFile = join(dir, 'flow.json');
    writeFileSync(flowFile, JSON.stringify({
      flowName: 'incremental-kill',
      triggerConfig: { triggerType: 'Scheduled', triggerProperties: { Scheduled: { scheduleExpression: 'rate(1hours)', dataPullMode: 'Incremental' } } },
      sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: 'in', fileType: 'CSV' } } },
      destinationFlowConfigList: [{
        connectorType: 'Salesforce', connectorProfileName: 'forceflow-emulator',
        destinationConnectorProperties: { Salesforce: { object: 'Account', writeOperationType: 'INSERT', dataTransferApi: 'REST_SYNC' } },
      }],
      tasks: [
        { taskType: 'Filter', sourceFields: ['Name'], connectorOperator: { LocalFile: 'PROJECTION' } },
        { taskType: 'Map', sourceFields: ['Name'], destinationField: 'Name', connectorOperator: { LocalFile: 'NO_OP' } },
      ],
      tags: { 'forceflow:lookbackSeconds': '3600' },
    }));
    const profileFile = join(dir, 'profile.json');
    writeFileSync(profileFile, JSON.stringify(profileThrough(env.emu.connectorProfile, proxy.url)));
    const args = ['run', flowFile, '--profile', profileFile, '--state-dir', join(dir, 'state'), '--log-level', 'warn'];

    const first = await cli(args, dir).done;
    expect(first.code).toBe(0);
    const firstRecord = JSON.parse(first.stdout) as { dataPullEndTime: string };
    writeFileSync(join(input, 'b.csv'), 'Name\nKill B\n');

    // The second run stops when its destination describes Account (after its source staged b.csv, before
    // anything is sent) and is killed there.
    proxy.hold({ method: 'GET', path: /\/sobjects\/Account\/describe$/, at: 'request' });
    const killedRun = cli(args, dir);
    const reached = await Promise.race([proxy.reached(1).then(() => 'held' as const), killedRun.done]);
    if (reached !== 'held') throw new Error(`the run ended before its write: ${reached.stderr}`);
    const db = new Database(join(dir, 'state', 'runs.db'), { readonly: true });
    expect(count(db, 'SELECT count(*) AS n FROM delivered_staged')).toBe(1);
    killedRun.kill();
    expect((await killedRun.done).code).toBeNull();
    proxy.hold(undefined);
    expect(count(db, "SELECT count(*) AS n FROM delivered_keys WHERE id LIKE '%b.csv'")).toBe(0);
    expect(count(db, "SELECT count(*) AS n FROM delivered_keys WHERE id LIKE '%a.csv'")).toBe(1);
    expect((db.prepare("SELECT window_end AS w FROM flow_windows WHERE flow_name = 'incremental-kill'").get() as { w: string }).w).toBe(firstRecord.dataPullEndTime);

    const next = await cli(args, dir).done;
    expect(next.code, next.stdout + next.stderr).toBe(0);
    const record = JSON.parse(next.stdout) as { executionResult: { recordsProcessed: number; recordsWritten: number }; dataPullEndTime: string };
    // b.csv again (the killed run's staging counts for nothing), a.csv not again (delivered by the first run).
    expect(record.executionResult.recordsProcessed).toBe(1);
    expect(record.executionResult.recordsWritten).toBe(1);
    expect(count(db, 'SELECT count(*) AS n FROM delivered_staged')).toBe(0);
    expect(count(db, "SELECT count(*) AS n FROM delivered_keys WHERE id LIKE '%b.csv'")).toBe(1);
    expect(count(db, "SELECT count(*) AS n FROM runs WHERE status = 'Error' AND record LIKE '%RUN_INTERRUPTED%'")).toBe(1);
    db.close();
  });
});
