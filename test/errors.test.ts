import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, ForceflowError, exitCodeFor } from '../src/core/errors.ts';

describe('error catalogue', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

  it.each(Object.keys(ERRORS))('%s is documented in docs/errors.md with its kind', (code) => {
    const kind = ERRORS[code as keyof typeof ERRORS].kind;
    expect(doc).toMatch(new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${kind}\\s*\\|`));
  });

  it('derives kind and exit code from the code', () => {
    const e = new ForceflowError('FLOW_INVALID', 'bad');
    expect(e.kind).toBe('config');
    expect(exitCodeFor(e)).toBe(2);
    expect(exitCodeFor(new ForceflowError('RUN_CANCELED', 'x'))).toBe(130);
    expect(JSON.stringify(e)).not.toContain('stack');
  });

  it('gives the kinds running again bears out: a spent daily API limit and a Bulk query job failing for a temporary reason are retryable (exit 4)', () => {
    expect(exitCodeFor(new ForceflowError('SF_REQUEST_LIMIT_EXCEEDED', 'x'))).toBe(4);
    expect(exitCodeFor(new ForceflowError('SF_BULK_JOB_FAILED_TEMPORARY', 'x'))).toBe(4);
    expect(exitCodeFor(new ForceflowError('SF_BULK_JOB_FAILED', 'x'))).toBe(1);
    expect(exitCodeFor(new ForceflowError('JOURNAL_INPUT_CHANGED', 'x'))).toBe(2);
  });
});
