import type { components } from './schema.js';

// Names for the generated schemas (src/schema.ts, from the repository's openapi.json).
type Schemas = components['schemas'];

export type Problem = Schemas['ProblemDetailsDto'];
export type ProblemCode = Problem['code'];
export type FieldError = Schemas['FieldErrorDto'];

export type Merchant = Schemas['MerchantDto'];
export type CreateMerchant = Schemas['CreateMerchantDto'];

export type Account = Schemas['AccountDto'];
export type CreateAccount = Schemas['AccountFieldsDto'];
export type Deposit = Schemas['DepositDto'];
export type CreateDeposit = Schemas['CreateDepositDto'];

export type Charge = Schemas['ChargeDto'];
export type ChargeStatus = Charge['status'];
export type CreateCharge = Schemas['CreateChargeDto'];
export type CaptureCharge = Schemas['CaptureChargeDto'];
export type Refund = Schemas['RefundDto'];
export type CreateRefund = Schemas['CreateRefundDto'];
export type BatchResult = Schemas['BatchResultDto'];
export type BatchItemResult = Schemas['BatchItemResultDto'];

export type Balance = Schemas['BalanceDto'];

export type ApiKey = Schemas['ApiKeyDto'];
export type ApiKeyWithHistory = Schemas['ApiKeyWithHistoryDto'];
export type AuditEvent = Schemas['AuditEventDto'];
export type ApiKeyScope = NonNullable<Schemas['CreateApiKeyDto']['scopes']>[number];
export type CreateApiKey = Schemas['CreateApiKeyDto'];
export type RollApiKey = Schemas['RollApiKeyDto'];

export type Event = Schemas['EventDto'];
export type EventType = Event['type'];
export type RedeliverEvent = Schemas['RedeliverEventDto'];
export type Redelivery = Schemas['RedeliveryDto'];

export type WebhookEndpoint = Schemas['WebhookEndpointDto'];
export type CreateWebhookEndpoint = Schemas['CreateWebhookEndpointDto'];
export type UpdateWebhookEndpoint = Schemas['UpdateWebhookEndpointDto'];
export type RollWebhookSecret = Schemas['RollWebhookSecretDto'];
export type DeletedWebhookEndpoint = Schemas['DeletedWebhookEndpointDto'];

/** One page of a list: newest first; `has_more` says whether a page follows. */
export interface Page<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
}

export type Entry = Schemas['EntryDto'];
export type Health = Schemas['HealthDto'];
