export { PaymentsAdminClient, PaymentsClient } from './client.js';
export type { ListChargesOptions, ListOptions, PaymentsAdminClientOptions, PaymentsClientOptions } from './client.js';
export {
  IdempotencyKeyReusedError,
  NetworkError,
  PaymentsError,
  ProblemError,
  RequestAbortedError,
  RetriesExhaustedError,
  TimeoutError,
} from './errors.js';
export type { UndecidedError } from './errors.js';
export type * from './models.js';
export { Paginated } from './pagination.js';
export { DEFAULT_RETRY_POLICY, backoffDelayMs, isUndecided, parseRetryAfter, retryDelayMs, seededRandom } from './retry.js';
export type { RandomSource, RetryPolicy } from './retry.js';
export type { components, operations, paths } from './schema.js';
export { DEFAULT_TIMEOUT_MS, newIdempotencyKey, systemClock } from './transport.js';
export type { AttemptInit, CallOptions, Clock, RecordedResult, Result, RetryEvent, TransportOptions, WriteOptions } from './transport.js';
export {
  DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
  WebhookVerificationError,
  verifyWebhook,
  type VerifyWebhookOptions,
  type WebhookHeaders,
  type WebhookVerificationFailure,
} from './webhooks.js';
