import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { staleBuildMessage } from '../../src/core/stale-build.ts';

const ROOT = resolve(import.meta.dirname, '../..');

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(cmd: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Ran> {
  return new Promise((done) => {
    execFile(cmd, [...args], { cwd: options.cwd, env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('the packed package (npm pack, then installed outside the clone)', () => {
  it('installs from its tarball and runs: forceflow --version and a LocalFile flow, with no src/ and no tsx', async () => {
    const work = mkdtempSync(join(tmpdir(), 'ff-pack-'));
    const stage = join(work, 'stage');
    mkdirSync(stage);
    // What `npm pack` in the clone packs ("files" in package.json), with dist/ built fresh into the copy
    // (so the clone's own dist/ is neither needed nor touched).
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; files: string[] };
    for (const f of pkg.files.filter((x) => x !== 'dist')) cpSync(join(ROOT, f), join(stage, f), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(stage, 'package.json'));
    const build = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(stage, 'dist')], { cwd: ROOT });
    expect(build.code, build.stdout + build.stderr).toBe(0);
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: stage });
    expect(packed.code, packed.stderr).toBe(0);
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const tarball = join(work, info?.filename ?? '');
    const files = (info?.files ?? []).map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['bin/forceflow.js', 'dist/cli/main.js', 'dist/index.js', 'dist/index.d.ts', 'package.json', 'README.md', 'console/index.html', 'console/app.js', 'console/app.css']));
    expect(files.some((f) => f.startsWith('src/'))).toBe(false);

    // A global install into a temporary prefix, from the npm cache only (this machine has no network).
    const prefix = join(work, 'global');
    const installed = await run('npm', ['install', '-g', '--prefix', prefix, '--offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball], { cwd: work });
    const pkgDir = join(prefix, 'lib', 'node_modules', 'forceflow');
    if (installed.code !== 0) {
      // The npm cache here lacks the dependencies' registry metadata (ENOTCACHED), so npm cannot resolve
      // them offline. Do by hand what npm's install does with the tarball: unpack it under the prefix,
      // link its bin, and make the dependencies resolvable (from the clone's installed node_modules).
      expect(installed.stderr).toMatch(/ENOTCACHED|ENOTFOUND|EAI_AGAIN|network/);
      mkdirSync(join(prefix, 'lib', 'node_modules'), { recursive: true });
      mkdirSync(join(prefix, 'bin'), { recursive: true });
      const untar = await run('tar', ['xzf', tarball, '-C', work], { cwd: work });
      expect(untar.code, untar.stderr).toBe(0);
      renameSync(join(work, 'package'), pkgDir);
      for (const dep of readdirSync(join(ROOT, 'node_modules'))) {
        if (dep === 'forceflow' || dep === '.bin') continue;
        symlinkSync(join(ROOT, 'node_modules', dep), join(prefix, 'lib', 'node_modules', dep));
      }
      symlinkSync(join(pkgDir, 'bin', 'forceflow.js'), join(prefix, 'bin', 'forceflow'));
      chmodSync(join(pkgDir, 'bin', 'forceflow.js'), 0o755);
    }
    expect(existsSync(join(pkgDir, 'src'))).toBe(false);
    const bin = join(prefix, 'bin', 'forceflow');

    // Run from a folder outside the clone, as a user would.
    const user = join(work, 'user');
    mkdirSync(join(user, 'data'), { recursive: true });
    const env = { ...process.env, FORCEFLOW_HOME: join(user, 'home'), PATH: `${join(prefix, 'bin')}:${process.env['PATH'] ?? ''}` };
    const version = await run(bin, ['--version'], { cwd: user, env });
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(pkg.version);

    writeFileSync(join(user, 'data', 'people.csv'), 'Name,Age\nAda,36\nGrace,85\n');
    writeFileSync(join(user, 'flow.json'), JSON.stringify({
      flowName: 'packed-local',
      triggerConfig: { triggerType: 'OnDemand' },
      sourceFlowConfig: { connectorType: 'LocalFile', sourceConnectorProperties: { LocalFile: { path: 'data/people.csv', fileType: 'CSV' } } },
      destinationFlowConfigList: [{ connectorType: 'LocalFile', destinationConnectorProperties: { LocalFile: { path: 'out', outputFormatConfig: { fileType: 'JSON', aggregationConfig: { aggregationType: 'SingleFile' } } } } }],
      tasks: [{ taskType: 'Map_all', sourceFields: [], connectorOperator: { LocalFile: 'NO_OP' }, taskProperties: {} }],
    }));
    const flowRun = await run(bin, ['run', 'flow.json', '--log-level', 'warn'], { cwd: user, env });
    expect(flowRun.code, flowRun.stderr).toBe(0);
    const record = JSON.parse(flowRun.stdout) as { executionStatus: string; outputs: string[] };
    expect(record.executionStatus).toBe('Successful');
    expect(readFileSync(record.outputs[0] as string, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([{ Name: 'Ada', Age: '36' }, { Name: 'Grace', Age: '85' }]);
  }, 180_000);
});

describe('a stale dist/ in a checkout', () => {
  it('is reported when src/ changed after the build, and only then', () => {
    const root = mkdtempSync(join(tmpdir(), 'ff-stale-'));
    mkdirSync(join(root, 'dist'));
    mkdirSync(join(root, 'src', 'flows'), { recursive: true });
    const entry = join(root, 'dist', 'index.js');
    writeFileSync(entry, '');
    writeFileSync(join(root, 'src', 'flows', 'runner.ts'), '');
    const at = (file: string, seconds: number): void => utimesSync(file, seconds, seconds);
    at(entry, 1_700_000_000);
    at(join(root, 'src', 'flows', 'runner.ts'), 1_700_000_100);
    expect(staleBuildMessage(entry)).toContain('dist/ is older than src/ (src/flows/runner.ts changed 2023-11-14T22:15:00.000Z');
    expect(staleBuildMessage(entry)).toContain('run "npm run build"');
    at(entry, 1_700_000_200);
    expect(staleBuildMessage(entry)).toBeUndefined();
    // An installed package has no src/: nothing to compare.
    const installed = mkdtempSync(join(tmpdir(), 'ff-stale-'));
    mkdirSync(join(installed, 'dist'));
    writeFileSync(join(installed, 'dist', 'index.js'), '');
    expect(staleBuildMessage(join(installed, 'dist', 'index.js'))).toBeUndefined();
  });
});
