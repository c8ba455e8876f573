import type { PoolClient } from 'pg';
import type { EntityManager } from 'typeorm';
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
    const result = await client.query<T & object>({ name, text: sql, values: parameters });
    return result.rows;
  } catch (error) {
    throw classifyDatabaseError(error);
  }
}
