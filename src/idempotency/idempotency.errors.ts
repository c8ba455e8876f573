import { DomainError } from '../common/domain-error.js';

export class IdempotencyKeyMissingError extends DomainError {
  constructor() {
    super({
      status: 400,
      code: 'idempotency_key_missing',
      title: 'Idempotency-Key missing',
      detail: 'Every POST needs an Idempotency-Key header (1-255 visible ASCII characters, e.g. a UUID).',
    });
  }
}

export class IdempotencyKeyInvalidError extends DomainError {
  constructor() {
    super({
      status: 400,
      code: 'idempotency_key_invalid',
      title: 'Idempotency-Key invalid',
      detail: 'The Idempotency-Key must be 1-255 visible ASCII characters (0x21-0x7E), sent once.',
    });
  }
}

export class IdempotencyKeyReusedError extends DomainError {
  constructor() {
    super({
      status: 422,
      code: 'idempotency_key_reused',
      title: 'Idempotency-Key reused',
      detail: 'This Idempotency-Key was used for a different request (method, path or body). Use a new key for a new request.',
    });
  }
}

export class IdempotencyRequestInProgressError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super({
      status: 409,
      code: 'idempotency_request_in_progress',
      title: 'Request in progress',
      detail: 'A request with this Idempotency-Key is still being processed. Retry with the same key after Retry-After.',
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}
