import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * idempotency_open_key removes an expired record of the key itself, under the key's lock, in the
 * same probe that looks for a live one. The record's insert then needs no DELETE of its own: before,
 * a new key's request probed its row twice, once here and once more before the insert.
 */
export class IdempotencyOpeningDropsExpired1732410000000 implements MigrationInterface {
  name = 'IdempotencyOpeningDropsExpired1732410000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE OR REPLACE FUNCTION idempotency_open_key(merchant text, idempotency_key text) RETURNS void
      LANGUAGE plpgsql AS $$
      DECLARE
        live boolean; -- NULL: no record of the key
      BEGIN
        IF NOT pg_try_advisory_xact_lock(hashtextextended(merchant || chr(10) || idempotency_key, 0)) THEN
          RAISE EXCEPTION 'idempotency key in use' USING ERRCODE = 'IK409';
        END IF;
        SELECT expires_at > now() INTO live FROM idempotency_keys
         WHERE merchant_id = merchant AND key = idempotency_key;
        IF live THEN
          RAISE EXCEPTION 'idempotency key in use' USING ERRCODE = 'IK409';
        ELSIF NOT live THEN
          DELETE FROM idempotency_keys WHERE merchant_id = merchant AND key = idempotency_key;
        END IF;
      END
      $$`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE OR REPLACE FUNCTION idempotency_open_key(merchant text, idempotency_key text) RETURNS void
      LANGUAGE plpgsql AS $$
      BEGIN
        IF NOT pg_try_advisory_xact_lock(hashtextextended(merchant || chr(10) || idempotency_key, 0)) THEN
          RAISE EXCEPTION 'idempotency key in use' USING ERRCODE = 'IK409';
        END IF;
        IF EXISTS (SELECT 1 FROM idempotency_keys
                    WHERE merchant_id = merchant AND key = idempotency_key AND expires_at > now()) THEN
          RAISE EXCEPTION 'idempotency key in use' USING ERRCODE = 'IK409';
        END IF;
      END
      $$`);
  }
}
