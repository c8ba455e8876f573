import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * replication_fences: one row per server process of the service's pool, written by a replay from
 * the database where commits go through a synchronous standby (IdempotencyRepository.
 * confirmOnStandby). The write makes the replay's transaction commit, and a commit waits until the
 * standby has all the WAL before it: the replayed record included. A row per backend, so that
 * concurrent replays never wait for each other's row; as many rows as the server has processes.
 */
export class ReplicationFences1732480000000 implements MigrationInterface {
  name = 'ReplicationFences1732480000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE replication_fences (
        backend_pid integer     NOT NULL,
        fenced_at   timestamptz NOT NULL,
        CONSTRAINT replication_fences_pkey PRIMARY KEY (backend_pid)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE replication_fences`);
  }
}
