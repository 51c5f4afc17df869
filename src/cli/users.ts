import type { Command } from 'commander';
import type { Kysely } from 'kysely';
import { ForceflowError } from '../core/errors.ts';
import type { ServiceDatabase } from '../service/db.ts';
import type { PrincipalStore } from '../service/signin/principals.ts';
import type { SigningKeyStore } from '../service/signin/signing-keys.ts';
import { ROLES } from '../service/signin/roles.ts';
import type { CliIo } from './io.ts';
import { stateDir } from './run.ts';

interface StateOpts {
  readonly stateDir?: string;
  readonly database?: string;
}

/**
 * The service database, its schema made current (SQLite: migrated here, so users can be set up before the
 * first `forceflow serve`; PostgreSQL: `forceflow migrate` first). Loaded on use: kysely is not needed by other commands.
 */
async function withDatabase<T>(opts: StateOpts, fn: (db: Kysely<ServiceDatabase>) => Promise<T>): Promise<T> {
  const [{ DATABASE_URL_ENV, databaseKind, openServiceDatabase }, { prepareServiceSchema }] = await Promise.all([import('../service/db.ts'), import('../service/migrations/index.ts')]);
  const fromEnv = process.env[DATABASE_URL_ENV];
  const url = opts.database ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined);
  const db = openServiceDatabase({ url, stateDir: stateDir(opts.stateDir) });
  try {
    await prepareServiceSchema(db, { autoMigrate: databaseKind(db) === 'sqlite' });
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

async function withPrincipals<T>(opts: StateOpts, fn: (store: PrincipalStore) => Promise<T>): Promise<T> {
  const { PrincipalStore: Store } = await import('../service/signin/principals.ts');
  return withDatabase(opts, (db) => fn(Store.open(db)));
}

function common(cmd: Command): Command {
  return cmd
    .option('--state-dir <dir>', 'state folder holding service.db (default $FORCEFLOW_HOME or ~/.forceflow)')
    .option('--database <url>', 'the PostgreSQL database the service uses (default $FORCEFLOW_DATABASE_URL, else service.db in the state folder)');
}

function notFound(what: string): ForceflowError {
  return new ForceflowError('CONFIG_INVALID', `${what} is not in the list; \`forceflow users list\` / \`forceflow users orgs list\` show what is.`);
}

/**
 * `forceflow users …`: who may sign in with Salesforce (docs/signin.md). Users are named by their org id
 * and user id (immutable), never by username or email; a running service sees changes at the next request.
 */
export function registerUsersCommands(program: Command, io: CliIo): void {
  const users = program.command('users').description('Who may sign in with Salesforce: users (org id + user id → role) and allowed orgs, in service.db.');
  common(users.command('add'))
    .description(`Map a Salesforce user to a role (${ROLES.join(', ')}); replaces an existing mapping and enables it.`)
    .argument('<orgId>', 'the Salesforce organization id (00D…, 15 or 18 characters)')
    .argument('<userId>', 'the Salesforce user id (005…)')
    .requiredOption('--role <role>', ROLES.join(' | '))
    .option('--name <name>', 'a label for listings and createdBy ARNs (default the user id)')
    .action(async (orgId: string, userId: string, opts: StateOpts & { role: string; name?: string }) => {
      io.print(await withPrincipals(opts, (s) => s.addUser({ orgId, userId, role: opts.role, ...(opts.name === undefined ? {} : { name: opts.name }) })));
    });
  common(users.command('list'))
    .description('List mapped users (JSON).')
    .action(async (opts: StateOpts) => {
      io.print(await withPrincipals(opts, (s) => s.listUsers()));
    });
  common(users.command('remove'))
    .description('Remove a user mapping (the user can still sign in if the org has a default role: use disable to shut them out).')
    .argument('<orgId>')
    .argument('<userId>')
    .action(async (orgId: string, userId: string, opts: StateOpts) => {
      if (!(await withPrincipals(opts, (s) => s.removeUser(orgId, userId)))) throw notFound(`User ${userId} of org ${orgId}`);
      io.print({ removed: { orgId, userId } });
    });
  for (const [name, disabled] of [['disable', true], ['enable', false]] as const) {
    common(users.command(name))
      .description(disabled ? 'Refuse a user from now on: new exchanges and the tokens already issued.' : 'Accept a disabled user again.')
      .argument('<orgId>')
      .argument('<userId>')
      .action(async (orgId: string, userId: string, opts: StateOpts) => {
        await withPrincipals(opts, (s) => s.setDisabled(orgId, userId, disabled));
        io.print({ [disabled ? 'disabled' : 'enabled']: { orgId, userId } });
      });
  }
  const orgs = users.command('orgs').description('Salesforce orgs whose users may sign in.');
  common(orgs.command('allow'))
    .description('Allow an org; with --default-role its users who are not mapped get that role, otherwise only mapped users sign in.')
    .argument('<orgId>', 'the Salesforce organization id (00D…)')
    .option('--default-role <role>', ROLES.join(' | '))
    .action(async (orgId: string, opts: StateOpts & { defaultRole?: string }) => {
      io.print(await withPrincipals(opts, (s) => s.allowOrg(orgId, opts.defaultRole)));
    });
  common(orgs.command('list'))
    .description('List allowed orgs (JSON).')
    .action(async (opts: StateOpts) => {
      io.print(await withPrincipals(opts, (s) => s.listOrgs()));
    });
  common(orgs.command('remove'))
    .description('Stop accepting an org: its users are refused, their tokens included.')
    .argument('<orgId>')
    .action(async (orgId: string, opts: StateOpts) => {
      if (!(await withPrincipals(opts, (s) => s.removeOrg(orgId)))) throw notFound(`Org ${orgId}`);
      io.print({ removed: { orgId } });
    });

  const keys = program.command('signing-keys').description("The service's token signing keys (ES256, sealed with KMS in service.db).");
  common(keys.command('rotate'))
    .description('Add a new signing key (the old ones keep verifying; keys out of use for over 65 minutes are retired). A running service serves it within 5 seconds.')
    .action(async (opts: StateOpts) => {
      io.print(await withSigningKeys(opts, (s) => s.rotate()));
    });
  common(keys.command('list'))
    .description('List the signing keys (kids; the last one signs).')
    .action(async (opts: StateOpts) => {
      io.print(await withSigningKeys(opts, (s) => s.list()));
    });
}

async function withSigningKeys<T>(opts: StateOpts, fn: (store: SigningKeyStore) => Promise<T>): Promise<T> {
  const [{ SigningKeyStore: Store }, { KMSClient }, { DEFAULT_KMS_KEY_ID }] = await Promise.all([import('../service/signin/signing-keys.ts'), import('@aws-sdk/client-kms'), import('../profiles/crypto.ts')]);
  const kms = new KMSClient({});
  const fromEnv = process.env['FORCEFLOW_KMS_KEY_ID'];
  try {
    return await withDatabase(opts, (db) => fn(Store.open(db, { kms, kmsKeyId: fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_KMS_KEY_ID })));
  } finally {
    kms.destroy();
  }
}
