import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * idempotency_claim_key replaces idempotency_open_key: the same claim, with its body built from
 * the key's rules in src/idempotency/key-rules.ts (claimKeyFunctionBody). The text below is that
 * body as it was when this migration was written; test/key-rules.e2e-spec.ts checks that the
 * function in the database still agrees with key-rules.ts.
 */
export class IdempotencyClaimKey1732420000000 implements MigrationInterface {
  name = 'IdempotencyClaimKey1732420000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION idempotency_claim_key(merchant text, idempotency_key text) RETURNS void
      LANGUAGE plpgsql AS $$${CLAIM_KEY_BODY}$$`);
    await db.query(`DROP FUNCTION idempotency_open_key(text, text)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION idempotency_open_key(merchant text, idempotency_key text) RETURNS void
      LANGUAGE plpgsql AS $$${CLAIM_KEY_BODY}$$`);
    await db.query(`DROP FUNCTION idempotency_claim_key(text, text)`);
  }
}

const CLAIM_KEY_BODY = `
DECLARE
  live boolean; -- NULL: no record of the key
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtextextended(merchant || chr(10) || idempotency_key, 0)) THEN
    RAISE EXCEPTION 'idempotency key in flight' USING ERRCODE = 'IK409';
  END IF;
  SELECT r.expires_at > now() INTO live FROM idempotency_keys r
   WHERE r.merchant_id = merchant AND r.key = idempotency_key;
  IF live THEN
    RAISE EXCEPTION 'idempotency key recorded' USING ERRCODE = 'IK409';
  ELSIF NOT live THEN
    DELETE FROM idempotency_keys r WHERE r.merchant_id = merchant AND r.key = idempotency_key;
  END IF;
END
`;
