import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, ForceflowError, exitCodeFor } from '../src/core/errors.ts';

/** The rows of docs/errors.md's code table: `| \`CODE\` | kind | meaning |`, in order (duplicates kept). */
function documentedRows(doc: string): { code: string; kind: string }[] {
  return [...doc.matchAll(/^\|\s*`([^`]+)`\s*\|\s*([^|]*?)\s*\|/gm)].map((m) => ({ code: m[1] as string, kind: m[2] as string }));
}

/** Codes of the catalogue the doc lacks (or lists with another kind), and rows of the doc the catalogue lacks. */
function compare(catalogue: Readonly<Record<string, { readonly kind: string }>>, doc: string): { undocumented: string[]; uncatalogued: string[]; repeated: string[] } {
  const rows = documentedRows(doc);
  const documented = new Map(rows.map((r) => [r.code, r.kind]));
  return {
    undocumented: Object.keys(catalogue).filter((code) => documented.get(code) !== catalogue[code]?.kind),
    uncatalogued: rows.filter((r) => !Object.hasOwn(catalogue, r.code) || catalogue[r.code]?.kind !== r.kind).map((r) => `${r.code} (${r.kind})`),
    repeated: rows.map((r) => r.code).filter((code, i, all) => all.indexOf(code) !== i),
  };
}

describe('error catalogue', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

  it.each(Object.keys(ERRORS))('%s is documented in docs/errors.md with its kind', (code) => {
    const kind = ERRORS[code as keyof typeof ERRORS].kind;
    expect(doc).toMatch(new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${kind}\\s*\\|`));
  });

  it('every code docs/errors.md lists is in the catalogue with that kind, and is listed once', () => {
    expect(documentedRows(doc).length).toBeGreaterThan(0);
    const { uncatalogued, repeated } = compare(ERRORS, doc);
    expect(uncatalogued).toEqual([]);
    expect(repeated).toEqual([]);
  });

  it('the comparison fails in each direction: a code missing from the doc, a row missing from the catalogue, a wrong kind, a repeated row', () => {
    const catalogue = { A_CODE: { kind: 'config' }, B_CODE: { kind: 'fatal' } };
    const table = '| code | kind | meaning |\n|---|---|---|\n| `A_CODE` | config | a. |\n';
    expect(compare(catalogue, table)).toEqual({ undocumented: ['B_CODE'], uncatalogued: [], repeated: [] });
    expect(compare(catalogue, `${table}| \`B_CODE\` | fatal | b. |\n| \`C_CODE\` | auth | c. |\n`)).toEqual({ undocumented: [], uncatalogued: ['C_CODE (auth)'], repeated: [] });
    expect(compare(catalogue, `${table}| \`B_CODE\` | retryable | b. |\n`)).toEqual({ undocumented: ['B_CODE'], uncatalogued: ['B_CODE (retryable)'], repeated: [] });
    expect(compare(catalogue, `${table}| \`B_CODE\` | fatal | b. |\n| \`A_CODE\` | config | again. |\n`)).toEqual({ undocumented: [], uncatalogued: [], repeated: ['A_CODE'] });
    // A name of Object.prototype in the doc is not "in the catalogue".
    expect(compare(catalogue, `${table}| \`B_CODE\` | fatal | b. |\n| \`constructor\` | fatal | x. |\n`).uncatalogued).toEqual(['constructor (fatal)']);
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
