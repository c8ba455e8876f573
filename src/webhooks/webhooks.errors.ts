import { DomainError, ValidationFailedError } from '../common/domain-error.js';
import type { WebhookUrlProblem } from './webhook-url.js';

export class WebhookUrlNotAllowedError extends DomainError {
  constructor(detail: string) {
    super({
      status: 422,
      code: 'webhook_url_not_allowed',
      title: 'Webhook URL not allowed',
      detail,
      errors: [{ field: 'url', message: detail }],
    });
  }
}

export function webhookUrlError(problem: WebhookUrlProblem): DomainError {
  return problem.kind === 'malformed'
    ? new ValidationFailedError([{ field: 'url', message: problem.message }])
    : new WebhookUrlNotAllowedError(problem.message);
}
