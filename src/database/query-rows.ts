import type { PoolClient } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import { classifyDatabaseError } from '../common/database-errors.js';

/**
 * Runs one SQL statement and returns its rows. TypeORM answers UPDATE and DELETE with
 * [rows, affectedCount] and everything else with rows; this hides the difference. A failure that
 * means "the database is unavailable" comes out as DatabaseUnavailableError.
 */
export async function queryRows<T>(manager: EntityManager, sql: string, parameters: unknown[] = []): Promise<T[]> {
  let result: unknown;
  try {
    result = await manager.query(sql, parameters);
  } catch (error) {
    throw classifyDatabaseError(error);
  }
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return result as T[];
}

/** DataSources whose connections go through a pooler that keeps no named prepared statements. */
const withoutNamedStatements = new WeakSet<DataSource>();

/**
 * From now on preparedRows sends this DataSource's statements unnamed (DATABASE_PREPARED_STATEMENTS
 * off): a pooler in transaction mode gives each transaction any server connection, and one that
 * does not track prepared statements (PgBouncer before 1.21) would send a statement's name to a
 * server that never prepared it.
 */
export function sendStatementsUnnamed(dataSource: DataSource): void {
  withoutNamedStatements.add(dataSource);
}

/** Whether this DataSource's statements may be named (prepared once per connection). */
export function sendsNamedStatements(dataSource: DataSource): boolean {
  return !withoutNamedStatements.has(dataSource);
}

/**
 * Runs a statement of the hot path (the idempotency lookup and record, a charge, a deposit) as a
 * named prepared statement on the transaction's connection: PostgreSQL parses and plans it once
 * per connection instead of on every request. `name` must always go with the same `sql`.
 */
export async function preparedRows<T>(manager: EntityManager, name: string, sql: string, parameters: unknown[]): Promise<T[]> {
  const runner = manager.queryRunner;
  if (!runner) return queryRows<T>(manager, sql, parameters);
  try {
    const client = (await runner.connect()) as PoolClient;
    const named = sendsNamedStatements(manager.connection);
    const result = await client.query<T & object>(named ? { name, text: sql, values: parameters } : { text: sql, values: parameters });
    return result.rows;
  } catch (error) {
    throw classifyDatabaseError(error);
  }
}
