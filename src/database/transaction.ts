import type { PoolClient } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import { classifyDatabaseError, DatabaseUnavailableError, lostConnection } from '../common/database-errors.js';

/**
 * DataSource.transaction, with two additions.
 *
 * - BEGIN, COMMIT and taking a pooled connection fail like any database call: as
 *   DatabaseUnavailableError when the database is unavailable. Errors of `work` pass unchanged.
 * - A connection that failed without an answer from the server (lost, or a statement the client
 *   gave up on) is closed rather than returned to the pool. pg keeps a timed-out statement pending
 *   on the connection and the ROLLBACK queued behind it times out too; reused, the connection's next
 *   transaction could COMMIT the abandoned one's writes — an effect without its idempotency record.
 *   Closing the socket makes the server abort that transaction instead.
 *
 * Every transaction of the service goes through here (lint forbids `dataSource.transaction`
 * elsewhere).
 */
export async function runTransaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  let failedInWork = false;
  try {
    return await dataSource.transaction(async (manager) => {
      try {
        return await work(manager);
      } catch (error) {
        failedInWork = true;
        if (error instanceof DatabaseUnavailableError && lostConnection(error) && manager.queryRunner) {
          const client = (await manager.queryRunner.connect()) as PoolClient & { connection?: { stream?: { destroy(): void } } };
          client.connection?.stream?.destroy();
        }
        throw error;
      }
    });
  } catch (error) {
    throw failedInWork ? error : classifyDatabaseError(error);
  }
}
