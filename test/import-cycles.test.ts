import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * No import cycles in src/ (DEVELOPERS.md). Every relative import counts, `import type` and re-exports
 * included: a type-only cycle costs nothing at run time, but it ties the modules together just the same
 * (neither can be understood, moved or tested without the other).
 */

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out.sort();
}

/** Relative imports of a module (static, type-only, re-exports and dynamic `import()`), resolved to files. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName).filter((name) => name.startsWith('./') || name.startsWith('../')).map((name) => resolve(dirname(file), name));
}

/** The module graph of src/: file → the files it imports. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  return new Map(files.map((f) => [f, importsOf(f)]));
}

/** The cycles a depth-first search meets, one per back edge (so at least one in every cyclic part of the graph), each as a path that ends where it starts. */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      const s = state.get(next);
      if (s === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (s === undefined) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

/** The area of a file of src/: its top folder, or `connectors/<name>`. */
function areaOf(file: string): string {
  const parts = relative(SRC, file).split(/[\\/]/);
  return parts[0] === 'connectors' ? `connectors/${parts[1] ?? ''}` : (parts[0] ?? '');
}

/** The engine's layers above the connectors: a connector imports none of them (it gets what it needs through the registry's contract). */
const ABOVE_CONNECTORS = ['flows', 'cli', 'service'];

/**
 * Imports of a connector's module from outside its folder that the layering forbids: from another connector
 * (except of the shared files layer, `connectors/files/`), and from `connectors/files/`, `formats/`, `core/` or
 * the emulator (which sit below the connectors). The registry (`connectors/registry.ts`) imports each
 * connector's `index.ts` (its factory) and nothing else of it; a connector imports nothing of the engine above it.
 */
function layerViolations(graph: ReadonlyMap<string, readonly string[]>): [string, string][] {
  const below = ['connectors/files', 'formats', 'core', 'emulator'];
  return [...graph].flatMap(([from, deps]) => deps.filter((to) => {
    const source = areaOf(from);
    const target = areaOf(to);
    if (source.startsWith('connectors/') && ABOVE_CONNECTORS.includes(target)) return true;
    if (!target.startsWith('connectors/') || source === target) return false;
    if (source === 'connectors/registry.ts') return relative(SRC, to).split(/[\\/]/)[2] !== 'index.ts';
    if (below.includes(source)) return true;
    return source.startsWith('connectors/') && target !== 'connectors/files';
  }).map((to): [string, string] => [from, to]));
}

describe('import graph of src/', () => {
  const files = sourceFiles(SRC);
  const graph = importGraph(files);

  it('resolves every relative import to a file of src/ (all end in .ts)', () => {
    const missing = [...graph].flatMap(([from, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${relative(SRC, from)} → ${relative(SRC, d)}`));
    expect(missing).toEqual([]);
  });

  it('has no import cycles', () => {
    const cycles = findCycles(graph).map((c) => c.map((f) => relative(SRC, f)).join(' → '));
    expect(cycles, `import cycles in src/:\n${cycles.join('\n')}`).toEqual([]);
  });

  it('keeps the layers apart: a connector imports no other connector (only the shared files layer) and nothing of flows/cli/service; the registry only connectors\' index.ts; files/, formats/, core/ and the emulator import no connector', () => {
    const wrong = layerViolations(graph).map(([from, to]) => `${relative(SRC, from)} → ${relative(SRC, to)}`);
    expect(wrong, `imports across layers:\n${wrong.join('\n')}`).toEqual([]);
    // The check can fail: the files layer importing a store, or one connector another's.
    expect(layerViolations(new Map([[join(SRC, 'connectors/files/x.ts'), [join(SRC, 'connectors/s3/bucket.ts')]]]))).toHaveLength(1);
    expect(layerViolations(new Map([[join(SRC, 'connectors/s3/x.ts'), [join(SRC, 'connectors/local-file/folder.ts'), join(SRC, 'connectors/files/store.ts')]]]))).toHaveLength(1);
    // The registry takes a connector's factory from its index.ts only; a connector never imports the flows layer.
    expect(layerViolations(new Map([[join(SRC, 'connectors/registry.ts'), [join(SRC, 'connectors/s3/index.ts'), join(SRC, 'connectors/s3/bucket.ts')]]]))).toHaveLength(1);
    expect(layerViolations(new Map([[join(SRC, 'connectors/s3/index.ts'), [join(SRC, 'flows/schema.ts'), join(SRC, 'core/connector-factory.ts')]]]))).toHaveLength(1);
  });

  it('finds a cycle and names its path (the check can fail)', () => {
    const g = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(findCycles(g)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
    expect(findCycles(new Map([['a.ts', ['b.ts']], ['b.ts', []]]))).toEqual([]);
  });
});
