import type {
  Account,
  ApiKey,
  ApiKeyWithHistory,
  CreateApiKey,
  RollApiKey,
  Balance,
  BatchResult,
  CaptureCharge,
  Charge,
  CreateAccount,
  CreateCharge,
  CreateDeposit,
  CreateMerchant,
  CreateRefund,
  CreateWebhookEndpoint,
  DeletedWebhookEndpoint,
  Deposit,
  Entry,
  Event,
  EventType,
  Health,
  Merchant,
  RedeliverEvent,
  Redelivery,
  Refund,
  RollWebhookSecret,
  UpdateWebhookEndpoint,
  WebhookEndpoint,
} from './models.js';
import { ChargePendingError } from './errors.js';
import { Paginated } from './pagination.js';
import { isPendingAnswer } from './retry.js';
import {
  Transport,
  type CallOptions,
  type RecordedResult,
  type Result,
  type TransportOptions,
  type UntilDecidedOptions,
  type WriteOptions,
} from './transport.js';

export interface BrowserOptions {
  /**
   * A secret key (the merchant's API key, the admin token) in a browser is readable by anyone who
   * opens the page, so the clients refuse to start in one. Set this only where the page is not
   * public (a test page on loopback, an internal tool whose users may hold the key).
   */
  dangerouslyAllowBrowser?: boolean;
}

export interface PaymentsClientOptions extends TransportOptions, BrowserOptions {
  /** The merchant's API key (sk_...). */
  apiKey: string;
}

export interface ListOptions extends CallOptions {
  /** Objects per page, 1-100 (the service's default: 10). */
  limit?: number;
  /** Start after this object (a cursor from an earlier page). */
  startingAfter?: string;
}

export interface ListChargesOptions extends ListOptions {
  /** Only the charges of this source account. */
  source?: string;
}

/** `pendingWaitMs`: how long to keep repeating a card charge the acquirer has not decided (default: the retry policy's `totalTimeoutMs`; 0: not at all). */
export type CreateChargeOptions = UntilDecidedOptions;

export interface ListEventsOptions extends ListOptions {
  /** Only events of this type. */
  type?: EventType;
  /** Only events created at or after this time (ISO 8601). */
  createdGte?: string;
  /** Only events created before this time (ISO 8601). */
  createdLt?: string;
}

export interface UpdateWebhookEndpointOptions extends WriteOptions {
  /** The `etag` of the result that read the endpoint (`"3"`): required to change it (428 without, 412 stale). */
  ifMatch?: string;
}

export interface UpsertAccountOptions extends WriteOptions {
  /** Change the account only if it is still at this version: the `etag` of the result that read it (`"3"`). */
  ifMatch?: string;
  /** `*`: create the account only; an existing one answers 412 precondition_failed. */
  ifNoneMatch?: '*';
}

/** Whether this code runs in a web page or a worker, where any secret it holds is the visitor's to read. */
function inBrowser(): boolean {
  const scope = globalThis as { window?: unknown; document?: unknown; WorkerGlobalScope?: unknown };
  return (scope.window !== undefined && scope.document !== undefined) || scope.WorkerGlobalScope !== undefined;
}

function refuseSecretInBrowser(options: BrowserOptions, what: string): void {
  if (inBrowser() && options.dangerouslyAllowBrowser !== true) {
    throw new Error(
      `${what} is a secret, and this looks like a browser: anyone who opens the page could read it and move money. ` +
        'Keep the key on your server and let the page talk to it (see examples/checkout). ' +
        'To run here anyway (a private tool, a test page), pass dangerouslyAllowBrowser: true.',
    );
  }
}

/**
 * A merchant's client. Every write is one intended operation with one Idempotency-Key, kept across
 * its retries (see WriteOptions); every call retries only answers that do not decide it.
 */
export class PaymentsClient {
  private readonly transport: Transport;

  constructor(options: PaymentsClientOptions) {
    refuseSecretInBrowser(options, 'The API key');
    this.transport = new Transport(options, options.apiKey);
  }

  /** Tokens left in this client's retry budget, and the state of its circuit breaker. */
  get retryState(): { tokens: number | undefined; circuit: 'closed' | 'open' | 'half-open' | undefined } {
    return { tokens: this.transport.retryTokens, circuit: this.transport.circuitState };
  }

  createAccount(account: CreateAccount, options?: WriteOptions): Promise<RecordedResult<Account>> {
    return this.transport.write(
      account,
      (key, attempt) => this.api.POST('/v1/accounts', { params: { header: { 'Idempotency-Key': key } }, body: account, ...attempt }),
      options,
    );
  }

  /**
   * Creates the account with the id the caller chose, or changes it. Changing an existing account
   * with other content needs `ifMatch` (the `etag` of a result that read it): without it the
   * service answers 428, with a stale one 412 (a ProblemError, decided). Identical content is 200
   * with nothing changed. The call has an Idempotency-Key like every write, so a retry after a lost
   * answer gets that answer, not a 412 against its own update.
   */
  upsertAccount(id: string, account: CreateAccount, options: UpsertAccountOptions = {}): Promise<RecordedResult<Account>> {
    const { ifMatch, ifNoneMatch, ...write } = options;
    const conditions = {
      ...(ifMatch === undefined ? {} : { 'If-Match': ifMatch }),
      ...(ifNoneMatch === undefined ? {} : { 'If-None-Match': ifNoneMatch }),
    };
    return this.transport.write(
      account,
      (key, attempt) =>
        this.api.PUT('/v1/accounts/{id}', {
          params: { path: { id }, header: { 'Idempotency-Key': key, ...conditions } },
          body: account,
          ...attempt,
        }),
      write,
    );
  }

  getAccount(id: string, options?: CallOptions): Promise<Result<Account>> {
    return this.transport.read((attempt) => this.api.GET('/v1/accounts/{id}', { params: { path: { id } }, ...attempt }), options);
  }

  /** The merchant's accounts, newest first, read page by page as the iteration goes. */
  listAccounts(options: ListOptions = {}): Paginated<Account> {
    const { limit, startingAfter, ...call } = options;
    return new Paginated(async (after) => {
      const page = await this.transport.read(
        (attempt) => this.api.GET('/v1/accounts', { params: { query: { limit, starting_after: after } }, ...attempt }),
        call,
      );
      return page.data;
    }, startingAfter);
  }

  /** Money entering the system: credits the account. */
  deposit(accountId: string, deposit: CreateDeposit, options?: WriteOptions): Promise<RecordedResult<Deposit>> {
    return this.transport.write(
      deposit,
      (key, attempt) =>
        this.api.POST('/v1/accounts/{id}/deposits', {
          params: { path: { id: accountId }, header: { 'Idempotency-Key': key } },
          body: deposit,
          ...attempt,
        }),
      options,
    );
  }

  /** The account's ledger entries, newest first (amounts signed from the account's side). */
  listAccountEntries(accountId: string, options: ListOptions = {}): Paginated<Entry> {
    const { limit, startingAfter, ...call } = options;
    return new Paginated(async (after) => {
      const page = await this.transport.read(
        (attempt) =>
          this.api.GET('/v1/accounts/{id}/entries', {
            params: { path: { id: accountId }, query: { limit, starting_after: after } },
            ...attempt,
          }),
        call,
      );
      return page.data;
    }, startingAfter);
  }

  /**
   * Charges `source` (capture: false only authorises: the amount is held until captured or
   * cancelled), or the card `payment_method` through the acquirer. A card charge the acquirer has
   * not decided yet is answered 202 `pending`, which is not final: the call repeats the request with
   * the same key and body after each Retry-After, until the charge is `succeeded` (201) or declined
   * (a ProblemError `card_declined`), for up to `pendingWaitMs`; then it throws ChargePendingError,
   * with the pending charge and the key to ask again with.
   */
  createCharge(charge: CreateCharge, options: CreateChargeOptions = {}): Promise<RecordedResult<Charge>> {
    return this.transport.writeUntilDecided(
      charge,
      (key, attempt) => this.api.POST('/v1/charges', { params: { header: { 'Idempotency-Key': key } }, body: charge, ...attempt }),
      options,
      (result) => isPendingAnswer(result.status),
      (result, retryAfterMs, context) => new ChargePendingError(result.data, retryAfterMs, context),
    );
  }

  /** Captures an authorised charge: all of it, or `amount` (the rest is released). */
  captureCharge(id: string, capture: CaptureCharge = {}, options?: WriteOptions): Promise<RecordedResult<Charge>> {
    return this.transport.write(
      capture,
      (key, attempt) =>
        this.api.POST('/v1/charges/{id}/capture', {
          params: { path: { id }, header: { 'Idempotency-Key': key } },
          body: capture,
          ...attempt,
        }),
      options,
    );
  }

  /** Cancels an authorised charge, releasing the hold. */
  cancelCharge(id: string, options?: WriteOptions): Promise<RecordedResult<Charge>> {
    return this.transport.write(
      undefined,
      (key, attempt) =>
        this.api.POST('/v1/charges/{id}/cancel', { params: { path: { id }, header: { 'Idempotency-Key': key } }, ...attempt }),
      options,
    );
  }

  /** Refunds a captured charge: what is left of it, or `amount`. */
  refundCharge(id: string, refund: CreateRefund = {}, options?: WriteOptions): Promise<RecordedResult<Refund>> {
    return this.transport.write(
      refund,
      (key, attempt) =>
        this.api.POST('/v1/charges/{id}/refunds', {
          params: { path: { id }, header: { 'Idempotency-Key': key } },
          body: refund,
          ...attempt,
        }),
      options,
    );
  }

  /**
   * Up to 100 charges under one key; each item commits on its own and has its own status (201, or
   * its problem). A retry after a cut-off runs only the items that had not committed.
   */
  createChargeBatch(charges: CreateCharge[], options?: WriteOptions): Promise<RecordedResult<BatchResult>> {
    const body = { charges };
    return this.transport.write(
      body,
      (key, attempt) => this.api.POST('/v1/charges/batch', { params: { header: { 'Idempotency-Key': key } }, body, ...attempt }),
      options,
    );
  }

  getCharge(id: string, options?: CallOptions): Promise<Result<Charge>> {
    return this.transport.read((attempt) => this.api.GET('/v1/charges/{id}', { params: { path: { id } }, ...attempt }), options);
  }

  /** The merchant's charges, newest first, read page by page as the iteration goes. */
  listCharges(options: ListChargesOptions = {}): Paginated<Charge> {
    const { limit, source, startingAfter, ...call } = options;
    return new Paginated(async (after) => {
      const page = await this.transport.read(
        (attempt) => this.api.GET('/v1/charges', { params: { query: { limit, source, starting_after: after } }, ...attempt }),
        call,
      );
      return page.data;
    }, startingAfter);
  }

  /** Available (captured, net of refunds) and pending (authorised) funds per currency. */
  getBalance(options?: CallOptions): Promise<Result<Balance>> {
    return this.transport.read((attempt) => this.api.GET('/v1/balance', { ...attempt }), options);
  }

  /**
   * A new API key (scopes: a restricted key; none: every scope). Its `secret` is shown once: a
   * replayed answer has `secret: null`, since the service keeps only its hash.
   */
  createApiKey(key: CreateApiKey, options?: WriteOptions): Promise<RecordedResult<ApiKey>> {
    return this.transport.write(
      key,
      (idempotencyKey, attempt) =>
        this.api.POST('/v1/api_keys', { params: { header: { 'Idempotency-Key': idempotencyKey } }, body: key, ...attempt }),
      options,
    );
  }

  /** The merchant's API keys, newest first (never a secret). */
  listApiKeys(options: ListOptions = {}): Paginated<ApiKey> {
    const { limit, startingAfter, ...call } = options;
    return new Paginated(async (after) => {
      const page = await this.transport.read(
        (attempt) => this.api.GET('/v1/api_keys', { params: { query: { limit, starting_after: after } }, ...attempt }),
        call,
      );
      return page.data;
    }, startingAfter);
  }

  /** One key, with its history (who created, rolled and revoked it). */
  getApiKey(id: string, options?: CallOptions): Promise<Result<ApiKeyWithHistory>> {
    return this.transport.read((attempt) => this.api.GET('/v1/api_keys/{id}', { params: { path: { id } }, ...attempt }), options);
  }

  /**
   * A new secret for the key's name and scopes (shown once); the old secret keeps working for
   * `expires_in_seconds` (0: it stops now), the time to deploy the new one.
   */
  rollApiKey(id: string, roll: RollApiKey, options?: WriteOptions): Promise<RecordedResult<ApiKey>> {
    return this.transport.write(
      roll,
      (idempotencyKey, attempt) =>
        this.api.POST('/v1/api_keys/{id}/roll', {
          params: { path: { id }, header: { 'Idempotency-Key': idempotencyKey } },
          body: roll,
          ...attempt,
        }),
      options,
    );
  }

  /** Revokes a key (revoking twice is one revocation, so a retry is safe without a key). */
  revokeApiKey(id: string, options?: CallOptions): Promise<Result<ApiKey>> {
    return this.transport.read((attempt) => this.api.DELETE('/v1/api_keys/{id}', { params: { path: { id } }, ...attempt }), options);
  }

  /** One event of the last 30 days: what a webhook with this webhook-id carried. */
  getEvent(id: string, options?: CallOptions): Promise<Result<Event>> {
    return this.transport.read((attempt) => this.api.GET('/v1/events/{id}', { params: { path: { id } }, ...attempt }), options);
  }

  /** The merchant's events of the last 30 days, newest first, read page by page as the iteration goes. */
  listEvents(options: ListEventsOptions = {}): Paginated<Event> {
    const { limit, startingAfter, type, createdGte, createdLt, ...call } = options;
    return new Paginated(async (after) => {
      const page = await this.transport.read(
        (attempt) =>
          this.api.GET('/v1/events', {
            params: { query: { limit, type, created_gte: createdGte, created_lt: createdLt, starting_after: after } },
            ...attempt,
          }),
        call,
      );
      return page.data;
    }, startingAfter);
  }

  /** Sends the event again to its enabled endpoints (or to `redelivery.endpoint` only). */
  redeliverEvent(id: string, redelivery: RedeliverEvent = {}, options?: WriteOptions): Promise<RecordedResult<Redelivery>> {
    return this.transport.write(
      redelivery,
      (idempotencyKey, attempt) =>
        this.api.POST('/v1/events/{id}/redeliver', {
          params: { path: { id }, header: { 'Idempotency-Key': idempotencyKey } },
          body: redelivery,
          ...attempt,
        }),
      options,
    );
  }

  /** A webhook endpoint; its `secret` is shown once (a replayed answer has `secret: null`). */
  createWebhookEndpoint(endpoint: CreateWebhookEndpoint, options?: WriteOptions): Promise<RecordedResult<WebhookEndpoint>> {
    return this.transport.write(
      endpoint,
      (idempotencyKey, attempt) =>
        this.api.POST('/v1/webhook_endpoints', { params: { header: { 'Idempotency-Key': idempotencyKey } }, body: endpoint, ...attempt }),
      options,
    );
  }

  /** The merchant's webhook endpoints, newest first (never a secret). */
  listWebhookEndpoints(options: ListOptions = {}): Paginated<WebhookEndpoint> {
    const { limit, startingAfter, ...call } = options;
    return new Paginated(async (after) => {
      const page = await this.transport.read(
        (attempt) => this.api.GET('/v1/webhook_endpoints', { params: { query: { limit, starting_after: after } }, ...attempt }),
        call,
      );
      return page.data;
    }, startingAfter);
  }

  getWebhookEndpoint(id: string, options?: CallOptions): Promise<Result<WebhookEndpoint>> {
    return this.transport.read((attempt) => this.api.GET('/v1/webhook_endpoints/{id}', { params: { path: { id } }, ...attempt }), options);
  }

  /** Changes url, events, description or status, under `ifMatch` (the etag of a result that read it). */
  updateWebhookEndpoint(
    id: string,
    changes: UpdateWebhookEndpoint,
    options: UpdateWebhookEndpointOptions = {},
  ): Promise<RecordedResult<WebhookEndpoint>> {
    const { ifMatch, ...write } = options;
    return this.transport.write(
      changes,
      (idempotencyKey, attempt) =>
        this.api.POST('/v1/webhook_endpoints/{id}', {
          params: {
            path: { id },
            header: { 'Idempotency-Key': idempotencyKey, ...(ifMatch === undefined ? {} : { 'If-Match': ifMatch }) },
          },
          body: changes,
          ...attempt,
        }),
      write,
    );
  }

  /** Stops deliveries to the endpoint until it is enabled again. */
  disableWebhookEndpoint(id: string, options?: WriteOptions): Promise<RecordedResult<WebhookEndpoint>> {
    return this.transport.write(
      undefined,
      (idempotencyKey, attempt) =>
        this.api.POST('/v1/webhook_endpoints/{id}/disable', {
          params: { path: { id }, header: { 'Idempotency-Key': idempotencyKey } },
          ...attempt,
        }),
      options,
    );
  }

  /** A new signing secret (shown once); the previous one signs too for `expires_in_seconds` (default 24 h). */
  rollWebhookEndpointSecret(id: string, roll: RollWebhookSecret = {}, options?: WriteOptions): Promise<RecordedResult<WebhookEndpoint>> {
    return this.transport.write(
      roll,
      (idempotencyKey, attempt) =>
        this.api.POST('/v1/webhook_endpoints/{id}/roll_secret', {
          params: { path: { id }, header: { 'Idempotency-Key': idempotencyKey } },
          body: roll,
          ...attempt,
        }),
      options,
    );
  }

  /** Deletes the endpoint and its pending deliveries (a second delete is 404). */
  deleteWebhookEndpoint(id: string, options?: CallOptions): Promise<Result<DeletedWebhookEndpoint>> {
    return this.transport.read(
      (attempt) => this.api.DELETE('/v1/webhook_endpoints/{id}', { params: { path: { id } }, ...attempt }),
      options,
    );
  }

  private get api(): Transport['api'] {
    return this.transport.api;
  }
}

export interface PaymentsAdminClientOptions extends TransportOptions, BrowserOptions {
  /** The deployment's ADMIN_TOKEN. */
  adminToken: string;
}

/** The operator's client: creates merchants with the admin token, and reads the service's health and metrics. */
export class PaymentsAdminClient {
  private readonly transport: Transport;

  constructor(options: PaymentsAdminClientOptions) {
    refuseSecretInBrowser(options, 'The admin token');
    this.transport = new Transport(options, options.adminToken);
  }

  /**
   * A new merchant and its API key. The key is shown once: a replayed answer (the same
   * idempotency key again) has `api_key: null`, since the service keeps only its hash.
   */
  createMerchant(merchant: CreateMerchant, options?: WriteOptions): Promise<RecordedResult<Merchant>> {
    return this.transport.write(
      merchant,
      (key, attempt) =>
        this.transport.api.POST('/v1/merchants', { params: { header: { 'Idempotency-Key': key } }, body: merchant, ...attempt }),
      options,
    );
  }

  /** A key for any merchant: the way back in after its keys were revoked. Its secret is shown once. */
  createMerchantApiKey(merchantId: string, key: CreateApiKey, options?: WriteOptions): Promise<RecordedResult<ApiKey>> {
    return this.transport.write(
      key,
      (idempotencyKey, attempt) =>
        this.transport.api.POST('/v1/merchants/{merchant_id}/api_keys', {
          params: { path: { merchant_id: merchantId }, header: { 'Idempotency-Key': idempotencyKey } },
          body: key,
          ...attempt,
        }),
      options,
    );
  }

  /** Revokes any merchant's key (a leak reported by a third party), its last one included. */
  revokeMerchantApiKey(merchantId: string, id: string, options?: CallOptions): Promise<Result<ApiKey>> {
    return this.transport.read(
      (attempt) =>
        this.transport.api.DELETE('/v1/merchants/{merchant_id}/api_keys/{id}', {
          params: { path: { merchant_id: merchantId, id } },
          ...attempt,
        }),
      options,
    );
  }

  /** Whether the process is alive (GET /health/live). */
  checkLiveness(options?: CallOptions): Promise<Result<Health>> {
    return this.transport.read((attempt) => this.transport.api.GET('/health/live', { ...attempt }), options, 'object');
  }

  /** Whether the instance can serve (GET /health/ready): a 503 while its database is away is retried like any 503. */
  checkReadiness(options?: CallOptions): Promise<Result<Health>> {
    return this.transport.read((attempt) => this.transport.api.GET('/health/ready', { ...attempt }), options, 'object');
  }

  /** The Prometheus text exposition of the instance that answers (GET /metrics). */
  getMetrics(options?: CallOptions): Promise<Result<string>> {
    return this.transport.read((attempt) => this.transport.api.GET('/metrics', { ...attempt, parseAs: 'text' }), options, 'text');
  }
}
