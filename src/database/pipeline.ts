import { createRequire } from 'node:module';
import type { PoolClient, QueryResult } from 'pg';
import { inDatabaseSpan } from '../telemetry/spans.js';

/** One statement of a pipeline: SQL with $n parameters; `name` makes it a prepared statement. */
export interface PipelinedStatement {
  name?: string;
  text: string;
  values?: unknown[];
}

/** A pipeline's failure: the server's error, and which statement caused it (the rest were skipped). */
export interface PipelineFailure {
  statementIndex: number;
}

// pg's own row parser (with the client's type parsers) and value serialiser, so that a pipelined
// statement's rows and parameters are exactly what client.query would give and send.
const require = createRequire(import.meta.url);
const Result = require('pg/lib/result.js') as new (rowMode: undefined, types: unknown) => PgResult;
const { prepareValue } = require('pg/lib/utils.js') as { prepareValue: (value: unknown) => unknown };

interface PgResult extends QueryResult {
  addFields(fields: unknown[]): void;
  parseRow(fields: unknown[]): Record<string, unknown>;
  addRow(row: Record<string, unknown>): void;
  addCommandComplete(message: { text?: string; command?: string }): void;
}

/** What pg's Connection offers a query object (the extended protocol's messages). */
interface Connection {
  stream: { cork?(): void; uncork?(): void };
  parsedStatements: Record<string, string>;
  parse(query: { text: string; name?: string }): void;
  bind(config: { statement?: string; values?: unknown[]; valueMapper(value: unknown): unknown }): void;
  describe(config: { type: 'P' }): void;
  execute(config: { rows: 0 }): void;
  sync(): void;
  on(event: 'parseComplete', listener: () => void): void;
  off(event: 'parseComplete', listener: () => void): void;
}

/**
 * Sends `statements` in one write with one Sync at the end and returns each one's result: a
 * single round trip, however many statements. The server runs them in order; the first that fails
 * makes it skip the rest up to the Sync, so inside a transaction a failed statement keeps every
 * later one from taking effect (a COMMIT among them included). The error then carries
 * `statementIndex`.
 *
 * Why not pg's `pipeline: true`: it ends every statement with its own Sync, so a statement after a
 * failed one still runs (in an aborted transaction it fails too, but a COMMIT there answers
 * ROLLBACK rather than an error), and the server flushes after each one. One Sync is one answer.
 *
 * `named` statements are prepared once per connection, like pg's: a name is parsed only on a
 * connection that has not parsed it, and recorded as parsed when the server confirms it.
 */
export function runPipeline(client: PoolClient, statements: PipelinedStatement[]): Promise<QueryResult[]> {
  return inDatabaseSpan(
    () => statements.map((statement) => statement.text),
    () =>
      new Promise((resolve, reject) => {
        const query = new PipelinedQuery(statements, (client as unknown as { _types: unknown })._types, (error, results) =>
          error ? reject(error) : resolve(results!),
        );
        void client.query(query as never);
      }),
  );
}

/**
 * A pg "submittable" (as pg-cursor is): pg hands it the connection to write to and the server's
 * answers to read, in order, until ReadyForQuery or an error.
 */
class PipelinedQuery {
  private readonly results: PgResult[] = [];
  private current: PgResult;
  private finished = false;
  /** Statements whose Parse the server confirmed, counted in order. */
  private parsed = 0;
  private readonly parsing: { name: string; text: string }[] = [];
  private connection: Connection | undefined;
  private readonly onParseComplete = () => {
    const statement = this.parsing[this.parsed++];
    if (statement?.name && this.connection) this.connection.parsedStatements[statement.name] = statement.text;
  };

  constructor(
    /** Public for whoever watches a connection's queries (a test that checks every statement). */
    readonly statements: PipelinedStatement[],
    private readonly types: unknown,
    /** pg wraps this (its query_timeout), so it is a property, called once. */
    public callback: (error: Error | undefined, results?: QueryResult[]) => void,
  ) {
    this.current = new Result(undefined, types);
  }

  submit(connection: Connection): Error | null {
    this.connection = connection;
    connection.on('parseComplete', this.onParseComplete);
    connection.stream.cork?.();
    try {
      for (const statement of this.statements) {
        const name = statement.name;
        // An unnamed statement is parsed every time; a named one once per connection.
        if (!name || connection.parsedStatements[name] === undefined) {
          connection.parse({ text: statement.text, name });
          // Every Parse is answered by a ParseComplete, in order; only named ones are remembered.
          this.parsing.push({ name: name ?? '', text: statement.text });
        }
        connection.bind({ statement: name, values: statement.values ?? [], valueMapper: prepareValue });
        connection.describe({ type: 'P' });
        connection.execute({ rows: 0 });
      }
      connection.sync();
    } catch (error) {
      // A value pg cannot serialise: nothing was sent yet (the stream is corked), so say so.
      connection.off('parseComplete', this.onParseComplete);
      return error as Error;
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(message: { fields: unknown[] }): void {
    this.current.addFields(message.fields);
  }

  handleDataRow(message: { fields: unknown[] }): void {
    this.current.addRow(this.current.parseRow(message.fields));
  }

  handleCommandComplete(message: { text?: string; command?: string }): void {
    this.current.addCommandComplete(message);
    this.results.push(this.current);
    this.current = new Result(undefined, this.types);
  }

  handleEmptyQuery(): void {
    this.results.push(this.current);
    this.current = new Result(undefined, this.types);
  }

  handlePortalSuspended(): void {
    // Execute asks for every row (rows: 0): the server never suspends a portal here.
  }

  handleReadyForQuery(): void {
    this.finish(undefined, this.results);
  }

  handleError(error: Error): void {
    // The statement that failed is the first without a result; pg calls this for a server error,
    // a lost connection and its own query_timeout alike.
    Object.assign(error, { statementIndex: this.results.length } satisfies PipelineFailure);
    this.finish(error);
  }

  private finish(error: Error | undefined, results?: QueryResult[]): void {
    if (this.finished) return;
    this.finished = true;
    this.connection?.off('parseComplete', this.onParseComplete);
    this.callback(error, results);
  }
}

/** The index of the statement a pipeline failed on, when `error` is a pipeline's failure. */
export function failedStatementIndex(error: unknown): number | undefined {
  const index = (error as Partial<PipelineFailure> | undefined)?.statementIndex;
  return typeof index === 'number' ? index : undefined;
}
