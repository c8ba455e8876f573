import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { ApiProblems } from '../common/openapi.js';

/**
 * What a restricted API key may do, one scope per kind of route. A key without scopes (every key
 * created before restricted keys existed, and any key created without `scopes`) is an
 * unrestricted secret key: it holds every scope, present and future.
 */
export const SCOPES = [
  'charges:read',
  'charges:write',
  'accounts:read',
  'accounts:write',
  'balance:read',
  'keys:manage',
  'events:read',
  'webhooks:manage',
] as const;
export type Scope = (typeof SCOPES)[number];

export const REQUIRED_SCOPE = 'auth:scope';

/**
 * The scope a merchant route needs. A restricted key without it is answered 403
 * insufficient_scope; the operation says which scope in `x-required-scope` and its 403 response.
 */
export const RequiresScope = (scope: Scope) =>
  applyDecorators(SetMetadata(REQUIRED_SCOPE, scope), ApiExtension('x-required-scope', scope), ApiProblems('insufficient_scope'));

/** Whether a key with `scopes` (null: unrestricted) may use a route that needs `required`. */
export function allows(scopes: readonly string[] | null, required: Scope | undefined): boolean {
  if (scopes === null) return true;
  // A merchant route that declares no scope is open to unrestricted keys only: fail closed.
  return required !== undefined && scopes.includes(required);
}

/** Whether a key with `scopes` can create, roll and revoke keys. */
export function canManageKeys(scopes: readonly string[] | null): boolean {
  return allows(scopes, 'keys:manage');
}
