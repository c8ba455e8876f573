import type { DataSourceOptions } from 'typeorm';
import { ALL_MIGRATIONS } from '../../migrations/index.js';

/**
 * The one DataSource options factory, shared by the application and the migration CLI.
 * `synchronize` is never on: the schema comes from migrations/ only.
 */
export function dataSourceOptions(url: string, poolSize = 20): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    synchronize: false,
    migrations: ALL_MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each',
    logging: false,
    extra: {
      max: poolSize,
      application_name: 'payments-service',
      // A request must fail fast with 503 rather than hang when the database is unreachable or stuck.
      connectionTimeoutMillis: 5_000,
      statement_timeout: 10_000,
      idle_in_transaction_session_timeout: 30_000,
      options: '-c lock_timeout=5000',
    },
  };
}
