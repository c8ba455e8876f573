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

export class CurrencyImmutableError extends DomainError {
  constructor(currency: string) {
    super({
      status: 422,
      code: 'validation_failed',
      title: 'Validation failed',
      detail: `The currency of an account cannot change (it is '${currency}').`,
      errors: [{ field: 'currency', message: `cannot change from '${currency}'` }],
    });
  }
}
