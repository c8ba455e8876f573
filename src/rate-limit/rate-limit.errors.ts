import { DomainError } from '../common/domain-error.js';

export class RateLimitedError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super({
      status: 429,
      code: 'rate_limited',
      title: 'Too many requests',
      detail: `This API key sent more than its requests per second. Retry after ${retryAfterSeconds} s with the same Idempotency-Key.`,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}
