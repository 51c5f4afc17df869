import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { byteSize, bucketName, logLevel, nonNegativeInteger, port, positiveInteger, positiveNumber } from '../../src/cli/options.ts';
import { createProgram, runCli } from '../../src/cli/program.ts';
import { cancelHandler, progressPrinter } from '../../src/cli/run.ts';

/** Run the CLI in-process; what commander and the error handler write is captured. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(['node', 'forceflow', ...args], { writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  return { code, out, err };
}

describe('option parsers (src/cli/options.ts)', () => {
  it.each(['abc', '0', '-1', '1e400', '', ' ', '1.5', '0x10', 'Infinity', 'NaN', '15 parsecs', '99999999999999999999'])('byteSize refuses %j instead of switching the guard off', (v) => {
    expect(() => byteSize(v)).toThrow(InvalidArgumentError);
  });

  it('byteSize reads digits and units', () => {
    expect(byteSize('1')).toBe(1);
    expect(byteSize('16106127360')).toBe(16106127360);
    expect(byteSize('500MB')).toBe(500e6);
    expect(byteSize('15GiB')).toBe(15 * 1024 ** 3);
    expect(byteSize('2g')).toBe(2 * 1024 ** 3);
    expect(byteSize('1.5KB')).toBe(1500);
  });

  it('integers, ports, numbers, enums and bucket names take exactly what they name', () => {
    expect(port('0')).toBe(0);
    expect(port('65535')).toBe(65535);
    for (const v of ['99999', '65536', '-1', '80.5', 'http']) expect(() => port(v), v).toThrow(/TCP port/);
    expect(positiveInteger('3')).toBe(3);
    for (const v of ['0', '-3', '3.0', '1e3', '']) expect(() => positiveInteger(v), v).toThrow(InvalidArgumentError);
    expect(nonNegativeInteger('0')).toBe(0);
    expect(positiveNumber('seconds')('1.5')).toBe(1.5);
    for (const v of ['0', '-1', '1e400', 'abc']) expect(() => positiveNumber('seconds')(v), v).toThrow(/positive number of seconds/);
    expect(logLevel('debug')).toBe('debug');
    expect(() => logLevel('bogus')).toThrow(/one of trace, debug, info, warn, error, fatal, silent, got "bogus"/);
    expect(bucketName('forceflow')).toBe('forceflow');
    for (const v of ['a', 'Upper', 'has_underscore', 'a..b', '-x-']) expect(() => bucketName(v), v).toThrow(InvalidArgumentError);
  });
});

describe('forceflow command line (in-process)', () => {
  it.each([
    [['run', 'flow.json', '--max-bytes', 'abc'], "option '--max-bytes <size>' argument 'abc' is invalid"],
    [['run', 'flow.json', '--max-bytes', '0'], "argument '0' is invalid"],
    [['run', 'flow.json', '--max-bytes', '-1'], '--max-bytes'],
    [['run', 'flow.json', '--max-bytes', '1e400'], "argument '1e400' is invalid"],
    [['run', 'flow.json', '--log-level', 'bogus'], "option '--log-level <level>' argument 'bogus' is invalid"],
    [['profiles', 'list', '--log-level', 'bogus'], "argument 'bogus' is invalid"],
    [['profiles', 'authorize', 'p', '--timeout', '0'], "option '--timeout <seconds>' argument '0' is invalid"],
    [['emulator', '--port', '99999'], "option '--port <n>' argument '99999' is invalid. Expected a TCP port from 0 (any free port) and ≤ 65535"],
    [['emulator', '--seed', 'x'], "option '--seed <n>'"],
    [['emulator', '--token-ttl', '0'], "option '--token-ttl <seconds>'"],
    [['emulator', '--generate', 'Account=lots'], "option '--generate <Object=COUNT>'"],
    [['emulator', '--s3', '--bucket', 'Not_A_Bucket'], "option '--bucket <name>'"],
    [['run', 'flow.json', '--no-such-option'], "unknown option '--no-such-option'"],
    [['no-such-command'], "unknown command 'no-such-command'"],
    [['run'], "missing required argument 'flow'"],
  ])('%j exits 2 with CONFIG_INVALID naming the option', async (args, message) => {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^forceflow: CONFIG_INVALID: /);
    expect(r.err).toContain(message);
    expect(r.err).not.toContain('INTERNAL');
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('--version prints the version from package.json', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await cli('--version');
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(pkg.version);
  });

  it('emulator --data naming a file is EMULATOR_ERROR (exit 2), not INTERNAL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-cli-'));
    const file = join(dir, 'org.json');
    writeFileSync(file, '{}');
    const r = await cli('emulator', '--data', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`forceflow: EMULATOR_ERROR: --data ${file} is a file, not a folder.`);
  });

  it('emulator --host that is not an address of this machine names --host, not --port', async () => {
    const r = await cli('emulator', '--host', 'no-such-host.invalid');
    expect(r.code).toBe(2);
    expect(r.err).toContain('forceflow: EMULATOR_ERROR: The emulator could not listen on no-such-host.invalid:0: ENOTFOUND. Check --host');
  });

  it('a folder given as the flow file says so (not "does not exist"); a JSON string is not "invalid JSON"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-cli-'));
    const folder = await cli('validate', dir);
    expect(folder.code).toBe(2);
    expect(folder.err).toContain(`Flow file ${dir} is a folder, not a file.`);
    expect(folder.err).not.toContain('does not exist');
    const profileFolder = await cli('run', join(import.meta.dirname, '../../examples/contacts-file-to-s3-csv.json'), '--profile', dir);
    expect(profileFolder.code).toBe(2);
    expect(profileFolder.err).toContain(`Profile file ${dir} is a folder, not a file.`);

    const file = join(dir, 'flow.json');
    writeFileSync(file, '"accounts.json"\n');
    const str = await cli('validate', file);
    expect(str.code).toBe(2);
    expect(str.err).toContain('(root): is a JSON string, not an object.');
    expect(str.err).not.toContain('not valid JSON');
  });

  it('a flow nested thousands deep is FLOW_INVALID naming the path (was a stack overflow: INTERNAL)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-cli-'));
    const file = join(dir, 'deep.json');
    writeFileSync(file, `{"flowName":"x","tasks":[${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}]}`);
    const r = await cli('validate', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain('FLOW_INVALID');
    expect(r.err).toContain('tasks[0].a.a.a');
    expect(r.err).toContain('is nested more than 64 levels deep');
  });

  it('FORCEFLOW_LOG_LEVEL=bogus is CONFIG_INVALID naming the variable', async () => {
    const { createRootLogger } = await import('../../src/core/logger.ts');
    const before = process.env['FORCEFLOW_LOG_LEVEL'];
    process.env['FORCEFLOW_LOG_LEVEL'] = 'bogus';
    try {
      expect(() => createRootLogger()).toThrow(/FORCEFLOW_LOG_LEVEL=bogus is not a log level/);
    } finally {
      if (before === undefined) delete process.env['FORCEFLOW_LOG_LEVEL'];
      else process.env['FORCEFLOW_LOG_LEVEL'] = before;
    }
  });

  it('the examples write to the bucket `forceflow emulator --s3` creates', () => {
    const emulator = createProgram().commands.find((c) => c.name() === 'emulator');
    const bucket = emulator?.options.find((o) => o.long === '--bucket')?.defaultValue as string;
    expect(bucket).toBe('forceflow');
    for (const f of ['account-to-s3-parquet.json', 'invoices-bulk-to-s3-jsonl.json', 'contacts-file-to-s3-csv.json', 'opportunities-every-minute.json']) {
      const flow = JSON.parse(readFileSync(new URL(`../../examples/${f}`, import.meta.url), 'utf8')) as { destinationFlowConfigList: Array<{ destinationConnectorProperties: { S3: { bucketName: string } } }> };
      expect(flow.destinationFlowConfigList[0]?.destinationConnectorProperties.S3.bucketName, f).toBe(bucket);
    }
  });
});

describe('progress line', () => {
  it('on Ctrl-C the progress line is erased before the cancellation line is printed', () => {
    const writes: string[] = [];
    let t = 0;
    const progress = progressPrinter({ isTTY: true, write: (s: string) => writes.push(`stderr:${s}`) }, () => (t += 1000));
    progress.update({ recordsRead: 5000, recordsWritten: 0, bytesProcessed: 2e6, api: 'BULKV2' });
    expect(writes.at(-1)?.startsWith('stderr:\r\x1b[2K5,000 records · 2.0 MB')).toBe(true);
    const controller = new AbortController();
    let released = false;
    const onSignal = cancelHandler(progress, { warn: ((m: string) => writes.push(`log:${m}`)) as never }, controller, () => (released = true));
    onSignal();
    expect(writes.slice(-2)).toEqual(['stderr:\r\x1b[2K', 'log:cancelling the run (Ctrl-C again to force)']);
    expect(controller.signal.aborted).toBe(true);
    expect(released).toBe(true);
    // Nothing to erase when no progress line is shown (not a terminal, or already erased).
    const quiet: string[] = [];
    const off = progressPrinter({ isTTY: false, write: (s: string) => quiet.push(s) });
    off.update({ recordsRead: 1, recordsWritten: 0, bytesProcessed: 1, api: null });
    off.clear();
    expect(quiet).toEqual([]);
  });
});
