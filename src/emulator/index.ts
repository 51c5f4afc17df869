import type { AddressInfo } from 'node:net';
import { ForceflowError } from '../core/errors.ts';
import { buildEmulator } from './build.ts';
import type { Org } from './context.ts';
import type { EmulatorOptions } from './options.ts';
import { createEmulatorServer } from './server.ts';
import { CONTROL_HEADERS, policyProblem } from '../core/http-guard.ts';
import { AWS_ACCESS_KEY_ID, AWS_REGION, AWS_SECRET_ACCESS_KEY } from './aws/state.ts';

export type { EmulatorOptions } from './options.ts';
export type { Org } from './context.ts';
export { buildEmulator } from './build.ts';
export { CONTROL_HEADER, CONTROL_HEADERS } from '../core/http-guard.ts';

/** An AppFlow CreateConnectorProfile request for the emulated org (with forceflow's local extensions). */
export interface EmulatorConnectorProfile {
  readonly connectorProfileName: string;
  readonly connectorType: 'Salesforce';
  readonly connectionMode: 'Public';
  readonly connectorProfileConfig: {
    readonly connectorProfileProperties: {
      readonly Salesforce: { readonly instanceUrl: string; readonly isSandboxEnvironment: boolean; readonly loginUrl: string };
    };
    readonly connectorProfileCredentials: {
      readonly Salesforce: {
        readonly accessToken: string;
        readonly refreshToken: string;
        readonly oAuth2GrantType: 'AUTHORIZATION_CODE';
        readonly clientId: string;
        readonly clientSecret: string;
      };
    };
  };
}

/** What a running emulator tells its users (the CLI prints it as one JSON line). */
export interface EmulatorInfo {
  readonly instanceUrl: string;
  readonly loginUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly username: string;
  readonly password: string;
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly orgId: string;
  readonly userId: string;
  /** Base URL of the control endpoint (outside /services), for tests and tools. */
  readonly controlUrl: string;
  /** Headers every control request must send (`X-Forceflow-Emulator: 1`, and a JSON content type for a body). */
  readonly controlHeaders: Readonly<Record<string, string>>;
  readonly connectorProfile: EmulatorConnectorProfile;
  /** Emulated KMS and Secrets Manager (AWS JSON protocol on the same port; any SigV4 signature is accepted). */
  readonly aws: { readonly kmsEndpoint: string; readonly secretsManagerEndpoint: string; readonly region: string; readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Environment that points the AWS SDK's default chain at the emulated services. */
  readonly env: { readonly AWS_ENDPOINT_URL_KMS: string; readonly AWS_ENDPOINT_URL_SECRETS_MANAGER: string; readonly AWS_REGION: string; readonly AWS_ACCESS_KEY_ID: string; readonly AWS_SECRET_ACCESS_KEY: string };
}

export interface RunningEmulator extends EmulatorInfo {
  readonly org: Org;
  close(): Promise<void>;
}

/**
 * Start a local Salesforce org.
 *
 * @example
 * const emu = await startEmulator({ generate: { Account: 1_000_000 } });
 * const conn = new jsforce.Connection({ instanceUrl: emu.instanceUrl, accessToken: emu.accessToken });
 * await emu.close();
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const problem = policyProblem({ host: options.host ?? '127.0.0.1', allowOrigins: options.allowOrigins ?? [], allowHosts: options.allowHosts ?? [] });
  if (problem !== undefined) throw new ForceflowError('EMULATOR_ERROR', `The emulator cannot start: ${problem}`);
  const { org, router } = buildEmulator(options);
  const server = createEmulatorServer(org, router);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new ForceflowError('EMULATOR_ERROR', `The emulator could not listen on ${host}:${options.port ?? 0}: ${error.code ?? error.message}. ${error.code === 'EADDRINUSE' || error.code === 'EACCES' ? 'Choose another --port.' : 'Check --host: an address of this machine, such as 127.0.0.1.'}`, { cause: error })),
    );
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  org.baseUrl = `http://${hostForUrl}:${address.port}`;
  const boot = org.auth.bootstrap();
  const instanceUrl = org.baseUrl;
  const connectorProfile: EmulatorConnectorProfile = {
    connectorProfileName: 'forceflow-emulator',
    connectorType: 'Salesforce',
    connectionMode: 'Public',
    connectorProfileConfig: {
      connectorProfileProperties: { Salesforce: { instanceUrl, isSandboxEnvironment: false, loginUrl: instanceUrl } },
      connectorProfileCredentials: {
        Salesforce: {
          accessToken: boot.accessToken,
          refreshToken: boot.refreshToken,
          oAuth2GrantType: 'AUTHORIZATION_CODE',
          clientId: boot.clientId,
          clientSecret: boot.clientSecret,
        },
      },
    },
  };
  let closed = false;
  return {
    ...boot,
    instanceUrl,
    loginUrl: instanceUrl,
    orgId: org.orgId,
    userId: org.auth.defaultUser.userId,
    controlUrl: `${instanceUrl}/__emulator`,
    controlHeaders: CONTROL_HEADERS,
    connectorProfile,
    aws: { kmsEndpoint: instanceUrl, secretsManagerEndpoint: instanceUrl, region: AWS_REGION, accessKeyId: AWS_ACCESS_KEY_ID, secretAccessKey: AWS_SECRET_ACCESS_KEY },
    env: { AWS_ENDPOINT_URL_KMS: instanceUrl, AWS_ENDPOINT_URL_SECRETS_MANAGER: instanceUrl, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY },
    org,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      org.bulk.reset();
      await org.persistence.flush();
    },
  };
}
