import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeFlowCommand } from '@aws-sdk/client-appflow';
import { ERRORS, ForceflowError, type ErrorCode } from '../../src/core/errors.ts';
import { API_ERRORS, ApiError } from '../../src/service/api-error.ts';
import { apiErrorFrom, API_ERROR_FOR_CODE } from '../../src/service/http/errors.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
import { systemClock } from '../../src/service/clock.ts';
import { startHarness } from './harness.ts';
import { protocolOperations } from './protocol-ops.ts';

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu?.close();
});

describe('access keys', () => {
  it('keeps secrets sealed in service.db, and a reopened service accepts the same keys (configured ones included)', async () => {
    const configured = { accessKeyId: 'FFLKCONFIGURED000001', secretAccessKey: 'configured-secret-0123456789abcdef', name: 'ci', readOnly: true };
    const stateDir = mkdtempSync(join(tmpdir(), 'ff-keys-'));
    const first = await startHarness({ emulator: emu, operations: async () => protocolOperations(), keys: [configured], stateDir });
    const secret = first.svc.secretAccessKey;
    try {
      const db = readFileSync(join(stateDir, 'service.db'));
      const wal = (() => {
        try {
          return readFileSync(join(stateDir, 'service.db-wal'));
        } catch {
          return Buffer.alloc(0);
        }
      })();
      for (const bytes of [db, wal]) {
        expect(bytes.includes(Buffer.from(secret))).toBe(false);
        expect(bytes.includes(Buffer.from(configured.secretAccessKey))).toBe(false);
      }
      expect((await first.svc.keys.list()).map((k) => [k.name, k.readOnly, k.isDefault])).toEqual(
        expect.arrayContaining([
          ['ci', true, false],
          ['forceflow-local', false, true],
        ]),
      );
      expect(first.logText()).not.toContain(secret);
    } finally {
      await first.close();
    }
    // Same state folder, a new process-like start: keys come back from service.db through KMS.
    const second = await startHarness({ emulator: emu, operations: async () => protocolOperations(), stateDir });
    try {
      expect(second.svc.secretAccessKey).toBe(secret);
      const ci = second.client({ accessKeyId: configured.accessKeyId, secretAccessKey: configured.secretAccessKey });
      const out = await ci.send(new DescribeFlowCommand({ flowName: 'f1' }));
      expect(out.createdBy).toBe('arn:aws:iam::123456789012:user/ci');
    } finally {
      await second.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('access keys that cannot be opened', () => {
  it('fails to start with KMS_ERROR saying what the KMS key is for', async () => {
    const e = await startHarness({ emulator: emu, operations: async () => protocolOperations(), kmsKeyId: 'alias/no-such-key' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ForceflowError);
    expect((e as ForceflowError).code).toBe('KMS_ERROR');
    expect((e as ForceflowError).message).toMatch(/^The service seals its access keys' secrets with KMS key alias\/no-such-key .*does not exist/);
  });

  it('answers InternalServerException (details logged) for a key whose stored secret was tampered with', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ff-keys-'));
    try {
      const first = await startHarness({ emulator: emu, operations: async () => protocolOperations(), stateDir });
      const key = await first.svc.keys.create({ name: 'tampered' });
      await first.close();
      const sqlite = new Database(join(stateDir, 'service.db'));
      sqlite.prepare("UPDATE access_keys SET ciphertext = zeroblob(length(ciphertext)) WHERE access_key_id = ?").run(key.accessKeyId);
      sqlite.close();
      const second = await startHarness({ emulator: emu, operations: async () => protocolOperations(), stateDir });
      try {
        const c = second.client({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
        const e = await c.send(new DescribeFlowCommand({ flowName: 'f1' })).catch((x: Error & { $metadata?: { httpStatusCode?: number } }) => x);
        expect((e as Error).name).toBe('InternalServerException');
        expect((e as Error).message).not.toMatch(/KMS|decrypt|Profile/i);
        expect(second.logText()).toContain('The secret of an access key could not be opened');
        // The default key still works.
        expect((await second.appflow.send(new DescribeFlowCommand({ flowName: 'f1' }))).flowName).toBe('f1');
      } finally {
        await second.close();
      }
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('start', () => {
  it('refuses a port in use with CONFIG_INVALID naming it', async () => {
    const first = await startHarness({ emulator: emu, operations: async () => protocolOperations() });
    try {
      const port = Number(new URL(first.svc.endpoint).port);
      const e = await startHarness({ emulator: emu, operations: async () => protocolOperations(), port }).catch((x: unknown) => x);
      expect((e as ForceflowError).code).toBe('CONFIG_INVALID');
      expect((e as ForceflowError).message).toContain(`127.0.0.1:${port} (EADDRINUSE: another program uses that port)`);
    } finally {
      await first.close();
    }
  });
});

describe('clock', () => {
  it("lets the SDK correct its clock from the service's Date header and retry (InvalidSignatureException: Signature expired)", async () => {
    const offset = 60 * 60 * 1000;
    const h = await startHarness({ emulator: emu, operations: async () => protocolOperations(), clock: { ...systemClock(), now: () => new Date(Date.now() + offset) } });
    try {
      const once = h.client({ maxAttempts: 1 });
      const e = await once.send(new DescribeFlowCommand({ flowName: 'f1' })).catch((x: Error) => x);
      expect((e as Error).name).toBe('InvalidSignatureException');
      expect((e as Error).message).toMatch(/^Signature expired: /);
      // With retries the SDK reads the Date header, shifts its signing clock and succeeds.
      const retrying = h.client({ maxAttempts: 3 });
      const out = await retrying.send(new DescribeFlowCommand({ flowName: 'f1' }));
      expect(out.flowName).toBe('f1');
      expect(Math.abs((out.lastUpdatedAt?.getTime() ?? 0) - (Date.now() + offset))).toBeLessThan(60_000);
    } finally {
      await h.close();
    }
  });
});

describe('engine errors → API errors', () => {
  it('maps every engine error code to a catalogued API error', () => {
    expect(Object.keys(API_ERROR_FOR_CODE).sort()).toEqual(Object.keys(ERRORS).sort());
    for (const name of Object.values(API_ERROR_FOR_CODE)) expect(API_ERRORS[name]).toBeGreaterThanOrEqual(400);
  });

  it.each([
    ['FLOW_INVALID', 'ValidationException', 400],
    ['PROFILE_NOT_FOUND', 'ResourceNotFoundException', 404],
    ['SF_AUTH_FAILED', 'ConnectorAuthenticationException', 401],
    ['FLOW_LOCKED', 'ConflictException', 409],
    ['SF_UNAVAILABLE', 'ConnectorServerException', 400],
  ] as Array<[ErrorCode, string, number]>)('%s → %s (%i) with its message', (code, type, status) => {
    const { error, internal } = apiErrorFrom(new ForceflowError(code, `message of ${code}`), 'r-1');
    expect([error.type, error.status, error.message, internal]).toEqual([type, status, `message of ${code}`, false]);
  });

  it('hides the message of errors that answer InternalServerException', () => {
    for (const thrown of [new ForceflowError('STATE_ERROR', 'disk /home/u/.forceflow full'), new TypeError('x is undefined'), 'a string']) {
      const { error, internal } = apiErrorFrom(thrown, 'r-2');
      expect(error.type).toBe('InternalServerException');
      expect(error.message).not.toMatch(/disk|undefined|string/);
      expect(error.message).toContain('r-2');
      expect(internal).toBe(true);
    }
    const api = new ApiError('ThrottlingException', 'slow down');
    expect(apiErrorFrom(api, 'r-3').error).toBe(api);
  });
});
