import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Running totals of each merchant's balance, so that GET /v1/balance reads a few rows instead of
 * summing the merchant's whole history (10 M charges took 5 s).
 *
 * A single total row per merchant and currency would bring back the hot row that made charges of
 * one merchant queue behind each other. So the totals are spread over slots: each movement adds to
 * the slot of the database session that runs it (pg_backend_pid() % 64), so concurrent movements
 * touch different rows, and the balance is the sum of a merchant's slots. `available` is captured
 * money net of refunds (what the merchant's balance account's entries sum to); `pending` is
 * authorised and not yet captured. The ledger stays the truth: the tests check after every suite
 * that the slots agree with it.
 */
export class BalanceTotals1732390000000 implements MigrationInterface {
  name = 'BalanceTotals1732390000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE balance_totals (
        merchant_id text     NOT NULL,
        currency    text     NOT NULL,
        slot        smallint NOT NULL,
        available   bigint   NOT NULL DEFAULT 0,
        pending     bigint   NOT NULL DEFAULT 0,
        CONSTRAINT balance_totals_pkey PRIMARY KEY (merchant_id, currency, slot),
        CONSTRAINT balance_totals_merchant_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id)
      )`);
    await db.query(`
      INSERT INTO balance_totals (merchant_id, currency, slot, available, pending)
      SELECT merchant_id, currency, 0, sum(available), sum(pending)
        FROM (SELECT e.merchant_id, e.currency, e.amount AS available, 0 AS pending
                FROM ledger_entries e
                JOIN accounts a ON a.merchant_id = e.merchant_id AND a.id = e.account_id
               WHERE a.kind = 'merchant_balance'
              UNION ALL
              SELECT merchant_id, currency, 0, amount - amount_captured FROM charges WHERE status = 'authorized') AS movements
       GROUP BY merchant_id, currency`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE balance_totals');
  }
}
