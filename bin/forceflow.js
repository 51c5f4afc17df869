#!/usr/bin/env node
// In a checkout (src/ present) the CLI runs the TypeScript sources through tsx's loader, so what runs is
// always what was edited. An installed package ships only dist/ (built by `npm run build`, which
// `npm ci` runs through "prepare") and runs the compiled JavaScript.
import { existsSync } from 'node:fs';

// The AWS SDK's Node-version warning (README "Node versions"), off before any SDK module loads.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/cli/main.js', import.meta.url).href);
}
