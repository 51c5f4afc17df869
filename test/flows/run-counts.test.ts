import { mkdtempSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFlow } from '../../src/flows/runner.ts';

describe('execution record counts when a validation ends the run', () => {
  it('counts the records read in the batch that TerminateFlow stopped, and publishes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-counts-'));
    const rows = ['Id,Email', ...Array.from({ length: 40 }, (_, i) => `r${i},${i === 37 ? '' : `u${i}@example.com`}`)];
    writeFileSync(join(dir, 'in.csv'), `${rows.join('\n')}\n`);
    const record = await runFlow({
      flow: {
        flowName: 'terminate-counts',
        triggerConfig: { triggerType: 'OnDemand' },
        sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: join(dir, 'in.csv'), fileType: 'CSV' } } },
        destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: join(dir, 'out'), outputFormatConfig: { fileType: 'JSON' } } } }],
        tasks: [
          { taskType: 'Filter', sourceFields: ['Id', 'Email'], connectorOperator: { LocalFile: 'PROJECTION' } },
          { taskType: 'Map', sourceFields: ['Id'], destinationField: 'Id', connectorOperator: { LocalFile: 'NO_OP' } },
          { taskType: 'Map', sourceFields: ['Email'], destinationField: 'Email', connectorOperator: { LocalFile: 'NO_OP' } },
          { taskType: 'Validate', sourceFields: ['Email'], connectorOperator: { LocalFile: 'VALIDATE_NON_NULL' }, taskProperties: { VALIDATION_ACTION: 'TerminateFlow' } },
        ],
      },
    });
    expect(record.executionStatus).toBe('Error');
    expect(record.error?.message).toContain('Email');
    // All 40 records were read (one batch) though the run stopped at the 38th.
    expect(record.executionResult.recordsProcessed).toBe(40);
    expect(record.executionResult.bytesProcessed).toBeGreaterThan(0);
    expect(record.executionResult.recordsWritten).toBe(0);
    expect(record.outputs).toEqual([]);
    expect(existsSync(join(dir, 'out')) ? readdirSync(join(dir, 'out')).filter((f) => f !== '_temporary') : []).toEqual([]);
  });
});
