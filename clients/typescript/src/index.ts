export { PaymentsAdminClient, PaymentsClient } from './client.js';
export type {
  BrowserOptions,
  CreateChargeOptions,
  ListChargesOptions,
  ListEventsOptions,
  ListOptions,
  PaymentsAdminClientOptions,
  PaymentsClientOptions,
  UpdateWebhookEndpointOptions,
  UpsertAccountOptions,
} from './client.js';
export {
  ChargePendingError,
  CircuitOpenError,
  IdempotencyKeyReusedError,
  NetworkError,
  OutcomeUnknownError,
  PaymentsError,
  ProblemError,
  RequestAbortedError,
  RetriesExhaustedError,
  RetryBudgetExhaustedError,
  TimeoutError,
  UnexpectedAnswerError,
} from './errors.js';
export type { UndecidedError } from './errors.js';
export type * from './models.js';
export { Paginated } from './pagination.js';
export {
  DECIDED_PROBLEMS,
  UNDECIDED_PROBLEMS,
  DEFAULT_CIRCUIT_BREAKER,
  DEFAULT_RETRY_BUDGET,
  DEFAULT_RETRY_POLICY,
  backoffDelayMs,
  isDecidedProblem,
  isPendingAnswer,
  isUndecided,
  parseRetryAfter,
  retryDelayMs,
  seededRandom,
} from './retry.js';
export type { CircuitBreakerPolicy, RandomSource, RetryBudgetPolicy, RetryPolicy } from './retry.js';
export type { components, operations, paths } from './schema.js';
export { DEFAULT_TIMEOUT_MS, newIdempotencyKey, systemClock } from './transport.js';
export type {
  AttemptInit,
  CallOptions,
  Clock,
  RecordedResult,
  Result,
  RetryEvent,
  TransportOptions,
  UntilDecidedOptions,
  WriteOptions,
} from './transport.js';
export {
  DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
  WebhookVerificationError,
  verifyWebhook,
  type VerifyWebhookOptions,
  type WebhookHeaders,
  type WebhookVerificationFailure,
} from './webhooks.js';
