import type {
  Account,
  Balance,
  BatchResult,
  CaptureCharge,
  Charge,
  CreateAccount,
  CreateCharge,
  CreateDeposit,
  CreateMerchant,
  CreateRefund,
  Deposit,
  Merchant,
  Refund,
} from './models.js';
import { Paginated } from './pagination.js';
import { Transport, type CallOptions, type RecordedResult, type Result, type TransportOptions, type WriteOptions } from './transport.js';

export interface PaymentsClientOptions extends TransportOptions {
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

/**
 * A merchant's client. Every write is one intended operation with one Idempotency-Key, kept across
 * its retries (see WriteOptions); every call retries only answers that are not decided yet.
 */
export class PaymentsClient {
  private readonly transport: Transport;

  constructor(options: PaymentsClientOptions) {
    this.transport = new Transport(options, options.apiKey);
  }

  createAccount(account: CreateAccount, options?: WriteOptions): Promise<RecordedResult<Account>> {
    return this.transport.write(
      (key, attempt) => this.api.POST('/v1/accounts', { params: { header: { 'Idempotency-Key': key } }, body: account, ...attempt }),
      options,
    );
  }

  getAccount(id: string, options?: CallOptions): Promise<Result<Account>> {
    return this.transport.read((attempt) => this.api.GET('/v1/accounts/{id}', { params: { path: { id } }, ...attempt }), options);
  }

  /** Money entering the system: credits the account. */
  deposit(accountId: string, deposit: CreateDeposit, options?: WriteOptions): Promise<RecordedResult<Deposit>> {
    return this.transport.write(
      (key, attempt) =>
        this.api.POST('/v1/accounts/{id}/deposits', {
          params: { path: { id: accountId }, header: { 'Idempotency-Key': key } },
          body: deposit,
          ...attempt,
        }),
      options,
    );
  }

  /** Charges `source` (capture: false only authorises: the amount is held until captured or cancelled). */
  createCharge(charge: CreateCharge, options?: WriteOptions): Promise<RecordedResult<Charge>> {
    return this.transport.write(
      (key, attempt) => this.api.POST('/v1/charges', { params: { header: { 'Idempotency-Key': key } }, body: charge, ...attempt }),
      options,
    );
  }

  /** Captures an authorised charge: all of it, or `amount` (the rest is released). */
  captureCharge(id: string, capture: CaptureCharge = {}, options?: WriteOptions): Promise<RecordedResult<Charge>> {
    return this.transport.write(
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
      (key, attempt) =>
        this.api.POST('/v1/charges/{id}/cancel', { params: { path: { id }, header: { 'Idempotency-Key': key } }, ...attempt }),
      options,
    );
  }

  /** Refunds a captured charge: what is left of it, or `amount`. */
  refundCharge(id: string, refund: CreateRefund = {}, options?: WriteOptions): Promise<RecordedResult<Refund>> {
    return this.transport.write(
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
    return this.transport.write(
      (key, attempt) =>
        this.api.POST('/v1/charges/batch', { params: { header: { 'Idempotency-Key': key } }, body: { charges }, ...attempt }),
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

  private get api(): Transport['api'] {
    return this.transport.api;
  }
}

export interface PaymentsAdminClientOptions extends TransportOptions {
  /** The deployment's ADMIN_TOKEN. */
  adminToken: string;
}

/** The operator's client: creates merchants with the admin token. */
export class PaymentsAdminClient {
  private readonly transport: Transport;

  constructor(options: PaymentsAdminClientOptions) {
    this.transport = new Transport(options, options.adminToken);
  }

  /**
   * A new merchant and its API key. The key is shown once: a replayed answer (the same
   * idempotency key again) has `api_key: null`, since the service keeps only its hash.
   */
  createMerchant(merchant: CreateMerchant, options?: WriteOptions): Promise<RecordedResult<Merchant>> {
    return this.transport.write(
      (key, attempt) =>
        this.transport.api.POST('/v1/merchants', { params: { header: { 'Idempotency-Key': key } }, body: merchant, ...attempt }),
      options,
    );
  }
}
