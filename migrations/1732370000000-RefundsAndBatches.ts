import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Refunds of captured charges, and the per-item records of batch charges.
 *
 * A refund's amount is bounded in the charge row itself (charges_refunded_within_captured), which
 * the refund statement increments in the same transaction, so concurrent refunds can never sum to
 * more than was captured.
 *
 * batch_items holds the outcome of each item of POST /v1/charges/batch, written in the same
 * transaction as that item's effect: a batch cut off part-way and retried with the same key runs
 * only the items that have no record yet.
 */
export class RefundsAndBatches1732370000000 implements MigrationInterface {
  name = 'RefundsAndBatches1732370000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE refunds (
        merchant_id text        NOT NULL,
        id          text        NOT NULL,
        charge_id   text        NOT NULL,
        amount      bigint      NOT NULL,
        currency    text        NOT NULL,
        reason      text,
        status      text        NOT NULL DEFAULT 'succeeded',
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT refunds_pkey PRIMARY KEY (merchant_id, id),
        CONSTRAINT refunds_charge_fkey FOREIGN KEY (merchant_id, charge_id) REFERENCES charges (merchant_id, id),
        CONSTRAINT refunds_amount_check CHECK (amount BETWEEN 1 AND 100000000000),
        CONSTRAINT refunds_status_check CHECK (status IN ('succeeded')),
        CONSTRAINT refunds_reason_check CHECK (reason IN ('duplicate', 'fraudulent', 'requested_by_customer'))
      )`);
    await db.query(`CREATE INDEX refunds_charge_idx ON refunds (merchant_id, charge_id)`);

    await db.query(`
      CREATE TABLE batch_items (
        merchant_id text        NOT NULL,
        batch_key   text        NOT NULL,
        item_index  smallint    NOT NULL,
        fingerprint text        NOT NULL,
        status      smallint    NOT NULL,
        body        text        NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz NOT NULL,
        CONSTRAINT batch_items_pkey PRIMARY KEY (merchant_id, batch_key, item_index),
        CONSTRAINT batch_items_index_check CHECK (item_index BETWEEN 0 AND 99)
      )`);
    await db.query(`CREATE INDEX batch_items_expiry_idx ON batch_items (expires_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE batch_items');
    await db.query('DROP TABLE refunds');
  }
}
