import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The product's run-time dependencies are exactly what it imports: every package src/ and bin/ import is
 * in package.json's `dependencies` (a devDependency is absent from a production install), and every
 * dependency is used. Test clients of the emulator (jsforce) are devDependencies: the product asks
 * Salesforce for tokens itself (src/connectors/salesforce/oauth.ts).
 */

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

function files(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(path));
    else if (/\.(ts|js)$/.test(entry.name)) out.push(path);
  }
  return out.sort();
}

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

const BUILTINS = new Set(builtinModules);
const productFiles = [...files(join(ROOT, 'src')), ...files(join(ROOT, 'bin'))];

/** Package → the product files that import it (static, type-only, re-exports, dynamic `import()`). */
function productImports(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of productFiles) {
    for (const { fileName } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (fileName.startsWith('.') || fileName.startsWith('node:') || BUILTINS.has(fileName)) continue;
      const name = packageOf(fileName);
      if (name === 'forceflow') continue;
      out.set(name, [...(out.get(name) ?? []), file.slice(ROOT.length)]);
    }
  }
  return out;
}

describe('run-time dependencies', () => {
  it('every package the product imports is a dependency (not a devDependency)', () => {
    const missing = [...productImports()].filter(([name]) => !Object.hasOwn(pkg.dependencies, name)).map(([name, by]) => `${name} (imported by ${by.join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('every dependency is used by the product (imported, or named as a module such as a pino transport)', () => {
    const imported = productImports();
    const sources = productFiles.map((f) => readFileSync(f, 'utf8')).join('\n');
    const unused = Object.keys(pkg.dependencies).filter((name) => !imported.has(name) && !sources.includes(`'${name}'`));
    expect(unused).toEqual([]);
  });

  it('jsforce is a test client of the emulator only', () => {
    expect(Object.hasOwn(pkg.dependencies, 'jsforce')).toBe(false);
    expect(Object.hasOwn(pkg.devDependencies, 'jsforce')).toBe(true);
    expect(productImports().has('jsforce')).toBe(false);
  });
});
