import { decodeJwt } from 'jose';
import { CognitoPool } from '../../auth/cognito-token.ts';
import { refuse } from '../../auth/refusal.ts';
import type { AuthorizedCaller, BearerAuthenticator } from '../http/authorizer.ts';
import type { CognitoConfig } from './config.ts';
import { ROLES, scopesOfRole, type Role } from './roles.ts';

/**
 * Bearer tokens of a configured Amazon Cognito user pool: verified against the pool's JWKS (src/auth/cognito-token.ts),
 * then the user's groups give the role (the highest of the mapped groups; groups not in the map are ignored, and
 * a user in none of them is refused). The token grants what the role grants: Cognito's own scopes are not ours.
 */
export class CognitoAuthenticator implements BearerAuthenticator {
  readonly pool: CognitoPool;

  constructor(private readonly config: CognitoConfig, private readonly accountId: string, private readonly now: () => number = Date.now) {
    this.pool = new CognitoPool({
      userPoolId: config.userPoolId,
      appClientIds: config.appClientIds,
      ...(config.region === undefined ? {} : { region: config.region }),
      ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
      ...(config.tokenUse === undefined ? {} : { tokenUse: config.tokenUse }),
    });
  }

  get issuer(): string {
    return this.pool.issuer;
  }

  async authenticate(token: string): Promise<AuthorizedCaller> {
    const who = await this.pool.verify(token, this.now());
    let role: Role | undefined;
    for (const group of who.groups) {
      const mapped = Object.hasOwn(this.config.groups, group) ? this.config.groups[group] : undefined;
      if (mapped !== undefined && (role === undefined || ROLES.indexOf(mapped) > ROLES.indexOf(role))) role = mapped;
    }
    if (role === undefined) throw refuse('group');
    // An IAM-style session name: the username's safe characters (it is a label; the identity is the sub).
    const name = who.username.replace(/[^\w+=,.@-]/g, '_').slice(0, 64);
    const arn = `arn:aws:sts::${this.accountId}:assumed-role/forceflow-${role}/${name}`;
    return { caller: { accessKeyId: `cognito:${this.config.userPoolId}:${who.subject}`, arn, readOnly: role === 'viewer' }, kind: 'bearer', role, scopes: scopesOfRole(role) };
  }
}

/**
 * The Bearer side of the authorizer when several issuers are trusted: the token's (unverified) `iss` picks the
 * verifier, which then pins that issuer and checks everything itself. A token of any other issuer is refused.
 */
export class BearerRouter implements BearerAuthenticator {
  constructor(private readonly verifiers: ReadonlyArray<{ readonly issuer: string; authenticate(token: string): Promise<AuthorizedCaller> }>) {}

  async authenticate(token: string): Promise<AuthorizedCaller> {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw refuse('malformed');
    }
    const verifier = this.verifiers.find((v) => v.issuer === iss);
    if (verifier === undefined) throw refuse('issuer');
    return verifier.authenticate(token);
  }
}
