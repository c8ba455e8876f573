import { randomFillSync } from 'node:crypto';

export type IdPrefix = 'mer' | 'acct' | 'ch' | 're' | 'dep' | 'ent' | 'key' | 'aud' | 'evt' | 'we';

const ID_BYTES = 15;
/** Random bytes drawn in bulk: one call to the system's generator per 256 ids, not one per id. */
const pool = Buffer.alloc(ID_BYTES * 256);
let offset = pool.length;

/** Opaque, unguessable ids with a type prefix (contract: Conventions). */
export function newId(prefix: IdPrefix): string {
  if (offset + ID_BYTES > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = `${prefix}_${pool.toString('base64url', offset, offset + ID_BYTES)}`;
  offset += ID_BYTES;
  return id;
}
