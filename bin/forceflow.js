#!/usr/bin/env node
// The CLI runs the compiled JavaScript in dist/ (built by `npm run build`, which `npm install` / `npm ci` run
// through "prepare"): no TypeScript loader, a quick start. In a checkout where a file in src/ is newer than the
// build (edited since, or dist/ missing), it runs the TypeScript sources through tsx's loader instead, so what
// runs is always what was edited; `npm run build` makes it fast again. An installed package ships only dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The AWS SDK's Node-version warning (README "Node versions"), off before any SDK module loads.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const dist = new URL('../dist/', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);
// The same check as the library's stale-build warning (src/core/stale-build.ts), from the build itself.
const stale = async () => {
  const { staleBuildMessage } = await import(new URL('core/stale-build.js', dist).href);
  return staleBuildMessage(fileURLToPath(new URL('index.js', dist))) !== undefined;
};
if (existsSync(source) && (!existsSync(new URL('cli/main.js', dist)) || (await stale()))) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('cli/main.js', dist).href);
}
