import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A key can be claimed before its response exists. A request that commits item by item (POST
 * /v1/charges/batch) claims its key in the transaction of its first item, and records the whole
 * response only when every item has run; meanwhile the key's row holds the fingerprint and no
 * response (status and body NULL). Every other request with that key sees the claim: another
 * request is refused (422 idempotency_key_reused), and the same batch resumes, replaying the items
 * that already committed. Before this, a batch held no claim while its items ran, and a charge
 * with the same key could take effect too.
 */
export class IdempotencyClaims1732380000000 implements MigrationInterface {
  name = 'IdempotencyClaims1732380000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE idempotency_keys ALTER COLUMN status DROP NOT NULL, ALTER COLUMN body DROP NOT NULL`);
    await db.query(`ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_response_whole CHECK ((status IS NULL) = (body IS NULL))`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DELETE FROM idempotency_keys WHERE status IS NULL`);
    await db.query(`ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_response_whole`);
    await db.query(`ALTER TABLE idempotency_keys ALTER COLUMN status SET NOT NULL, ALTER COLUMN body SET NOT NULL`);
  }
}
