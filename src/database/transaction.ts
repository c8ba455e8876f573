import type { PoolClient, QueryResult } from 'pg';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { classifyDatabaseError, DatabaseUnavailableError, lostConnection } from '../common/database-errors.js';
import { failedStatementIndex, runPipeline, type PipelinedStatement } from './pipeline.js';
import { sendsNamedStatements } from './query-rows.js';

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

/** A transaction whose round trips carry several statements each (see runFusedTransaction). */
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
  /**
   * Sends statements (prepared, with parameters) in one round trip and returns each one's rows.
   * The first to fail stops the rest (see runPipeline). Statements left by `openWith` go first.
   */
  pipeline(statements: PipelinedStatement[]): Promise<Record<string, unknown>[][]>;
  /**
   * Statements (BEGIN, a claim) that go out with the transaction's first statement, whichever
   * code sends it: the handler's first query, or else the next `pipeline`. Nothing is sent now.
   */
  openWith(statements: PipelinedStatement[]): void;
  /** How the opening statements went: not sent yet, done, or failed with `error`. */
  opening(): { state: 'pending' } | { state: 'done' } | { state: 'failed'; error: unknown };
}

/**
 * runTransaction for the hot path, with fewer round trips: BEGIN travels with the transaction's
 * first statement and COMMIT with its last, either as SQL text (`send`) or as prepared statements
 * in one pipeline (`pipeline`, `openWith`). Whatever `work` leaves open — it failed, or it had
 * nothing to commit (a replay) — is rolled back here, and a connection that failed without an
 * answer from the server is closed, as in runTransaction. A statement that fails inside a text or
 * a pipeline aborts the transaction and skips the rest, COMMIT included: a failed record is never
 * committed without its effect, nor an effect without its record.
 */
export async function runFusedTransaction<T>(dataSource: DataSource, work: (transaction: FusedTransaction) => Promise<T>): Promise<T> {
  const runner = dataSource.createQueryRunner();
  let failedInWork = false;
  let lastRoundTripFailed = false;
  let restoreQuery: (() => void) | undefined;
  try {
    const client = (await runner.connect()) as PoolClient;
    const named = sendsNamedStatements(dataSource);
    const opening = new Opening();
    // Every pipeline of the transaction: the opening's statements, while they wait, go first.
    // pg reports a failed statement before the server's ReadyForQuery tells the transaction's
    // state, so after a failed round trip the connection counts as inside a transaction (see
    // endOpenTransaction); after one that succeeded, pg has read it.
    const roundTrip = async (statements: PipelinedStatement[]): Promise<QueryResult[]> => {
      const opened = opening.take();
      try {
        const results = await runPipeline(
          client,
          [...opened, ...statements].map((statement) => withName(statement, named)),
        );
        lastRoundTripFailed = false;
        opening.settled(opened, undefined);
        return results.slice(opened.length);
      } catch (error) {
        lastRoundTripFailed = true;
        opening.settled(opened, error);
        throw error;
      }
    };
    // SQL text goes as it is (the simple protocol), never through the opening's pipeline.
    const sendText = client.query.bind(client);
    restoreQuery = sendOpeningWithFirstQuery(client, opening, roundTrip);
    const transaction: FusedTransaction = {
      manager: runner.manager,
      send: async (sql) => {
        try {
          const results = (await sendText(sql)) as unknown as { rows: Record<string, unknown>[] } | { rows: Record<string, unknown>[] }[];
          lastRoundTripFailed = false;
          return (Array.isArray(results) ? results : [results]).map((result) => result.rows);
        } catch (error) {
          lastRoundTripFailed = true;
          throw classifyDatabaseError(error);
        }
      },
      literal: (value) => (typeof value === 'number' ? String(value) : client.escapeLiteral(value)),
      pipeline: async (statements) => {
        try {
          return (await roundTrip(statements)).map((result) => result.rows as Record<string, unknown>[]);
        } catch (error) {
          throw classifyDatabaseError(error);
        }
      },
      openWith: (statements) => opening.set(statements),
      opening: () => opening.outcome(),
    };
    try {
      const result = await work(transaction);
      // What work left open only read (a replay, a key in flight): its answer stands whether or not
      // the ROLLBACK gets through. A connection that cannot roll back is closed, never reused.
      await endOpenTransaction(runner, client, lastRoundTripFailed).catch(() => closeConnection(client));
      return result;
    } catch (error) {
      failedInWork = true;
      if (error instanceof DatabaseUnavailableError && lostConnection(error)) closeConnection(client);
      else await endOpenTransaction(runner, client, lastRoundTripFailed).catch(() => closeConnection(client));
      throw error;
    }
  } catch (error) {
    throw failedInWork ? error : classifyDatabaseError(error);
  } finally {
    restoreQuery?.();
    await runner.release();
  }
}

/** The statements `openWith` left, until a round trip takes them, and how they went. */
class Opening {
  private pending: PipelinedStatement[] = [];
  private result: ReturnType<FusedTransaction['opening']> = { state: 'pending' };

  set(statements: PipelinedStatement[]): void {
    this.pending = statements;
    this.result = { state: 'pending' };
  }

  /** The statements to send first in the next round trip (none once they have gone). */
  take(): PipelinedStatement[] {
    const taken = this.pending;
    this.pending = [];
    return taken;
  }

  /** Records how a round trip that carried `sent` opening statements went. */
  settled(sent: PipelinedStatement[], error: unknown): void {
    if (sent.length === 0) return;
    const index = failedStatementIndex(error);
    this.result = error !== undefined && (index === undefined || index < sent.length) ? { state: 'failed', error } : { state: 'done' };
  }

  get waiting(): boolean {
    return this.pending.length > 0;
  }

  outcome(): ReturnType<FusedTransaction['opening']> {
    return this.result;
  }
}

/**
 * While the opening statements wait, the connection's next query (a repository's prepared
 * statement, or TypeORM's own) takes them along in one pipeline and answers with its own result,
 * as pg would. Returns what puts the connection's query method back.
 */
function sendOpeningWithFirstQuery(
  client: PoolClient,
  opening: Opening,
  roundTrip: (statements: PipelinedStatement[]) => Promise<QueryResult[]>,
): () => void {
  const original = client.query.bind(client) as (...args: unknown[]) => unknown;
  const own = Object.getOwnPropertyDescriptor(client, 'query');
  const query = async (config: unknown, values?: unknown[]): Promise<unknown> => {
    if (!opening.waiting) return original(config, values);
    const statement = asStatement(config, values);
    if (statement) return (await roundTrip([statement]))[0];
    // A query pg must run its own way (a cursor, rows as arrays): the opening goes first, alone.
    await roundTrip([]);
    return original(config, values);
  };
  client.query = query as unknown as PoolClient['query'];
  return () => {
    // Put back what was there: pg's method (on its prototype) or whatever had wrapped it.
    if (own) Object.defineProperty(client, 'query', own);
    else delete (client as Partial<PoolClient>).query;
  };
}

/** A query as pg takes it (text and values, or a config object), when it is a plain statement. */
function asStatement(config: unknown, values: unknown[] | undefined): PipelinedStatement | undefined {
  if (typeof config === 'string') return { text: config, values: values ?? [] };
  if (typeof config !== 'object' || config === null) return undefined;
  const { text, name, values: own, ...rest } = config as { text?: unknown; name?: unknown; values?: unknown[] };
  if (typeof text !== 'string' || Object.keys(rest).length > 0) return undefined;
  return { text, name: typeof name === 'string' ? name : undefined, values: own ?? values ?? [] };
}

/** Without named statements (a pooler that keeps none), every statement goes unnamed. */
function withName(statement: PipelinedStatement, named: boolean): PipelinedStatement {
  return named ? statement : { text: statement.text, values: statement.values };
}

/**
 * ROLLBACK, when the connection may still be inside a transaction (open, or aborted by an error).
 * After a failed statement pg has not yet read the server's ReadyForQuery, so the status it knows
 * is the one from before: then ROLLBACK regardless (pg sends it once the server is ready). A
 * connection put back into the pool inside an aborted transaction fails the next request's work.
 */
async function endOpenTransaction(runner: QueryRunner, client: PoolClient, afterFailure = false): Promise<void> {
  const status = (client as PoolClient & { getTransactionStatus?(): string | null }).getTransactionStatus?.();
  if (!runner.isReleased && (afterFailure || status !== 'I')) await client.query('ROLLBACK');
}

function closeConnection(client: PoolClient): void {
  (client as PoolClient & { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}
