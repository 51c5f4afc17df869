import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeFlowCommand } from '@aws-sdk/client-appflow';
import { ERRORS, ForceflowError, type ErrorCode } from '../../src/core/errors.ts';
import { API_ERRORS, ApiError } from '../../src/service/api-error.ts';
import { apiErrorFrom, API_ERROR_FOR_CODE } from '../../src/service/http/errors.ts';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.ts';
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
    const configured = { accessKeyId: 'AKIACONFIGURED000001', secretAccessKey: 'configured-secret-0123456789abcdef', name: 'ci', readOnly: true };
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

describe('clock', () => {
  it("lets the SDK correct its clock from the service's Date header and retry (InvalidSignatureException: Signature expired)", async () => {
    const offset = 60 * 60 * 1000;
    const h = await startHarness({ emulator: emu, operations: async () => protocolOperations(), now: () => new Date(Date.now() + offset) });
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
