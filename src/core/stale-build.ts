import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * In a checkout, the CLI runs `src/` through tsx while `import 'forceflow'` loads the compiled `dist/`
 * (package.json "exports"). After an edit without `npm run build` the two differ silently; this finds
 * that case. An installed package has no `src/`, so the check costs nothing there.
 *
 * Returns a message when a file under `<root>/src` is newer than `distEntry` (`<root>/dist/index.js`).
 */
export function staleBuildMessage(distEntry: string): string | undefined {
  const root = dirname(dirname(distEntry));
  const src = join(root, 'src');
  if (!existsSync(src) || !existsSync(distEntry)) return undefined;
  const built = statSync(distEntry).mtimeMs;
  let newest: { file: string; mtimeMs: number } | undefined;
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        const mtimeMs = statSync(path).mtimeMs;
        if (!newest || mtimeMs > newest.mtimeMs) newest = { file: path, mtimeMs };
      }
    }
  };
  walk(src);
  if (!newest || newest.mtimeMs <= built + 1000) return undefined;
  return `forceflow: dist/ is older than src/ (${relative(root, newest.file)} changed ${new Date(newest.mtimeMs).toISOString()}, dist built ${new Date(built).toISOString()}). ` +
    `The library (import 'forceflow') runs dist/ while the CLI in a checkout runs src/: run "npm run build" in ${root}.`;
}

/** Emit a process warning (once, at import) when the library is loaded from a stale dist/ in a checkout. */
export function warnIfStaleBuild(moduleUrl: string): void {
  if (!moduleUrl.startsWith('file:')) return;
  const file = fileURLToPath(moduleUrl);
  if (!file.endsWith(`${sep}dist${sep}index.js`)) return;
  const message = staleBuildMessage(file);
  if (message) process.emitWarning(message, { code: 'FORCEFLOW_STALE_BUILD' });
}
