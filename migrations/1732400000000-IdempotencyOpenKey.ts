import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * idempotency_open_key(merchant, key): the opening of a new request's transaction, sent in the
 * same round trip as BEGIN and the handler's first statement (database/pipeline.ts). It takes the
 * key's transaction-scoped advisory lock without waiting (the same lock id as KEY_LOCK_ID in
 * idempotency.repository.ts), and fails with SQLSTATE IK409 when the key is in use: locked by a
 * request in flight, or holding a live record (a response or a claim). An expired record does not
 * count; the record's insert replaces it. The failure makes the server skip the rest of the
 * round trip, so the handler's statement never takes effect; the request then looks the key up
 * (replay, 422 or in progress) the way it did before it tried the short way.
 *
 * A function rather than statements of the pipeline: only a function can refuse (RAISE), and its
 * statements are planned once per session.
 */
export class IdempotencyOpenKey1732400000000 implements MigrationInterface {
  name = 'IdempotencyOpenKey1732400000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION idempotency_open_key(merchant text, idempotency_key text) RETURNS void
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

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP FUNCTION idempotency_open_key(text, text)`);
  }
}
