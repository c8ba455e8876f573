import { randomBytes } from 'node:crypto';

export type IdPrefix = 'mer' | 'acct' | 'ch' | 're' | 'dep' | 'ent';

/** Opaque, unguessable ids with a type prefix (contract: Conventions). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBytes(15).toString('base64url')}`;
}
