import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../config/data-source-options.js';
import { surviveLostConnections } from './connection-errors.js';

// An arbitrary constant: the advisory lock that serialises migration runs of several instances.
const MIGRATION_LOCK = 7_240_311;

/** Applies pending migrations; instances that start together take turns. */
/** Needs a pool of at least two connections: one holds the lock while the migrations run. */
export async function migrateDatabase(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((migration) => migration.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}

/** Applies pending migrations to the database at `url`, with a short-lived DataSource of its own. */
export async function migrate(url: string): Promise<string[]> {
  const dataSource = await new DataSource(dataSourceOptions(url, 2)).initialize();
  surviveLostConnections(dataSource, () => undefined);
  try {
    return await migrateDatabase(dataSource);
  } finally {
    await dataSource.destroy();
  }
}
