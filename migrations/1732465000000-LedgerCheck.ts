import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the periodic ledger check (src/ledger/ledger-check.service.ts) needs to stay cheap on a
 * large ledger: it keeps each account's sum of the entries it has already folded in, and reads
 * only the entries added since.
 *
 * - ledger_check_sums: per account, the sum of its entries up to ledger_check.folded_through (a
 *   ledger_entries.seq below which every transaction that wrote an entry has ended).
 * - ledger_check: one row, shared by every instance: how far the sums reach, the next fold's
 *   candidate, and the last run's result (what /metrics exports).
 * - A BRIN index on ledger_entries.seq: the entries since a seq are read from the table's tail. The
 *   table is append-only, so seq follows the rows' physical order and the index stays a few pages;
 *   a new entry costs it nothing until VACUUM summarises its page range.
 * - A partial index of the authorised charges (the only ones holding funds): the open
 *   authorisations are read from it alone, however many settled charges there are.
 */
export class LedgerCheck1732465000000 implements MigrationInterface {
  name = 'LedgerCheck1732465000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX ledger_entries_seq_brin ON ledger_entries USING brin (seq)`);
    await db.query(
      `CREATE INDEX charges_open_authorisations_idx ON charges (merchant_id, source_account_id)
         INCLUDE (currency, amount, amount_captured) WHERE status = 'authorized'`,
    );
    await db.query(`
      CREATE TABLE ledger_check_sums (
        merchant_id text   NOT NULL,
        account_id  text   NOT NULL,
        currency    text   NOT NULL,
        total       bigint NOT NULL,
        CONSTRAINT ledger_check_sums_pkey PRIMARY KEY (merchant_id, account_id)
      )`);
    await db.query(`
      CREATE TABLE ledger_check (
        id                 boolean     NOT NULL DEFAULT true,
        folded_through     bigint      NOT NULL DEFAULT 0,
        candidate_seq      bigint,
        candidate_at       timestamptz,
        checked_at         timestamptz,
        duration_seconds   float8,
        entries_read       bigint,
        violations         jsonb       NOT NULL DEFAULT '{}'::jsonb,
        CONSTRAINT ledger_check_pkey PRIMARY KEY (id),
        CONSTRAINT ledger_check_one_row CHECK (id)
      )`);
    await db.query(`INSERT INTO ledger_check DEFAULT VALUES`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE ledger_check');
    await db.query('DROP TABLE ledger_check_sums');
    await db.query('DROP INDEX charges_open_authorisations_idx');
    await db.query('DROP INDEX ledger_entries_seq_brin');
  }
}
