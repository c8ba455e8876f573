import { Socket } from 'node:net';
import pg from 'pg';
import { afterPendingIo } from '../common/answer-deadline.js';
import { classifyDatabaseError, DatabaseUnavailableError, lostConnection, sqlState } from '../common/database-errors.js';

/**
 * One SQL statement with $n parameters. `name` makes it a prepared statement: pg parses it once per
 * connection and afterwards sends only its parameters. A name always goes with the same text.
 */
export interface Statement {
  name: string;
  text: string;
  values?: unknown[];
  /**
   * How long this statement's answer is awaited, in place of the pool's answerTimeoutMs: for the few
   * that may run long on purpose (the ledger check), whose transaction also raises statement_timeout.
   */
  timeoutMs?: number;
}

/** What went over the wire, counted (not timed): test/round-trips.e2e-spec.ts reads it. */
export interface SqlTraffic {
  /**
   * Times the service waited for an answer before it sent more: a statement sent after an answer
   * reached the code that sent it starts a new round trip; statements sent together (pg's pipeline
   * mode writes each without waiting for the one before) share one.
   */
  roundTrips: number;
  statements: number;
}

/** Sees every statement as it is sent (a test that checks what the service sends). */
export type StatementWatcher = (statement: Statement) => void;

/** How the pool of the request path connects: the DataSource's URL and bounds (config/). */
export interface SqlOptions {
  url: string;
  poolSize: number;
  /** How long an idle connection is kept open (0: until it fails); pg-pool's own default is 10 s. */
  idleSeconds: number;
  /**
   * How long a statement's answer is awaited before the call counts as unavailable (a server that
   * stops answering altogether; the server's own statement_timeout is shorter): see NoAnswerError.
   */
  answerTimeoutMs: number;
  /** Off behind a pooler that keeps no prepared statements: every statement goes unnamed. */
  namedStatements: boolean;
  /** pg's client settings (timeouts, application_name), the same as the DataSource's. */
  clientSettings: Record<string, unknown>;
  /** A connection the server ended, reported (the pool drops it). */
  onLost?: (sqlState: string | undefined) => void;
}

/** A transaction's opening failed (BEGIN, or a statement sent with it): nothing of it took effect. */
export class OpeningFailedError extends Error {
  constructor(readonly failure: unknown) {
    super('The transaction did not open.', { cause: failure });
    this.name = 'OpeningFailedError';
  }
}

/** COMMIT answered ROLLBACK: a statement of the transaction had failed, so nothing was committed. */
export class TransactionAbortedError extends Error {
  constructor() {
    super('The transaction was aborted by an earlier failed statement; COMMIT rolled it back.');
    this.name = 'TransactionAbortedError';
  }
}

const BEGIN: Statement = { name: 'begin', text: 'BEGIN' };
const COMMIT: Statement = { name: 'commit', text: 'COMMIT' };
const ROLLBACK: Statement = { name: 'rollback', text: 'ROLLBACK' };

/**
 * The one way the service talks to PostgreSQL on the request path: a pool of its own whose
 * connections run in pg's pipeline mode (`pipeline: true`, pg ≥ 8.23, pinned in package.json).
 * A statement is written as soon as it is sent, without waiting for the answers to earlier ones,
 * each with its own Sync; so statements sent one after another without awaiting travel in one
 * round trip. Under it, a statement after a failed one inside a transaction fails too (25P02) and a
 * COMMIT there answers with the command tag ROLLBACK: SqlTransaction.commit turns that into an error.
 *
 * TypeORM keeps its DataSource for the migrations; requests never go through it.
 */
export class Sql {
  readonly traffic: SqlTraffic = { roundTrips: 0, statements: 0 };
  private readonly pool: pg.Pool;
  private readonly watchers = new Set<StatementWatcher>();

  constructor(private readonly options: SqlOptions) {
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      idleTimeoutMillis: options.idleSeconds * 1000,
      ...options.clientSettings,
      pipeline: true,
      Client: SocketKeepingClient,
    });
    // A connection the server ends emits 'error' on its client; unheard, it would end the process.
    // pg-pool listens only while the client is idle, so every client gets a listener for its life.
    this.pool.on('connect', (client) => client.on('error', (error) => options.onLost?.(sqlState(error))));
    this.pool.on('error', () => undefined);
  }

  /** Calls `watcher` with every statement sent from now on, until the returned function is called. */
  watch(watcher: StatementWatcher): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** The pool's connections (pg-pool's public counts), for /metrics. */
  usage(): { total: number; idle: number; waiting: number; max: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount, max: this.options.poolSize };
  }

  /** Settles once every connection is back in the pool (a test that counts what a request sent). */
  async idle(): Promise<void> {
    while (this.pool.totalCount > this.pool.idleCount) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** One statement outside any transaction (PostgreSQL commits it on its own): its rows. */
  async query<T>(statement: Statement): Promise<T[]> {
    const connection = await this.connect();
    try {
      const result = await connection.send(statement);
      connection.release();
      return result.rows as T[];
    } catch (error) {
      connection.release(error);
      throw classifyDatabaseError(error);
    }
  }

  /**
   * Takes a pooled connection and writes BEGIN, without waiting for its answer: the transaction's
   * first statement travels with it. `opening` (see Opening) goes in the same round trip.
   */
  async begin(opening: Opening = {}): Promise<SqlTransaction> {
    const connection = await this.connect();
    return new SqlTransaction(connection, opening);
  }

  /** BEGIN, `work`, COMMIT, or ROLLBACK when `work` fails: the transaction of a key-less write. */
  async transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    const tx = await this.begin();
    try {
      const result = await work(tx);
      await tx.commit();
      return result;
    } finally {
      await tx.end();
    }
  }

  /** Nest calls it when the application shuts down, after the HTTP server finished its requests. */
  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }

  private async connect(): Promise<Connection> {
    try {
      return new Connection(await this.pool.connect(), this.options, this.traffic, this.watchers);
    } catch (error) {
      throw classifyDatabaseError(error);
    }
  }
}

/**
 * What goes out with BEGIN, in its round trip, sent by the code that owns the transaction:
 * `before` runs outside the transaction, ahead of BEGIN (a lookup that must not wait for the
 * transaction); `after` follows BEGIN inside it (a key's claim). If any of them fails, the
 * transaction's statements fail too (OpeningFailedError), whether or not they were sent already.
 */
export interface Opening {
  before?: Statement[];
  after?: Statement[];
}

/**
 * A transaction on one pooled connection, handed explicitly to every repository method that
 * writes. `query` sends one statement; statements sent without awaiting each other share a round
 * trip. `commit(statements)` sends the last statements with COMMIT, in one round trip.
 */
export class SqlTransaction {
  /** The rows of each statement of the opening's `before`, outside the transaction. */
  readonly before: Promise<unknown[][]>;
  /**
   * The rows of each statement of the opening's `after`, once BEGIN and they succeeded; else the
   * failure (as classifyDatabaseError gives it). Settled when the server answered the round trip.
   */
  readonly opened: Promise<unknown[][]>;
  private openingFailure: unknown;
  private finished = false;
  /** A statement of the transaction failed: what is left to do is ROLLBACK. */
  private aborted = false;
  /** Statements that go out with COMMIT (sendWithCommit). */
  private readonly withCommit: Statement[] = [];

  constructor(
    private readonly connection: Connection,
    opening: Opening,
  ) {
    const before = (opening.before ?? []).map((statement) => connection.send(statement));
    const begin = connection.send(BEGIN);
    const after = (opening.after ?? []).map((statement) => connection.send(statement));
    // Every statement was sent: none of their failures may go unheard.
    for (const pending of [...before, begin, ...after]) pending.catch(() => undefined);
    this.before = Promise.all(before).then((results) => results.map((result) => result.rows as unknown[]));
    this.before.catch(() => undefined);
    this.opened = (async () => {
      try {
        await begin;
        return (await Promise.all(after)).map((result) => result.rows as unknown[]);
      } catch (error) {
        this.openingFailure = classifyDatabaseError(error);
        this.aborted = true;
        throw this.openingFailure;
      }
    })();
    this.opened.catch(() => undefined);
  }

  /** One statement of the transaction: its rows. */
  async query<T>(statement: Statement): Promise<T[]> {
    return (await this.batch([statement]))[0] as T[];
  }

  /**
   * Statements sent together, in one round trip: each one's rows, in order. The first to fail is
   * thrown, and the transaction is then aborted (what follows it fails with 25P02, no effect).
   */
  async batch(statements: Statement[]): Promise<unknown[][]> {
    if (this.openingFailure !== undefined) throw this.failedOpening();
    if (this.finished) throw new Error('The transaction has ended.');
    const sent = statements.map((statement) => this.connection.send(statement));
    try {
      const results = await Promise.all(sent);
      return results.map((result) => result.rows as unknown[]);
    } catch (error) {
      for (const pending of sent) pending.catch(() => undefined);
      this.aborted = true;
      // A statement that followed a failed opening failed because of it: say so, not 25P02.
      await this.opened.catch(() => undefined);
      if (this.openingFailure !== undefined) throw this.failedOpening();
      throw classifyDatabaseError(error);
    }
  }

  /**
   * A statement that goes out with COMMIT, in its round trip, ahead of commit's own statements; never,
   * if the transaction does not commit. For a write that must commit with the effect but that nothing
   * waits for (an effect's event, events/): it costs a statement, not a round trip.
   */
  sendWithCommit(statement: Statement): void {
    if (this.finished) throw new Error('The transaction has ended.');
    this.withCommit.push(statement);
  }

  /**
   * Sends `statements` and COMMIT in one round trip and returns the statements' rows. If any
   * statement of the transaction failed, COMMIT rolls it back (answered with the tag ROLLBACK):
   * then the failure is thrown, never success.
   */
  async commit(statements: Statement[] = []): Promise<unknown[][]> {
    if (this.openingFailure !== undefined) throw this.failedOpening();
    const sent = [...this.withCommit, ...statements].map((statement) => this.connection.send(statement));
    const commit = this.connection.send(COMMIT);
    this.finished = true;
    try {
      const [results, committed] = await Promise.all([Promise.all(sent), commit]);
      if (committed.command !== 'COMMIT') throw new TransactionAbortedError();
      return results.slice(this.withCommit.length).map((result) => result.rows as unknown[]);
    } catch (error) {
      for (const pending of [...sent, commit]) pending.catch(() => undefined);
      this.aborted = true;
      this.finished = false;
      throw error instanceof TransactionAbortedError ? error : classifyDatabaseError(error);
    }
  }

  /**
   * Ends the transaction and gives the connection back: ROLLBACK unless it committed. A connection
   * that failed without an answer from the server (lost, or a statement pg gave up on) is closed,
   * never reused: pg keeps a timed-out statement pending, and reused, the connection's next
   * transaction could commit the abandoned one's writes. Closing it makes the server abort them.
   */
  async end(): Promise<void> {
    if (this.connection.lost) return this.connection.release(this.connection.lost);
    if (this.finished && !this.aborted) return this.connection.release();
    this.finished = true;
    try {
      await this.connection.send(ROLLBACK);
      this.connection.release();
    } catch (error) {
      this.connection.release(error);
    }
  }

  /**
   * What a statement of a transaction whose opening failed throws: the database's unavailability as
   * it is (a 503 like any other), or else OpeningFailedError (the opening was refused).
   */
  private failedOpening(): Error {
    return this.openingFailure instanceof DatabaseUnavailableError ? this.openingFailure : new OpeningFailedError(this.openingFailure);
  }
}

/**
 * pg's client, keeping the socket it connects through: the socket is made here and handed to pg by
 * its public `stream` option, so that Connection can cork it (Writable's public cork/uncork).
 */
class SocketKeepingClient extends pg.Client {
  readonly socket: Socket;

  constructor(config?: string | pg.ClientConfig) {
    const socket = new Socket();
    super({ ...(typeof config === 'string' ? { connectionString: config } : config), stream: () => socket });
    this.socket = socket;
  }
}

/** A pooled client, sending statements in pipeline mode and counting round trips. */
class Connection {
  /**
   * Set when a statement failed without an answer from the server, or on a server that can no
   * longer write (25006, a demoted primary): the connection is closed (lostConnection).
   */
  lost: unknown;
  private answeredSinceLastSend = true;
  private released = false;
  private coalescing = false;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly options: Pick<SqlOptions, 'namedStatements' | 'answerTimeoutMs'>,
    private readonly traffic: SqlTraffic,
    private readonly watchers: Set<StatementWatcher>,
  ) {}

  send(statement: Statement): Promise<pg.QueryResult> {
    this.coalesceWrites();
    for (const watcher of this.watchers) watcher(statement);
    if (this.answeredSinceLastSend) this.traffic.roundTrips++;
    this.answeredSinceLastSend = false;
    this.traffic.statements++;
    const config = this.options.namedStatements ? { name: statement.name, text: statement.text } : { text: statement.text };
    const waitMs = statement.timeoutMs ?? this.options.answerTimeoutMs;
    // pg's callback form, and one promise of ours: the statement's answer, or NoAnswerError once
    // waitMs have passed without it (see afterPendingIo), whichever comes first.
    return new Promise<pg.QueryResult>((resolve, reject) => {
      let settled = false;
      const settle = (error: Error | undefined, result?: pg.QueryResult) => {
        if (settled) return;
        settled = true;
        cancelBound();
        this.answeredSinceLastSend = true;
        if (error === undefined) return resolve(result!);
        if (lostConnection(error)) this.lost ??= error;
        reject(error);
      };
      const cancelBound = afterPendingIo(waitMs, () => settle(new NoAnswerError(waitMs)));
      this.client.query({ ...config, values: statement.values ?? [] }, (error: Error | null, result: pg.QueryResult) =>
        settle(error ?? undefined, result),
      );
    });
  }

  /**
   * Statements sent in the same tick leave in one write. In pipeline mode pg writes each statement
   * on its own, and on loopback every write also does the receiving side's TCP work: a profile of
   * replays from the database had a third of the service's busy time in `writev`. So the socket is
   * corked at the first statement of a tick and uncorked when the tick ends, before anything waits.
   */
  private coalesceWrites(): void {
    const socket = this.client instanceof SocketKeepingClient ? this.client.socket : undefined;
    if (this.coalescing || !socket) return;
    this.coalescing = true;
    socket.cork();
    process.nextTick(() => {
      this.coalescing = false;
      socket.uncork();
    });
  }

  /** Back to the pool; with an error, pg-pool closes the connection instead. */
  release(error?: unknown): void {
    if (this.released) return;
    this.released = true;
    const broken =
      error !== undefined && lostConnection(error) ? (error instanceof Error ? error : new Error('connection lost')) : undefined;
    this.client.release(broken ?? (this.lost ? new Error('connection lost') : undefined));
  }
}

/**
 * No answer to a statement came within its bound (answerTimeoutMs, or the statement's timeoutMs):
 * the server may still run it, so its connection is closed. The service's own bound, not pg's
 * query_timeout, which gave up on waking from a pause with the answer unread (afterPendingIo).
 */
export class NoAnswerError extends Error {
  constructor(readonly waitedMs: number) {
    super(`The database sent no answer within ${waitedMs} ms.`);
    this.name = 'NoAnswerError';
  }
}
