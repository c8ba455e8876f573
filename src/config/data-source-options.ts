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
      // A request must fail with 503 rather than hang when the database is unreachable or stuck:
      // connecting, waiting for a pooled connection, and every statement are bounded. The server
      // cancels a slow statement (statement_timeout); query_timeout is the client's own bound, for
      // a server that stops answering altogether. A statement it gives up on may still complete
      // later; the answer is then 503, and the retry with the same Idempotency-Key finds out.
      connectionTimeoutMillis: 5_000,
      statement_timeout: 5_000,
      query_timeout: 6_000,
      idle_in_transaction_session_timeout: 10_000,
      options: '-c lock_timeout=3000',
    },
  };
}
