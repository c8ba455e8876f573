import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * System ledger accounts (a merchant's balance per currency, and the external account that is the
 * other side of deposits) become append-only: their balance is the sum of their entries, read when
 * needed, and their row is never updated. Every charge of a merchant used to update the same
 * balance row and so queued behind every other charge of that merchant until COMMIT; now charges
 * only append entries. Customer accounts keep their running balance, which the guarded
 * "balance - held >= amount" update needs.
 */
export class AppendOnlySystemAccounts1732360000000 implements MigrationInterface {
  name = 'AppendOnlySystemAccounts1732360000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`UPDATE accounts SET balance = 0 WHERE kind <> 'customer'`);
    await db.query(`ALTER TABLE accounts ADD CONSTRAINT accounts_system_balance_derived CHECK (kind = 'customer' OR balance = 0)`);
    // Sums of an account's entries (GET /v1/balance, invariant checks) read the index alone.
    await db.query(`DROP INDEX ledger_entries_account_idx`);
    await db.query(`CREATE INDEX ledger_entries_account_idx ON ledger_entries (merchant_id, account_id, seq) INCLUDE (amount)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX ledger_entries_account_idx`);
    await db.query(`CREATE INDEX ledger_entries_account_idx ON ledger_entries (merchant_id, account_id, seq)`);
    await db.query(`ALTER TABLE accounts DROP CONSTRAINT accounts_system_balance_derived`);
    await db.query(`
      UPDATE accounts a SET balance = coalesce((SELECT sum(amount) FROM ledger_entries e
                                                 WHERE e.merchant_id = a.merchant_id AND e.account_id = a.id), 0)
       WHERE kind <> 'customer'`);
  }
}
