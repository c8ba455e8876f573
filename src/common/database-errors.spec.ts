import { QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { isDatabaseUnavailable, sqlState, violatedConstraint } from './database-errors.js';

describe('database error translation', () => {
  it('treats connection loss, shutdown and timeouts as unavailable', () => {
    expect(isDatabaseUnavailable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable({ message: 'wrapped', driverError: { code: '57P01' } })).toBe(true);
    expect(isDatabaseUnavailable({ code: '08006' })).toBe(true);
    expect(isDatabaseUnavailable({ code: '57014' })).toBe(true);
    expect(isDatabaseUnavailable(new Error('Query runner already released. Cannot run queries anymore.'))).toBe(true);
    expect(isDatabaseUnavailable(new QueryRunnerAlreadyReleasedError())).toBe(true);
    expect(isDatabaseUnavailable(new QueryRunnerProviderAlreadyReleasedError())).toBe(true);
  });

  it('leaves other errors alone', () => {
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
    expect(isDatabaseUnavailable({ code: '23505' })).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });

  it('reads SQLSTATE and constraint through a TypeORM wrapper', () => {
    const wrapped = { driverError: { code: '23514', constraint: 'accounts_available_not_negative' } };
    expect(sqlState(wrapped)).toBe('23514');
    expect(violatedConstraint(wrapped)).toBe('accounts_available_not_negative');
  });
});
