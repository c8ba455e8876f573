import { QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
// Errors that mean "the database could not do it right now": nothing was committed (or, for a
// connection lost during COMMIT, the outcome is unknown), so the client must retry with the same
// Idempotency-Key. The filter answers them with 503 unavailable and Retry-After.

const RETRYABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '57014', // query_canceled (statement_timeout)
  '55P03', // lock_not_available (lock_timeout)
  '53300', // too_many_connections
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '25P03', // idle_in_transaction_session_timeout
]);

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

const CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'terminating connection',
  'Query read timeout',
  'Connection is not established',
  // TypeORM releases a transaction's connection when it errors (the server went away); the COMMIT
  // that follows then fails with this. The transaction died with its connection: nothing committed.
  'Query runner already released',
];

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  driverError?: unknown;
  cause?: unknown;
}

/** The SQLSTATE of a pg error, also when TypeORM wrapped it in a QueryFailedError. */
export function sqlState(error: unknown): string | undefined {
  const candidate = error as ErrorLike | undefined;
  const code = (candidate?.driverError as ErrorLike | undefined)?.code ?? candidate?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The constraint a pg error names (23505, 23514, ...), also through a QueryFailedError. */
export function violatedConstraint(error: unknown): string | undefined {
  const candidate = error as { constraint?: unknown; driverError?: { constraint?: unknown } } | undefined;
  const name = candidate?.driverError?.constraint ?? candidate?.constraint;
  return typeof name === 'string' ? name : undefined;
}

export function isDatabaseUnavailable(error: unknown): boolean {
  // TypeORM releases a transaction's connection when the server drops it; every later statement
  // (or the COMMIT) of that transaction then fails with one of these. Nothing was committed.
  if (error instanceof QueryRunnerAlreadyReleasedError || error instanceof QueryRunnerProviderAlreadyReleasedError) return true;
  for (let current: unknown = error, depth = 0; current && depth < 4; depth++) {
    const candidate = current as ErrorLike;
    const state = sqlState(candidate);
    if (state && (RETRYABLE_SQLSTATES.has(state) || state.startsWith('08'))) return true;
    if (typeof candidate.code === 'string' && NETWORK_CODES.has(candidate.code)) return true;
    if (typeof candidate.message === 'string' && CONNECTION_MESSAGES.some((m) => (candidate.message as string).includes(m))) {
      return true;
    }
    current = candidate.driverError ?? candidate.cause;
  }
  return false;
}
