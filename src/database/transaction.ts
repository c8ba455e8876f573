import type { PoolClient } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';

/** pg's client-side query_timeout: the server never answered the statement. */
function isClientTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'Query read timeout';
}

/**
 * DataSource.transaction, except that a connection whose statement timed out on the client is
 * closed rather than returned to the pool. pg keeps such a statement pending on the connection and
 * the ROLLBACK queued behind it times out too; reused, the connection's next transaction could
 * COMMIT the abandoned one's writes — an effect without its idempotency record. Closing the socket
 * makes the server abort that transaction instead.
 */
export function runTransaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  return dataSource.transaction(async (manager) => {
    try {
      return await work(manager);
    } catch (error) {
      if (isClientTimeout(error) && manager.queryRunner) {
        const client = (await manager.queryRunner.connect()) as PoolClient & { connection?: { stream?: { destroy(): void } } };
        client.connection?.stream?.destroy();
      }
      throw error;
    }
  });
}
