import { DomainError } from '../common/domain-error.js';
import { etagOf } from './etag.js';

export class PreconditionFailedError extends DomainError {
  constructor(currentVersion: number, detail = 'If-Match does not match the current version of the account.') {
    super({ status: 412, code: 'precondition_failed', title: 'Precondition failed', detail, headers: { ETag: etagOf(currentVersion) } });
  }
}

export class PreconditionRequiredError extends DomainError {
  constructor(currentVersion: number) {
    super({
      status: 428,
      code: 'precondition_required',
      title: 'Precondition required',
      detail: 'Changing an existing account needs If-Match with its current ETag.',
      headers: { ETag: etagOf(currentVersion) },
    });
  }
}

/**
 * A PUT naming another currency than the existing account's: the same meaning as a charge's
 * currency_mismatch (a currency that differs from the account's), so the same code.
 */
export class CurrencyImmutableError extends DomainError {
  constructor(currency: string) {
    super({
      status: 422,
      code: 'currency_mismatch',
      title: 'Currency mismatch',
      recorded: true,
      detail: `The currency of an account cannot change (it is '${currency}').`,
      errors: [{ field: 'currency', message: `cannot change from '${currency}'` }],
    });
  }
}
