import { QueryFailedError, QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import {
  classifyDatabaseError,
  DatabaseUnavailableError,
  lostConnection,
  meansUnavailable,
  sqlState,
  violatedConstraint,
} from './database-errors.js';

const serverError = (code: string) => new QueryFailedError('SELECT 1', [], Object.assign(new Error('server said no'), { code }));

describe('database error classification', () => {
  it('treats shutdown, timeouts, lock waits and connection classes as unavailable', () => {
    for (const code of ['57P01', '57P02', '57P03', '57014', '55P03', '40001', '40P01', '08006', '08003']) {
      expect(meansUnavailable(serverError(code))).toBe(true);
    }
  });

  it('treats a call the server never answered as unavailable, whatever its message says', () => {
    expect(meansUnavailable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    // A write to a socket the server closed: five capital letters, yet no SQLSTATE.
    expect(meansUnavailable(Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' }))).toBe(true);
    expect(meansUnavailable(new Error('anything at all'))).toBe(true);
    expect(meansUnavailable(new QueryRunnerAlreadyReleasedError())).toBe(true);
    expect(meansUnavailable(new QueryRunnerProviderAlreadyReleasedError())).toBe(true);
  });

  it('leaves errors the server reported with another SQLSTATE alone', () => {
    const constraint = serverError('23514');
    expect(meansUnavailable(constraint)).toBe(false);
    expect(classifyDatabaseError(constraint)).toBe(constraint);
    expect(meansUnavailable(serverError('22P02'))).toBe(false);
  });

  it('wraps an unavailable error once, keeping the cause', () => {
    const lost = new Error('lost');
    const wrapped = classifyDatabaseError(lost);
    expect(wrapped).toBeInstanceOf(DatabaseUnavailableError);
    expect((wrapped as Error).cause).toBe(lost);
    expect(classifyDatabaseError(wrapped)).toBe(wrapped);
  });

  it('reads SQLSTATE and constraint through a TypeORM wrapper', () => {
    const wrapped = { driverError: { code: '23514', constraint: 'accounts_available_not_negative' } };
    expect(sqlState(wrapped)).toBe('23514');
    expect(violatedConstraint(wrapped)).toBe('accounts_available_not_negative');
  });

  it('treats a write refused by a demoted node (25006) as unavailable, and its connection as one to close', () => {
    const readOnly = serverError('25006');
    expect(meansUnavailable(readOnly)).toBe(true);
    expect(lostConnection(readOnly)).toBe(true);
    expect(lostConnection(classifyDatabaseError(readOnly))).toBe(true);
    // Any other answer of the server leaves the connection usable.
    expect(lostConnection(serverError('23514'))).toBe(false);
    expect(lostConnection(classifyDatabaseError(serverError('57014')))).toBe(false);
  });
});
