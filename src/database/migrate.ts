import { DataSource, MigrationExecutor } from 'typeorm';
import { dataSourceOptions } from '../config/data-source-options.js';
import { surviveLostConnections } from './connection-errors.js';

// An arbitrary constant: the advisory lock that serialises migration runs of several instances.
const MIGRATION_LOCK = 7_240_311;

/**
 * Applies pending migrations; instances that start together take turns.
 *
 * All pending migrations run in one transaction that first takes a transaction-scoped advisory
 * lock, so the lock ends with the transaction whatever happens, and it works the same directly
 * against PostgreSQL and through a pooler in transaction mode (PgBouncer), where a session-level
 * lock could be taken on one server connection and released on another, and stay held. The
 * instance that waited reads the migrations table after the lock, so it finds them applied. A
 * deploy's migrations apply together or not at all.
 */
export async function migrateDatabase(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.startTransaction();
    await runner.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    // Given a transaction that is already open, the executor runs every migration inside it.
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'all';
    const applied = await executor.executePendingMigrations();
    await runner.commitTransaction();
    return applied.map((migration) => migration.name);
  } catch (error) {
    if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
    throw error;
  } finally {
    await runner.release();
  }
}

/** Applies pending migrations to the database at `url`, with a short-lived DataSource of its own. */
export async function migrate(url: string): Promise<string[]> {
  const dataSource = await new DataSource(dataSourceOptions(url, 1)).initialize();
  surviveLostConnections(dataSource, () => undefined);
  try {
    return await migrateDatabase(dataSource);
  } finally {
    await dataSource.destroy();
  }
}
