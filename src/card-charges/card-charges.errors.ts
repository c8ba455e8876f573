import { DomainError } from '../common/domain-error.js';

export class CardDeclinedError extends DomainError {
  constructor(declineCode: string) {
    super({
      status: 402,
      code: 'card_declined',
      title: 'Card declined',
      detail: `The card was declined (${declineCode}).`,
      recorded: true,
      declineCode,
    });
  }
}

export class AcquirerUnavailableError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super({
      status: 503,
      code: 'acquirer_unavailable',
      title: 'Acquirer unavailable',
      detail: 'The card acquirer cannot be reached right now. Nothing was sent to it; retry with the same Idempotency-Key.',
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}
