import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from '../core/logger.ts';
import type { CliOutput } from './io.ts';
import { startEmulator } from '../emulator/index.ts';
import { startLocalS3 } from '../emulator/s3/local.ts';
import { createS3Client } from '../connectors/s3/client.ts';
import { loadFlowFile } from '../flows/load.ts';
import { runFlow } from '../flows/runner.ts';
import { openRunState } from '../flows/state.ts';
import type { ExecutionRecord } from '../flows/run-record.ts';
import { serviceDemo, type ServiceDemoResult } from './demo-service.ts';

/** The example flows the demo runs, in order. */
export const DEMO_FLOWS = ['examples/account-to-s3-parquet.json', 'examples/invoices-bulk-to-s3-jsonl.json', 'examples/contacts-file-to-s3-csv.json'] as const;

/** Which parts `forceflow demo` runs: the example flows, the service (AppFlow's API), or both (default). */
export const DEMO_PARTS = ['all', 'flows', 'service'] as const;
export type DemoPart = (typeof DEMO_PARTS)[number];

export interface DemoOptions {
  /** Where examples/ is (default: the working folder). */
  readonly root?: string;
  /** Records of the generated Invoice__c (default 1,200,000: the Bulk flow's size). */
  readonly invoices?: number;
  readonly only?: DemoPart;
}

export interface DemoResult {
  /** Every run ended Successful (the example flows and the service part's two runs). */
  readonly succeeded: boolean;
  /** The example flows' execution records, in DEMO_FLOWS order (empty with `only: 'service'`). */
  readonly flows: ExecutionRecord[];
  readonly service: ServiceDemoResult | undefined;
}

/**
 * `npm run demo`: a local Salesforce org (with a generated 1,200,000-record Invoice__c) and a local S3,
 * both in-process, then the example flows (prints each run's record and where its output is), then the
 * service part (src/cli/demo-service.ts): `forceflow serve` next to them, driven through AppFlow's API.
 * Resolves to the runs' records and whether every run succeeded.
 */
export async function demoCommand(log: Logger, output: CliOutput, options: DemoOptions = {}): Promise<DemoResult> {
  const root = resolve(options.root ?? process.cwd());
  const only = options.only ?? 'all';
  // The AWS SDK warns on Node 20 that its releases after January 2027 will need Node 22; the lockfile pins
  // releases that support Node 20, so the demo keeps its output to the runs (README: "Node versions").
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const work = mkdtempSync(join(tmpdir(), 'forceflow-demo-'));
  // The service part reads no Invoice__c: a small one keeps its start quick.
  const invoices = only === 'service' ? 1000 : options.invoices ?? 1_200_000;
  const emu = await startEmulator({ generate: { Invoice__c: invoices }, logger: log.child({ component: 'emulator' }) });
  const s3 = await startLocalS3({ bucket: 'forceflow', directory: join(work, 's3') });
  const state = openRunState(join(work, 'state'));
  const client = createS3Client({ env: s3.env });
  const out = (line: string): void => output.writeOut(`${line}\n`);
  let succeeded = true;
  const flows: ExecutionRecord[] = [];
  let service: ServiceDemoResult | undefined;
  try {
    out(`Salesforce emulator: ${emu.instanceUrl} (user ${emu.username})`);
    out(`Local S3: ${s3.endpoint}, bucket ${s3.bucket}, files under ${s3.directory}`);
    for (const file of only === 'service' ? [] : DEMO_FLOWS) {
      const loaded = await loadFlowFile(join(root, file));
      out(`\n== ${loaded.plan.flowName}: ${loaded.flow.description ?? ''}`);
      const started = Date.now();
      const record = await runFlow({
        flow: loaded.flow,
        flowFile: loaded.file,
        profiles: { [emu.connectorProfile.connectorProfileName]: emu.connectorProfile },
        log,
        s3Client: client,
        state,
      });
      const secs = (Date.now() - started) / 1000;
      const r = record.executionResult;
      out(`status ${record.executionStatus}; ${r.recordsProcessed.toLocaleString('en-US')} records read, ${r.recordsWritten.toLocaleString('en-US')} written in ${secs.toFixed(1)} s${record.sourceDataTransferApi ? `; source API ${record.sourceDataTransferApi} (${record.sourceDataTransferApiReason})` : ''}`);
      for (const o of record.outputs.slice(0, 5)) out(`  output: ${o}`);
      if (record.outputs.length > 5) out(`  ... and ${record.outputs.length - 5} more files`);
      out(JSON.stringify(record, null, 2));
      flows.push(record);
      if (record.executionStatus !== 'Successful') succeeded = false;
    }
    if (only !== 'service') out(`\nOutputs stay in ${s3.directory} (s3rver's folder layout). Run records: ${join(work, 'state', 'runs.db')}.`);
    if (only !== 'flows') {
      service = await serviceDemo({ emu, s3, work, root, out });
      if (service.onDemand.record['executionStatus'] !== 'Successful' || service.scheduled.record['executionStatus'] !== 'Successful') succeeded = false;
    }
    return { succeeded, flows, service };
  } finally {
    state.close();
    client.destroy();
    await s3.close();
    await emu.close();
  }
}
