import { DomainError } from '../common/domain-error.js';

export class InsufficientScopeError extends DomainError {
  constructor(scope: string | undefined) {
    super({
      status: 403,
      code: 'insufficient_scope',
      title: 'Insufficient scope',
      detail: scope
        ? `This API key does not have the scope '${scope}' that this operation needs.`
        : 'This operation needs an unrestricted API key.',
    });
  }
}

export class LastManagingKeyError extends DomainError {
  constructor(id: string) {
    super({
      status: 422,
      code: 'last_managing_key',
      title: 'Last key that can manage keys',
      detail: `Key '${id}' is the merchant's last key that can manage keys and does not expire; create another one first.`,
    });
  }
}
