import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../../src/service/config.ts';

describe('service.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-service-config-'));

  it('refuses broken JSON by line and column without quoting it (the file may hold secret keys)', () => {
    const secret = 'wSecretPlantedInServiceJson0123456789abcd';
    const file = join(dir, 'broken.json');
    writeFileSync(file, `{\n  "keys": [{ "accessKeyId": "FFLKCONFIGURED000001",\n    "secretAccessKey": "${secret}" oops }]\n}\n`);
    let caught: (Error & { code?: string }) | undefined;
    try {
      loadServiceConfig(file);
    } catch (error) {
      caught = error as Error & { code?: string };
    }
    expect(caught?.code).toBe('CONFIG_INVALID');
    expect(caught?.message).toContain('line 3, column');
    expect(caught?.message).not.toContain(secret.slice(0, 12));
    expect(caught?.message).not.toContain('oops');
  });

  it('reads a valid file', () => {
    const file = join(dir, 'ok.json');
    writeFileSync(file, JSON.stringify({ port: 4567 }));
    expect(loadServiceConfig(file).port).toBe(4567);
  });
});
