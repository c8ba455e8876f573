import { DomainError } from '../common/domain-error.js';

export class InsufficientFundsError extends DomainError {
  constructor(amount: number, currency: string) {
    super({
      status: 402,
      code: 'insufficient_funds',
      title: 'Insufficient funds',
      detail: `The source account does not have ${amount} ${currency} available.`,
      recorded: true,
    });
  }
}

export class CurrencyMismatchError extends DomainError {
  constructor(chargeCurrency: string, sourceCurrency: string) {
    super({
      status: 422,
      code: 'currency_mismatch',
      title: 'Currency mismatch',
      detail: `The charge is in '${chargeCurrency}' but the source account holds '${sourceCurrency}'.`,
      recorded: true,
    });
  }
}

export class InvalidStateError extends DomainError {
  constructor(detail: string) {
    super({ status: 409, code: 'invalid_state', title: 'Invalid state', detail, recorded: true });
  }
}
