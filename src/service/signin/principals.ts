import type { Kysely } from 'kysely';
import { ForceflowError } from '../../core/errors.ts';
import { normalizeId } from '../../salesforce-wire/ids.ts';
import { isRole, ROLES, type Role } from './roles.ts';

interface PrincipalTable {
  /** 18-character Salesforce ids: the immutable identity (never the username or email). */
  org_id: string;
  user_id: string;
  /** A label for listings and createdBy ARNs (not an identity). */
  name: string;
  role: string;
  disabled: number;
  created_at: string;
}

interface AllowedOrgTable {
  org_id: string;
  /** The role of this org's users who have no mapping of their own; null: only mapped users. */
  default_role: string | null;
  created_at: string;
}

// A type, not an interface: kysely's withTables wants an index-compatible record.
type PrincipalTables = {
  signin_principals: PrincipalTable;
  signin_orgs: AllowedOrgTable;
};

export interface PrincipalInfo {
  readonly orgId: string;
  readonly userId: string;
  readonly name: string;
  readonly role: Role;
  readonly disabled: boolean;
  readonly createdAt: string;
}

export interface AllowedOrgInfo {
  readonly orgId: string;
  readonly defaultRole?: Role;
  readonly createdAt: string;
}

/** A Salesforce user the service accepts, as the exchange and the authorizer see it. */
export interface Principal {
  /** Our token's `sub`: `sf:<orgId>:<userId>`. */
  readonly id: string;
  readonly orgId: string;
  readonly userId: string;
  readonly name: string;
  readonly role: Role;
}

/** Why a Salesforce user has no principal (for the log only). */
export type PrincipalRefusal = 'unknown_org' | 'unknown_user' | 'disabled';

export function principalId(orgId: string, userId: string): string {
  return `sf:${orgId}:${userId}`;
}

/** A 15- or 18-character Salesforce id with the given key prefix, as 18 characters; CONFIG_INVALID otherwise. */
export function checkedId(value: string, prefix: '00D' | '005', what: string): string {
  const id = /^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$/.test(value) ? normalizeId(value) : undefined;
  if (id === undefined || !id.startsWith(prefix)) {
    throw new ForceflowError('CONFIG_INVALID', `${what} "${value.slice(0, 40)}" is not a Salesforce ${prefix === '00D' ? 'organization' : 'user'} id: 15 or 18 letters and digits starting with ${prefix} (Setup → Company Information for the org id; the user's record for the user id).`);
  }
  return id;
}

export function checkedRole(value: string): Role {
  if (!isRole(value)) throw new ForceflowError('CONFIG_INVALID', `The role "${value.slice(0, 40)}" is not one of ${ROLES.join(', ')}.`);
  return value;
}

/**
 * Who may sign in, in the service database: allowed Salesforce orgs (with an optional default role for
 * their users) and users mapped by org id and user id to a role. A user is accepted when the org is
 * allowed and the user is mapped and not disabled, or is not mapped and the org has a default role.
 */
export class PrincipalStore {
  private constructor(private readonly db: Kysely<PrincipalTables>) {}

  static open<DB>(db: Kysely<DB>): PrincipalStore {
    const own = db.withTables<PrincipalTables>() as unknown as Kysely<PrincipalTables>;
    return new PrincipalStore(own);
  }

  /** Map a user to a role (replacing its mapping; a re-added user is enabled again). */
  async addUser(input: { orgId: string; userId: string; role: string; name?: string }): Promise<PrincipalInfo> {
    const orgId = checkedId(input.orgId, '00D', 'The org id');
    const userId = checkedId(input.userId, '005', 'The user id');
    const role = checkedRole(input.role);
    const name = input.name ?? userId;
    if (!/^[\w+=,.@-]{1,64}$/.test(name)) throw new ForceflowError('CONFIG_INVALID', `The name "${name.slice(0, 70)}" must be 1 to 64 letters, digits and +=,.@_- (it appears in createdBy ARNs).`);
    const row: PrincipalTable = { org_id: orgId, user_id: userId, name, role, disabled: 0, created_at: new Date().toISOString() };
    await this.db
      .insertInto('signin_principals')
      .values(row)
      .onConflict((oc) => oc.columns(['org_id', 'user_id']).doUpdateSet({ name, role, disabled: 0 }))
      .execute();
    return { orgId, userId, name, role, disabled: false, createdAt: row.created_at };
  }

  async listUsers(): Promise<PrincipalInfo[]> {
    const rows = await this.db.selectFrom('signin_principals').selectAll().orderBy('org_id').orderBy('user_id').execute();
    return rows.map((r) => ({ orgId: r.org_id, userId: r.user_id, name: r.name, role: checkedRole(r.role), disabled: r.disabled === 1, createdAt: r.created_at }));
  }

  async removeUser(orgId: string, userId: string): Promise<boolean> {
    const res = await this.db.deleteFrom('signin_principals').where('org_id', '=', checkedId(orgId, '00D', 'The org id')).where('user_id', '=', checkedId(userId, '005', 'The user id')).executeTakeFirst();
    return res.numDeletedRows > 0n;
  }

  /**
   * Disable (or enable) a user. A user who is not mapped yet gets a disabled mapping (with the lowest
   * role), so a user of an org with a default role can be shut out too.
   */
  async setDisabled(orgId: string, userId: string, disabled: boolean): Promise<void> {
    const org = checkedId(orgId, '00D', 'The org id');
    const user = checkedId(userId, '005', 'The user id');
    const res = await this.db.updateTable('signin_principals').set({ disabled: disabled ? 1 : 0 }).where('org_id', '=', org).where('user_id', '=', user).executeTakeFirst();
    if (res.numUpdatedRows > 0n || !disabled) return;
    await this.db.insertInto('signin_principals').values({ org_id: org, user_id: user, name: user, role: 'viewer', disabled: 1, created_at: new Date().toISOString() }).execute();
  }

  async allowOrg(orgId: string, defaultRole?: string): Promise<AllowedOrgInfo> {
    const org = checkedId(orgId, '00D', 'The org id');
    const role = defaultRole === undefined ? null : checkedRole(defaultRole);
    const createdAt = new Date().toISOString();
    await this.db
      .insertInto('signin_orgs')
      .values({ org_id: org, default_role: role, created_at: createdAt })
      .onConflict((oc) => oc.column('org_id').doUpdateSet({ default_role: role }))
      .execute();
    return { orgId: org, ...(role === null ? {} : { defaultRole: role }), createdAt };
  }

  async listOrgs(): Promise<AllowedOrgInfo[]> {
    const rows = await this.db.selectFrom('signin_orgs').selectAll().orderBy('org_id').execute();
    return rows.map((r) => ({ orgId: r.org_id, ...(r.default_role === null ? {} : { defaultRole: checkedRole(r.default_role) }), createdAt: r.created_at }));
  }

  async removeOrg(orgId: string): Promise<boolean> {
    const res = await this.db.deleteFrom('signin_orgs').where('org_id', '=', checkedId(orgId, '00D', 'The org id')).executeTakeFirst();
    return res.numDeletedRows > 0n;
  }

  /** The principal of a Salesforce user now, or why there is none. Ids are 18-character (as the verifiers return them). */
  async resolve(orgId: string, userId: string): Promise<Principal | PrincipalRefusal> {
    const org = await this.db.selectFrom('signin_orgs').select('default_role').where('org_id', '=', orgId).executeTakeFirst();
    if (!org) return 'unknown_org';
    const row = await this.db.selectFrom('signin_principals').select(['name', 'role', 'disabled']).where('org_id', '=', orgId).where('user_id', '=', userId).executeTakeFirst();
    if (row?.disabled === 1) return 'disabled';
    const role = row?.role ?? org.default_role;
    if (!isRole(role)) return 'unknown_user';
    return { id: principalId(orgId, userId), orgId, userId, name: row?.name ?? userId, role };
  }
}
