/**
 * The sign-in roles and the scopes of the service's tokens. Each role includes the ones before it:
 * viewer lists and describes; operator also starts, stops and cancels runs; admin also creates, updates
 * and deletes flows, connector profiles and tags.
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The scope each role adds: a token carries the scopes of its role (or fewer, when fewer were asked for). */
export const SCOPE_OF_ROLE: Readonly<Record<Role, string>> = {
  viewer: 'flows:read',
  operator: 'flows:run',
  admin: 'flows:admin',
};

export const ALL_SCOPES: readonly string[] = ROLES.map((r) => SCOPE_OF_ROLE[r]);

/** The operations an operator may call besides the read-only ones. */
export const OPERATOR_OPERATIONS: ReadonlySet<string> = new Set(['StartFlow', 'StopFlow', 'CancelFlowExecutions']);

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** The scopes a role grants (its own and those of the roles below it). */
export function scopesOfRole(role: Role): string[] {
  return ROLES.slice(0, ROLES.indexOf(role) + 1).map((r) => SCOPE_OF_ROLE[r]);
}

/** The least role an operation needs: read-only → viewer; start, stop, cancel → operator; the rest → admin. */
export function requiredRole(op: { readonly name: string; readonly readOnly: boolean }): Role {
  if (op.readOnly) return 'viewer';
  if (OPERATOR_OPERATIONS.has(op.name)) return 'operator';
  return 'admin';
}
