import { DomainError } from '../common/domain-error.js';

/** The deposit would take the balance past 2^53 - 1, the largest amount exact in JSON. */
export class BalanceOverflowError extends DomainError {
  constructor() {
    super({
      status: 422,
      code: 'validation_failed',
      title: 'Validation failed',
      detail: 'This deposit would take the balance past the largest amount the API can represent (9007199254740991).',
      errors: [{ field: 'amount', message: 'would take the balance past 9007199254740991' }],
    });
  }
}
