import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An event is written with every effect, so what its insert costs, every charge pays
 * (docs/scaling.md, "The event written with every charge").
 *
 * - No foreign key from events to merchants. Its check took a KEY SHARE lock on the merchant's
 *   row for every event: concurrent charges of one merchant each wrote that row's lock (a WAL
 *   record, and a new MultiXact holding every other locker), all on one page. The merchant is
 *   known to exist without it: an event is written only in the transaction of an effect whose
 *   rows reference the merchant's accounts, under an API key of that merchant, and merchants are
 *   never deleted. (idempotency_keys has never had such a key, for the same reason.)
 * - The purge's index on created_at is a BRIN index instead of a B-tree: events are append-only,
 *   so created_at follows the rows' physical order. A new event costs the BRIN index nothing until
 *   its page range is summarised; the B-tree took an insert and a WAL record per event.
 */
export class EventsCheaperToWrite1732470000000 implements MigrationInterface {
  name = 'EventsCheaperToWrite1732470000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE events DROP CONSTRAINT events_merchant_fkey`);
    await db.query(`DROP INDEX events_created_idx`);
    await db.query(`CREATE INDEX events_created_brin ON events USING brin (created_at) WITH (autosummarize = on)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX events_created_brin`);
    await db.query(`CREATE INDEX events_created_idx ON events (created_at)`);
    await db.query(`ALTER TABLE events ADD CONSTRAINT events_merchant_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id)`);
  }
}
