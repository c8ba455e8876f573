import type { PoolClient } from 'pg';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
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
          closeConnection((await manager.queryRunner.connect()) as PoolClient);
        }
        throw error;
      }
    });
  } catch (error) {
    throw failedInWork ? error : classifyDatabaseError(error);
  }
}

/** A transaction that sends BEGIN with its first statement and COMMIT with its last (see below). */
export interface FusedTransaction {
  /** The transaction's handle for repository statements (@Tx()). */
  manager: EntityManager;
  /**
   * Sends SQL text in one round trip (the simple protocol: several statements, no parameters; put
   * values in with `literal`) and returns each statement's rows, in order.
   */
  send(sql: string): Promise<Record<string, unknown>[][]>;
  /** A value quoted as an SQL literal, for `send`. */
  literal(value: string | number): string;
}

/**
 * runTransaction for the hot path, two round trips shorter: `work` sends BEGIN together with its
 * first statement and COMMIT together with its last, as SQL text (`send`). Whatever `work` leaves
 * open — it failed, or it had nothing to commit (a replay) — is rolled back here, and a connection
 * that failed without an answer from the server is closed, as in runTransaction. A statement that
 * fails inside such a text aborts the transaction and skips the rest of the text, COMMIT included:
 * a failed record is never committed without its effect, nor an effect without its record.
 */
export async function runFusedTransaction<T>(dataSource: DataSource, work: (transaction: FusedTransaction) => Promise<T>): Promise<T> {
  const runner = dataSource.createQueryRunner();
  let failedInWork = false;
  try {
    const client = (await runner.connect()) as PoolClient;
    const transaction: FusedTransaction = {
      manager: runner.manager,
      send: async (sql) => {
        try {
          const results = (await client.query(sql)) as unknown as
            { rows: Record<string, unknown>[] } | { rows: Record<string, unknown>[] }[];
          return (Array.isArray(results) ? results : [results]).map((result) => result.rows);
        } catch (error) {
          throw classifyDatabaseError(error);
        }
      },
      literal: (value) => (typeof value === 'number' ? String(value) : client.escapeLiteral(value)),
    };
    try {
      const result = await work(transaction);
      // What work left open only read (a replay, a key in flight): its answer stands whether or not
      // the ROLLBACK gets through. A connection that cannot roll back is closed, never reused.
      await endOpenTransaction(runner, client).catch(() => closeConnection(client));
      return result;
    } catch (error) {
      failedInWork = true;
      if (error instanceof DatabaseUnavailableError && lostConnection(error)) closeConnection(client);
      else await endOpenTransaction(runner, client).catch(() => closeConnection(client));
      throw error;
    }
  } catch (error) {
    throw failedInWork ? error : classifyDatabaseError(error);
  } finally {
    await runner.release();
  }
}

/** ROLLBACK, when the connection is still inside a transaction (open, or aborted by an error). */
async function endOpenTransaction(runner: QueryRunner, client: PoolClient): Promise<void> {
  const status = (client as PoolClient & { getTransactionStatus?(): string | null }).getTransactionStatus?.();
  if (!runner.isReleased && status !== 'I') await client.query('ROLLBACK');
}

function closeConnection(client: PoolClient): void {
  (client as PoolClient & { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}
