import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';
import { ForceflowError } from './errors.ts';

export type { Logger } from 'pino';

/**
 * Paths redacted in every log line. Secrets must never reach a log: tokens, client secrets,
 * private keys, passwords and Authorization headers are censored wherever they appear.
 */
export const REDACT_PATHS: readonly string[] = [
  'accessToken', '*.accessToken', 'refreshToken', '*.refreshToken', 'clientSecret', '*.clientSecret',
  'password', '*.password', 'privateKey', '*.privateKey', 'jwtToken', '*.jwtToken', 'token', '*.token',
  'access_token', '*.access_token', 'refresh_token', '*.refresh_token', 'client_secret', '*.client_secret',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization', '*.headers.authorization',
  'secret', '*.secret', 'SecretString', '*.SecretString', 'Plaintext', '*.Plaintext',
  // Sign-in (RFC 8693 token exchange): the tokens a request or an answer carries.
  'subject_token', '*.subject_token', 'actor_token', '*.actor_token', 'id_token', '*.id_token',
  // The service's access keys (and the environment it prints for clients).
  'secretAccessKey', '*.secretAccessKey', 'AWS_SECRET_ACCESS_KEY', '*.AWS_SECRET_ACCESS_KEY',
];

export interface RootLoggerOptions {
  readonly level?: string;
  /** Pretty, human-readable output (used on a TTY). */
  readonly pretty?: boolean;
  /** Where to write; stderr by default, so stdout stays for machine-readable output. */
  readonly destination?: DestinationStream;
}

/** Create the root logger. Only the CLI (and tests) call this; library code receives children. */
export function createRootLogger(options: RootLoggerOptions = {}): Logger {
  const fromEnv = process.env['FORCEFLOW_LOG_LEVEL'];
  const level = options.level ?? (fromEnv === undefined || fromEnv === '' ? 'info' : fromEnv);
  if (!(level in pino.levels.values) && level !== 'silent') {
    const where = options.level === undefined ? `FORCEFLOW_LOG_LEVEL=${level}` : `Log level "${level}"`;
    throw new ForceflowError('CONFIG_INVALID', `${where} is not a log level. Use one of trace, debug, info, warn, error, fatal, silent.`);
  }
  const base: LoggerOptions = {
    level,
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    base: undefined,
  };
  if (options.pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino(base, options.destination ?? pino.destination(2));
}

/** A logger that discards everything, for library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
