import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ForceflowError } from '../../core/errors.ts';
import type { SignInConfig } from '../signin/config.ts';

/**
 * The web console (docs/console.md): static files of the package's `console/` folder, served by the service at
 * `/` and `/console/*` with no credential (they hold nothing secret; every API call the console makes carries
 * the signed-in user's Bearer token). The files are read once, at start, so serving them touches no disk and no
 * network. The same resolution works from src/ (tests, tsx) and dist/ (the package): both are two levels below
 * the package root.
 */
const CONSOLE_DIR = new URL('../../../console/', import.meta.url);

/** The files served, by URL path: name in console/ and content type. */
const FILES: ReadonlyArray<readonly [path: string, file: string, type: string]> = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/console/app.js', 'app.js', 'text/javascript; charset=utf-8'],
  ['/console/app.css', 'app.css', 'text/css; charset=utf-8'],
];
export const CONSOLE_CONFIG_PATH = '/console/config.json';

/** What the page needs to start a sign-in: the Salesforce login hosts and the connected app's consumer key (public values). */
export interface ConsoleConfig {
  readonly signIn: { readonly loginHosts: readonly string[]; readonly clientId: string } | null;
}

export function consoleConfig(signIn: SignInConfig | undefined): ConsoleConfig {
  if (signIn === undefined) return { signIn: null };
  const loginHosts = signIn.issuers.map((i) => (typeof i === 'string' ? i : i.issuer).replace(/\/+$/, ''));
  return { signIn: { loginHosts, clientId: signIn.consumerKey } };
}

/**
 * Headers of every console answer. The CSP lets the page load only its own script and style and talk only to
 * this service and the configured Salesforce login hosts (the code exchange and the revocation); `no-referrer`
 * keeps the authorization code in the callback URL from leaking to any other site; the page may not be framed.
 */
function securityHeaders(loginHosts: readonly string[]): Record<string, string> {
  const connect = ["'self'", ...loginHosts.map((h) => new URL(h).origin)].join(' ');
  return {
    'content-security-policy': `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ${connect}; form-action 'none'; frame-ancestors 'none'; base-uri 'none'`,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
  };
}

export interface ConsoleAssets {
  /** The paths that need no credential. */
  readonly publicPaths: readonly string[];
  register(app: FastifyInstance): void;
}

/** The console's routes, its files read now. Throws INTERNAL if the package's console/ folder is incomplete. */
export function consoleAssets(signIn: SignInConfig | undefined): ConsoleAssets {
  const config = consoleConfig(signIn);
  const headers = securityHeaders(config.signIn?.loginHosts ?? []);
  const files = FILES.map(([path, file, type]) => {
    try {
      return { path, type, body: readFileSync(new URL(file, CONSOLE_DIR)) };
    } catch (error) {
      throw new ForceflowError('INTERNAL', `The web console's file console/${file} is missing from the forceflow package (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}); reinstall forceflow.`, { cause: error });
    }
  });
  const send = (reply: FastifyReply, type: string, body: Buffer | string): FastifyReply => reply.code(200).headers(headers).header('content-type', type).send(body);
  return {
    publicPaths: [...files.map((f) => f.path), CONSOLE_CONFIG_PATH],
    register(app) {
      for (const f of files) app.get(f.path, async (_req, reply) => send(reply, f.type, f.body));
      const json = JSON.stringify(config);
      app.get(CONSOLE_CONFIG_PATH, async (_req, reply) => send(reply, 'application/json', json));
    },
  };
}
