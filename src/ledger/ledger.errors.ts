import { violatedConstraint } from '../common/database-errors.js';
import { DomainError } from '../common/domain-error.js';

/** The largest balance an account may hold: 2^53 - 1, the largest integer exact in a JSON number. */
export const MAX_BALANCE = Number.MAX_SAFE_INTEGER;

/**
 * A movement (a deposit, a refund) would take a customer balance past MAX_BALANCE. Not recorded:
 * like a validation error, nothing happened, and whether it can happen depends on the balance.
 */
export class BalanceLimitExceededError extends DomainError {
  constructor() {
    super({
      status: 422,
      code: 'balance_limit_exceeded',
      title: 'Balance limit exceeded',
      detail: `This would take the account's balance past the largest amount the API can represent (${MAX_BALANCE}).`,
    });
  }
}

/**
 * The database refuses a balance past MAX_BALANCE (accounts_balance_safe_range); every movement
 * that credits a customer account passes its error through here.
 */
export function translateBalanceLimit(error: unknown): unknown {
  return violatedConstraint(error) === 'accounts_balance_safe_range' ? new BalanceLimitExceededError() : error;
}
