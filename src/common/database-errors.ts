import { QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';

// What a failed database call means, decided by the error's class and SQLSTATE, never its text.
//
// "Unavailable" means the database could not do it right now: nothing was committed (or, for a
// connection lost during COMMIT, the outcome is unknown), so the client must retry with the same
// Idempotency-Key. The problem filter answers it with 503 unavailable and Retry-After.

const RETRYABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown (pg_terminate_backend, a fast shutdown, a pooler restart)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '57P05', // idle_session_timeout
  '57014', // query_canceled (statement_timeout)
  '55P03', // lock_not_available (lock_timeout)
  '53300', // too_many_connections
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '25P03', // idle_in_transaction_session_timeout
  '25006', // read_only_sql_transaction: a write reached a node that is (now) a standby, after a failover
]);

/** The server this connection reached cannot write any more (it was demoted): reconnect elsewhere. */
const DEMOTED_SERVER_SQLSTATES = new Set(['25006']);

/** A database call failed for a reason that a retry may not meet: see the comment above. */
export class DatabaseUnavailableError extends Error {
  constructor(cause: unknown) {
    super('The database cannot be reached right now.', { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

interface ErrorLike {
  code?: unknown;
  driverError?: unknown;
}

/** The SQLSTATE of an error the server reported, also when TypeORM wrapped it in a QueryFailedError. */
export function sqlState(error: unknown): string | undefined {
  const candidate = error as ErrorLike | undefined;
  const reported = (candidate?.driverError as ErrorLike | undefined) ?? candidate;
  // A system error of the socket (EPIPE, ECONNRESET) has a code too, and 'EPIPE' has five letters:
  // it carries the syscall that failed, which an error the server reported never does.
  if (typeof (reported as { syscall?: unknown } | undefined)?.syscall === 'string') return undefined;
  const code = reported?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The constraint a pg error names (23505, 23514, ...), also through a QueryFailedError. */
export function violatedConstraint(error: unknown): string | undefined {
  const candidate = error as { constraint?: unknown; driverError?: { constraint?: unknown } } | undefined;
  const name = candidate?.driverError?.constraint ?? candidate?.constraint;
  return typeof name === 'string' ? name : undefined;
}

/**
 * Whether an error thrown by a database call (a statement, BEGIN, COMMIT, taking a pooled
 * connection) means "unavailable". An error the server reported carries a SQLSTATE, which decides.
 * One without a SQLSTATE never got an answer from the server: the connection was lost or refused,
 * the pool or the client timed out, or TypeORM had already released the connection after such a
 * loss. Only call it for errors of database calls: other code's errors have no SQLSTATE either.
 */
export function meansUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (error instanceof QueryRunnerAlreadyReleasedError || error instanceof QueryRunnerProviderAlreadyReleasedError) return true;
  const state = sqlState(error);
  if (state === undefined) return true;
  return RETRYABLE_SQLSTATES.has(state) || state.startsWith('08');
}

/** A failed database call's error as the rest of the service should see it. */
export function classifyDatabaseError(error: unknown): unknown {
  return meansUnavailable(error) && !(error instanceof DatabaseUnavailableError) ? new DatabaseUnavailableError(error) : error;
}

/**
 * Whether the connection must not be reused: it failed (no answer from the server), or the server
 * it reached refuses writes because it is a standby now (25006 after a failover). Closed, the
 * connection is opened again through the load balancer, which sends it to the new primary.
 */
export function lostConnection(error: unknown): boolean {
  const cause = error instanceof DatabaseUnavailableError ? error.cause : error;
  const state = sqlState(cause);
  return state === undefined || DEMOTED_SERVER_SQLSTATES.has(state);
}
