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

/** The example flows the demo runs, in order. */
export const DEMO_FLOWS = ['examples/account-to-s3-parquet.json', 'examples/invoices-bulk-to-s3-jsonl.json', 'examples/contacts-file-to-s3-csv.json'] as const;

/**
 * `npm run demo`: a local Salesforce org (with a generated 1,200,000-record Invoice__c) and a local S3,
 * both in-process, then the example flows; prints each run's record and where its output is. Resolves to
 * whether every run succeeded.
 */
export async function demoCommand(log: Logger, output: CliOutput, options: { root?: string; invoices?: number } = {}): Promise<boolean> {
  const root = resolve(options.root ?? process.cwd());
  // The AWS SDK warns on Node 20 that its releases after January 2027 will need Node 22; the lockfile pins
  // releases that support Node 20, so the demo keeps its output to the runs (README: "Node versions").
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const work = mkdtempSync(join(tmpdir(), 'forceflow-demo-'));
  const emu = await startEmulator({ generate: { Invoice__c: options.invoices ?? 1_200_000 }, logger: log.child({ component: 'emulator' }) });
  const s3 = await startLocalS3({ bucket: 'forceflow', directory: join(work, 's3') });
  const state = openRunState(join(work, 'state'));
  const client = createS3Client({ env: s3.env });
  const out = (line: string): void => output.writeOut(`${line}\n`);
  let succeeded = true;
  try {
    out(`Salesforce emulator: ${emu.instanceUrl} (user ${emu.username})`);
    out(`Local S3: ${s3.endpoint}, bucket ${s3.bucket}, files under ${s3.directory}`);
    for (const file of DEMO_FLOWS) {
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
      if (record.executionStatus !== 'Successful') succeeded = false;
    }
    out(`\nOutputs stay in ${s3.directory} (s3rver's folder layout). Run records: ${join(work, 'state', 'runs.db')}.`);
    return succeeded;
  } finally {
    state.close();
    client.destroy();
    await s3.close();
    await emu.close();
  }
}
