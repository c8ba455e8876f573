import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Card charges, which an external acquirer captures: the charge and its idempotency key move through
 * recovery points, each committed by its own transaction (none is open across the acquirer's call).
 *
 * charges: a card charge has a payment_method instead of a source account, is `pending` until the
 * acquirer answered definitively, then `succeeded` (with the acquirer's payment id) or `failed`
 * (with its decline code). Its id is the key sent to the acquirer and its reference.
 *
 * idempotency_keys: recovery_point is NULL for the records of the one-transaction path (they are
 * written finished, as before); a card charge's key is `started` (tx1), `acquirer_called` (tx2, before
 * each request leaves) or `finished` (tx3). lease_until / lease_token: the worker that drives the key
 * now; another takes it only once the lease is free or expired, and every later write of the key
 * names the token it holds.
 */
export class CardCharges1732430000000 implements MigrationInterface {
  name = 'CardCharges1732430000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE charges ALTER COLUMN source_account_id DROP NOT NULL`);
    await db.query(`ALTER TABLE charges ADD COLUMN payment_method text, ADD COLUMN acquirer_payment_id text, ADD COLUMN decline_code text`);
    await db.query(`ALTER TABLE charges DROP CONSTRAINT charges_status_check`);
    await db.query(
      `ALTER TABLE charges ADD CONSTRAINT charges_status_check CHECK (status IN ('authorized', 'succeeded', 'canceled', 'pending', 'failed'))`,
    );
    await db.query(
      `ALTER TABLE charges ADD CONSTRAINT charges_source_or_card CHECK ((source_account_id IS NULL) <> (payment_method IS NULL))`,
    );
    await db.query(
      `ALTER TABLE charges ADD CONSTRAINT charges_card_states CHECK (payment_method IS NULL OR status IN ('pending', 'succeeded', 'failed'))`,
    );
    // A capture of the acquirer is in our ledger at most once.
    await db.query(
      `CREATE UNIQUE INDEX charges_acquirer_payment_key ON charges (merchant_id, acquirer_payment_id) WHERE acquirer_payment_id IS NOT NULL`,
    );

    await db.query(`
      ALTER TABLE idempotency_keys
        ADD COLUMN recovery_point  text,
        ADD COLUMN lease_until     timestamptz,
        ADD COLUMN lease_token     text,
        ADD COLUMN charge_id       text,
        ADD COLUMN attempts        integer NOT NULL DEFAULT 0,
        ADD COLUMN last_attempt_at timestamptz,
        ADD COLUMN last_outcome    text`);
    await db.query(`
      ALTER TABLE idempotency_keys
        ADD CONSTRAINT idempotency_keys_recovery_point_check CHECK (recovery_point IN ('started', 'acquirer_called', 'finished')),
        ADD CONSTRAINT idempotency_keys_finished_has_response CHECK (recovery_point IS DISTINCT FROM 'finished' OR status IS NOT NULL),
        ADD CONSTRAINT idempotency_keys_phased_has_charge CHECK (recovery_point IS NULL OR charge_id IS NOT NULL)`);
    // What the completer scans: the unfinished keys, oldest first.
    await db.query(
      `CREATE INDEX idempotency_keys_unfinished_idx ON idempotency_keys (created_at) WHERE recovery_point IN ('started', 'acquirer_called')`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DELETE FROM idempotency_keys WHERE recovery_point IS NOT NULL`);
    await db.query(`DROP INDEX idempotency_keys_unfinished_idx`);
    await db.query(`
      ALTER TABLE idempotency_keys
        DROP CONSTRAINT idempotency_keys_recovery_point_check,
        DROP CONSTRAINT idempotency_keys_finished_has_response,
        DROP CONSTRAINT idempotency_keys_phased_has_charge,
        DROP COLUMN recovery_point, DROP COLUMN lease_until, DROP COLUMN lease_token, DROP COLUMN charge_id,
        DROP COLUMN attempts, DROP COLUMN last_attempt_at, DROP COLUMN last_outcome`);
    await db.query(
      `DELETE FROM ledger_entries e USING charges c WHERE c.merchant_id = e.merchant_id AND c.id = e.reference AND c.payment_method IS NOT NULL`,
    );
    await db.query(`DELETE FROM charges WHERE payment_method IS NOT NULL`);
    await db.query(`DROP INDEX charges_acquirer_payment_key`);
    await db.query(
      `ALTER TABLE charges DROP CONSTRAINT charges_card_states, DROP CONSTRAINT charges_source_or_card, DROP CONSTRAINT charges_status_check`,
    );
    await db.query(`ALTER TABLE charges ADD CONSTRAINT charges_status_check CHECK (status IN ('authorized', 'succeeded', 'canceled'))`);
    await db.query(`ALTER TABLE charges DROP COLUMN payment_method, DROP COLUMN acquirer_payment_id, DROP COLUMN decline_code`);
    await db.query(`ALTER TABLE charges ALTER COLUMN source_account_id SET NOT NULL`);
  }
}
