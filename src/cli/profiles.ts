import { jsonErrorPosition } from '../core/json-position.ts';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ForceflowError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
// Only types at the top: the profile modules (AWS SDK, SQLite) load when a command runs, so `--help` loads little.
import type { ProfileContext } from '../profiles/profiles.ts';
import { logLevel, LOG_LEVELS, positiveNumber } from './options.ts';
import type { CliIo } from './io.ts';

interface CommonOptions {
  readonly stateDir?: string;
  /** The PostgreSQL database of a service started with --database (only when given: never from the environment). */
  readonly database?: string;
  readonly logLevel: string;
}

async function withContext<T>(io: CliIo, opts: CommonOptions, fn: (ctx: ProfileContext, log: Logger) => Promise<T>): Promise<T> {
  const log = io.rootLogger({ level: opts.logLevel });
  const [{ openProfileContext }, { defaultHome }] = await Promise.all([import('../profiles/index.ts'), import('../profiles/store.ts')]);
  const home = resolve(opts.stateDir ?? defaultHome());
  if (opts.database !== undefined) {
    // Loaded on use: kysely and pg are not needed for profiles.db.
    const [{ openServiceDatabase }, { prepareServiceSchema }, { openSqlProfileStore }] = await Promise.all([import('../service/db.ts'), import('../service/migrations/index.ts'), import('../service/profiles-sql.ts')]);
    const db = openServiceDatabase({ url: opts.database, stateDir: home });
    try {
      // Never migrated from here (forceflow migrate does that): an unmigrated or newer schema is refused.
      await prepareServiceSchema(db, { autoMigrate: false });
      const ctx = openProfileContext({ log, store: openSqlProfileStore(db) });
      try {
        return await fn(ctx, log);
      } finally {
        ctx.close();
      }
    } finally {
      await db.destroy();
    }
  }
  const ctx = openProfileContext({ log, home });
  try {
    return await fn(ctx, log);
  } finally {
    ctx.close();
  }
}

/**
 * Read a JSON file that may hold credentials: a folder or a missing file each get their own message; a
 * syntax error is reported by line and column without quoting the text.
 */
export async function readJsonFile(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') throw new ForceflowError('CONFIG_INVALID', `${what} ${file} is a folder, not a file. Give the JSON file.`, { cause: error });
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ForceflowError('FILE_NOT_FOUND', `${what} ${file} does not exist. Check the path.`, { cause: error });
    throw new ForceflowError('CONFIG_INVALID', `${what} ${file} cannot be read (${code ?? 'error'}). Check its permissions.`, { cause: error });
  }
  const json = text.replace(/^\uFEFF/, '');
  try {
    return JSON.parse(json) as unknown;
  } catch {
    // V8's message quotes the text around the error, which may be a credential: say where, not what.
    const { line, column } = jsonErrorPosition(json);
    throw new ForceflowError('PROFILE_INVALID', `${what} ${file} is not valid JSON at line ${line}, column ${column}. Fix the JSON there (the text is not shown: it may hold credentials).`);
  }
}

/** Open a URL in the user's browser; failures are ignored (the URL is printed anyway). */
function openBrowser(url: string): void {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url.replace(/&/g, '^&')]] : ['xdg-open', [url]];
  try {
    const child = spawn(cmd as string, args as string[], { detached: true, stdio: 'ignore' });
    child.on('error', () => {});
    child.unref();
  } catch {
    // no browser: the printed URL is enough
  }
}

function common(cmd: Command): Command {
  return cmd
    .option('--state-dir <dir>', 'local state folder (default $FORCEFLOW_HOME or ~/.forceflow)')
    .option('--database <url>', "the PostgreSQL database of a service started with --database (default: the state folder's profiles.db)")
    .option('--log-level <level>', LOG_LEVELS.join(', '), logLevel, 'warn');
}

/**
 * `forceflow profiles create|list|describe|delete|authorize`: connector profiles in the local state,
 * credentials envelope-encrypted with KMS (AWS SDK default chain; AWS_ENDPOINT_URL_KMS and
 * AWS_ENDPOINT_URL_SECRETS_MANAGER point it at the emulator).
 */
export function registerProfilesCommand(program: Command, io: CliIo): void {
  const print = (value: unknown): void => io.print(value);
  const profiles = program.command('profiles').description('Connector profiles (AppFlow CreateConnectorProfile JSON), stored with KMS-encrypted credentials.');

  common(profiles.command('create'))
    .description('Store a connector profile; its credentials are encrypted with its kmsArn (or the default key alias/forceflow, $FORCEFLOW_KMS_KEY_ID).')
    .requiredOption('--file <file>', 'AppFlow CreateConnectorProfile JSON')
    .option('--replace', 'overwrite a profile of the same name')
    .action(async (opts: CommonOptions & { file: string; replace?: boolean }) => {
      const json = await readJsonFile(opts.file, 'Profile file');
      const { createProfile } = await import('../profiles/profiles.ts');
      await withContext(io, opts, async (ctx) => print(await createProfile(ctx, json, { replace: opts.replace === true, origin: `Profile file ${opts.file}` })));
    });

  common(profiles.command('list'))
    .description('List stored profiles (as AppFlow DescribeConnectorProfiles: no credential values).')
    .action(async (opts: CommonOptions) => {
      const { listProfiles } = await import('../profiles/profiles.ts');
      await withContext(io, opts, async (ctx) => print({ connectorProfileDetails: await listProfiles(ctx) }));
    });

  common(profiles.command('describe'))
    .description('Describe one stored profile (no credential values).')
    .argument('<name>', 'connectorProfileName')
    .action(async (name: string, opts: CommonOptions) => {
      const { describeProfile } = await import('../profiles/profiles.ts');
      await withContext(io, opts, async (ctx) => print(await describeProfile(ctx, name)));
    });

  common(profiles.command('delete'))
    .description('Delete a stored profile and its encrypted credentials.')
    .argument('<name>', 'connectorProfileName')
    .action(async (name: string, opts: CommonOptions) => {
      const { deleteProfile } = await import('../profiles/profiles.ts');
      await withContext(io, opts, async (ctx) => {
        await deleteProfile(ctx, name);
        io.output.writeErr(`forceflow: deleted connector profile "${name}"\n`);
      });
    });

  common(profiles.command('authorize'))
    .description('Authorize a profile in the browser (OAuth web server flow with PKCE); stores the tokens encrypted.')
    .argument('<name>', 'connectorProfileName')
    .option('--redirect-uri <uri>', "the connected app's callback URL on 127.0.0.1/localhost (default: the profile's oAuthRequest.redirectUri, else http://127.0.0.1:1717/OauthRedirect)")
    .option('--scope <scopes>', 'OAuth scopes to request', 'api refresh_token')
    .option('--timeout <seconds>', 'how long to wait for the browser', positiveNumber('seconds'), 300)
    .option('--no-browser', 'only print the URL to open')
    .action(async (name: string, opts: CommonOptions & { redirectUri?: string; scope: string; timeout: number; browser: boolean }) => {
      const { authorizeProfile } = await import('../profiles/authorize.ts');
      const controller = new AbortController();
      const onSignal = (): void => controller.abort();
      process.once('SIGINT', onSignal);
      try {
        await withContext(io, opts, async (ctx) => {
          const result = await authorizeProfile(ctx, name, {
            ...(opts.redirectUri === undefined ? {} : { redirectUri: opts.redirectUri }),
            scope: opts.scope,
            timeoutMs: opts.timeout * 1000,
            signal: controller.signal,
            onAuthorizeUrl(url) {
              io.output.writeErr(`forceflow: open this URL to authorize profile "${name}":\n  ${url}\n`);
              if (opts.browser) openBrowser(url);
            },
          });
          print(result);
        });
      } finally {
        process.off('SIGINT', onSignal);
      }
    });
}
