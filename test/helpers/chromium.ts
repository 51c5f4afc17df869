import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/**
 * Headless Chromium for browser tests: Debian's `chromium` at /usr/bin/chromium (or FORCEFLOW_TEST_CHROMIUM),
 * driven by playwright-core. A test file asks {@link chromiumForTests} once (top-level await) and skips its
 * browser tests when it answers undefined; each file launches one browser with a fresh profile.
 */
export const CHROMIUM_ENV = 'FORCEFLOW_TEST_CHROMIUM';
const DEFAULT_PATH = '/usr/bin/chromium';

/** Flags that keep the browser from reaching the network on its own (updates, sync, field trials) and from needing a GPU or a sandbox. */
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface TestBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/**
 * The path of the test Chromium, or undefined (after printing one line saying how to enable the tests) when it is
 * missing. Under CI=true a missing browser is an error: the browser tests are required there.
 */
export function chromiumForTests(file: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const path = env[CHROMIUM_ENV] ?? DEFAULT_PATH;
  if (existsSync(path)) return path;
  if (env['CI'] === 'true') throw new Error(`${file}: Chromium is required under CI=true but ${path} does not exist. Install Debian's chromium package (.ci/run does) or set ${CHROMIUM_ENV}.`);
  process.stderr.write(`${file}: browser tests SKIPPED (${path} not found). Enable them: apt-get install chromium, or set ${CHROMIUM_ENV}=/path/to/chromium.\n`);
  return undefined;
}

/** One headless browser with a fresh user-data-dir, removed on close. */
export async function launchChromium(executablePath: string): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'ff-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: CHROMIUM_FLAGS, timeout: 30_000 });
    return {
      context,
      async close() {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
}
