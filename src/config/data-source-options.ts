import type { DataSourceOptions } from 'typeorm';
import { ALL_MIGRATIONS } from '../../migrations/index.js';

/**
 * The bounds of every session of the service, in milliseconds. pg sends them as startup
 * parameters; a pooler that cannot pass those on (PgBouncer 1.18, Debian 12's) must ignore them
 * (ignore_startup_parameters) and set the same on its server connections: `sessionSettingsSql()`
 * as its connect_query (docs/operations.md, testing/pgbouncer.ts).
 */
export const SESSION_SETTINGS = {
  statement_timeout: 5_000,
  lock_timeout: 3_000,
  idle_in_transaction_session_timeout: 10_000,
} as const;

/** SESSION_SETTINGS as SET statements, for a pooler's connect_query. */
export function sessionSettingsSql(): string {
  return Object.entries(SESSION_SETTINGS)
    .map(([name, value]) => `SET ${name} = ${value}`)
    .join('; ');
}

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
    extra: { max: poolSize, ...requestPathClientSettings(), query_timeout: ANSWER_TIMEOUT_MS },
  };
}

/**
 * How long the client awaits a statement's answer: its own bound, for a server that stops answering
 * altogether (the server cancels a slow statement sooner, at statement_timeout). A statement it gives
 * up on may still complete later; the answer is then 503, and the retry with the same
 * Idempotency-Key finds out. The request path applies it itself (database/sql.ts, NoAnswerError); the
 * DataSource (migrations) through pg's query_timeout.
 */
export const ANSWER_TIMEOUT_MS = 6_000;

/**
 * What every connection of the service is told (the DataSource's and the request path's pool, see
 * database/sql.ts). A request must fail with 503 rather than hang when the database is unreachable
 * or stuck: connecting, waiting for a pooled connection, and every statement (ANSWER_TIMEOUT_MS) are
 * bounded.
 */
export function requestPathClientSettings(): Record<string, unknown> {
  return {
    application_name: 'payments-service',
    connectionTimeoutMillis: 5_000,
    statement_timeout: SESSION_SETTINGS.statement_timeout,
    idle_in_transaction_session_timeout: SESSION_SETTINGS.idle_in_transaction_session_timeout,
    lock_timeout: SESSION_SETTINGS.lock_timeout,
  };
}
