import { CommittedResponses } from './committed-responses.js';
import { IdempotencyKeyReusedError, IdempotencyRequestInProgressError } from './idempotency.errors.js';
import type { KeyedCall, KeyRef, RecordedResponse, RecordTimes, StoredKey } from './idempotency.repository.js';

/** The answer to a key's claim, sent with BEGIN (see IdempotencyStore.open). */
export type ClaimAnswer =
  | { claimed: true }
  /** The key is in use: `stored` is its live record when the lookup sent with the claim found one. */
  | { claimed: false; stored: StoredKey | undefined };

/** A key opened for a request: its transaction and, soon, the claim's answer. */
export interface OpenedKey<Tx> {
  /** The handler's transaction. Its statements fail (no effect) when the claim is refused. */
  transaction: Tx;
  /** Settles with the round trip that carried the claim; rejects when the database failed. */
  claim: Promise<ClaimAnswer>;
  /** Records the response with the effect, and commits; undefined when a record got there first. */
  recordAndCommit(response: RecordedResponse): Promise<RecordTimes | undefined>;
  /** Rolls back what did not commit and gives the connection back. */
  end(): Promise<void>;
}

/** Where records live: PostgreSQL (postgres-idempotency.store.ts), or memory for unit tests. */
export interface IdempotencyStore<Tx> {
  /** Starts the request's transaction with the key's claim; returns before the claim is answered. */
  open(call: KeyedCall): Promise<OpenedKey<Tx>>;
  /** The key's live record, outside any transaction. */
  find(key: KeyRef): Promise<StoredKey | undefined>;
  /** The key's live record, and whether a request with the key is running (holds its lock). */
  look(key: KeyRef): Promise<{ stored: StoredKey | undefined; inFlight: boolean }>;
  /** Records the response of a request that recorded item by item on the claim it made. */
  complete(call: KeyedCall, response: RecordedResponse): Promise<RecordTimes | undefined>;
  /** Returns once a synchronous standby has every commit the store shows now (StoredKey.standbyConfirms). */
  confirmOnStandby(): Promise<void>;
}

/** What a request with a key came to (idempotency_requests_total counts them). */
export type IdempotencyOutcome = 'new' | 'replayed' | 'mismatch' | 'in_progress';

/** What the HTTP side sends. */
export type IdempotentAnswer =
  | { kind: 'new'; response: RecordedResponse; expiresAt: Date }
  | { kind: 'replayed'; from: 'memory' | 'database'; response: RecordedResponse; expiresAt: Date };

export interface IdempotencyOptions {
  ttlSeconds: number;
  /** How long a request waits for a twin in flight to record its answer before answering 409. */
  inFlightWaitMs: number;
  inFlightPollMs: number;
}

/** Told of every outcome, with the duplicate's age (seconds, by the database's clock) when known. */
export type OutcomeObserver = (outcome: IdempotencyOutcome, ageSeconds: number | null) => void;

/** A handler's answer: a response to record, or the error that rolls its transaction back. */
type Settled = { ok: true; response: RecordedResponse } | { ok: false; error: unknown };

/**
 * The idempotency protocol, without HTTP: claim a key, run the handler once, record its response
 * with its effect, replay a recorded response, wait for a twin in flight, refuse another request.
 *
 *   remembered here? ──▶ replay it (another request: 422)
 *   answered here before? ──▶ read its record (one round trip) ──▶ replay it (another request: 422)
 *   open: lookup + BEGIN + claim, in the round trip of the handler's first statement
 *     claimed ──▶ handler's answer + record + COMMIT in one round trip ──▶ new
 *     refused, recorded ──▶ replay (another request: 422); the handler's statements took no effect
 *     refused, in flight ──▶ look again every inFlightPollMs, then 409
 *
 * The handler runs at most once per request: it starts with the claim in flight, and when the claim
 * is refused its statements fail and its answer is dropped. So a handler may do nothing before its
 * first statement that outlives the request (docs/architecture.md, "Adding a route").
 */
export class IdempotencyService<Tx> {
  constructor(
    private readonly store: IdempotencyStore<Tx>,
    private readonly committed: CommittedResponses,
    private readonly options: IdempotencyOptions,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  /**
   * Runs `handler` for the key once, or replays what the key recorded. `recorded` is what is kept of
   * a response (a field shown once is recorded as null).
   */
  async execute(
    call: KeyedCall,
    handler: (tx: Tx) => Promise<RecordedResponse>,
    recorded: (response: RecordedResponse) => RecordedResponse,
    observe: OutcomeObserver,
  ): Promise<IdempotentAnswer> {
    const known = this.committed.get(call.merchantId, call.key);
    if (known) {
      this.refuseAnother(known, call, observe);
      observe('replayed', known.ageSeconds);
      return { kind: 'replayed', from: 'memory', response: known.response, expiresAt: known.expiresAt };
    }
    if (this.committed.answeredBefore(call.merchantId, call.key)) {
      // A key this process answered, whose answer has left memory: one read outside any
      // transaction answers its replay, before anything of the handler runs. Not found (expired,
      // or the filter's rare false "maybe"): the new key's way below.
      const stored = await this.store.find(call);
      if (stored?.response) return await this.replayStored(stored, call, observe);
    }
    const opened = await this.store.open(call);
    let ended = false;
    try {
      // The handler starts now: its first statement goes out behind the claim, in its round trip.
      const handled: Promise<Settled> = handler(opened.transaction).then(
        (response) => ({ ok: true, response }),
        (error: unknown) => ({ ok: false, error }),
      );
      const claim = await opened.claim.catch(async (error: unknown) => {
        await handled;
        throw error;
      });
      if (!claim.claimed) {
        // The handler's statements failed with the claim; its answer, whatever it is, is not used.
        await handled;
        ended = true;
        void opened.end(); // the ROLLBACK need not delay the answer
        return claim.stored ? await this.replayStored(claim.stored, call, observe) : await this.waitForTwin(call, observe);
      }
      const settled = await handled;
      if (!settled.ok) throw settled.error;
      const kept = recorded(settled.response);
      const times = await opened.recordAndCommit(kept);
      if (!times) {
        // A record got there despite the key's lock (it cannot, while every writer takes it):
        // nothing of this request committed; answer as its record says.
        const stored = await this.store.find(call);
        if (!stored) throw new IdempotencyRequestInProgressError(1);
        return await this.replayStored(stored, call, observe);
      }
      this.committed.remember(call.merchantId, call.key, { fingerprint: call.fingerprint, response: kept, ...times, ageSeconds: 0 });
      observe('new', null);
      return { kind: 'new', response: settled.response, expiresAt: times.expiresAt };
    } finally {
      if (!ended) await opened.end();
    }
  }

  /**
   * A route that commits item by item (a batch): look the key up (replay a finished response,
   * refuse another request's key, resume this same request's claim), then `run` the handler,
   * whose items claim the key with the first effect and record themselves; then record the whole
   * response on the claim.
   */
  async executePerItem(call: KeyedCall, run: () => Promise<RecordedResponse>, observe: OutcomeObserver): Promise<IdempotentAnswer> {
    const known = this.committed.get(call.merchantId, call.key);
    if (known) {
      this.refuseAnother(known, call, observe);
      observe('replayed', known.ageSeconds);
      return { kind: 'replayed', from: 'memory', response: known.response, expiresAt: known.expiresAt };
    }
    // A request with the key in flight (a single charge, or an item of a twin batch claiming the
    // key) is waited for, as a twin is: its record decides whether this request runs.
    for (let waited = 0; ; waited += this.options.inFlightPollMs) {
      const { stored, inFlight } = await this.store.look(call);
      if (stored) {
        this.refuseAnother(stored, call, observe);
        if (stored.response) return await this.replayStored(stored, call, observe);
        break; // this same request's claim: resume it (its items replay what committed)
      }
      if (!inFlight) break;
      if (waited >= this.options.inFlightWaitMs) {
        observe('in_progress', null);
        throw new IdempotencyRequestInProgressError(1);
      }
      await this.sleep(this.options.inFlightPollMs);
    }
    const response = await run();
    const times = await this.store.complete(call, response);
    if (!times) {
      // A twin run of the same request recorded its (item by item identical) response first.
      const twin = await this.store.find(call);
      if (twin?.response) return await this.replayStored(twin, call, observe);
      throw new IdempotencyRequestInProgressError(1);
    }
    this.committed.remember(call.merchantId, call.key, { fingerprint: call.fingerprint, response, ...times, ageSeconds: 0 });
    observe('new', null);
    return { kind: 'new', response, expiresAt: times.expiresAt };
  }

  /**
   * A twin holds the key: look for its record until it appears, or answer 409. The handler has run
   * already (its statements refused), so it cannot run again: when the twin ends without a record
   * (it failed), this request answers 409 too, and its retry runs.
   */
  private async waitForTwin(call: KeyedCall, observe: OutcomeObserver): Promise<IdempotentAnswer> {
    for (let waited = 0; ; waited += this.options.inFlightPollMs) {
      const { stored, inFlight } = waited === 0 ? { stored: undefined, inFlight: true } : await this.store.look(call);
      if (stored) {
        this.refuseAnother(stored, call, observe);
        if (stored.response) return await this.replayStored(stored, call, observe);
      }
      if (waited >= this.options.inFlightWaitMs || (!inFlight && !stored)) {
        observe('in_progress', stored?.ageSeconds ?? null);
        throw new IdempotencyRequestInProgressError(1);
      }
      await this.sleep(this.options.inFlightPollMs);
    }
  }

  /**
   * A live record answers: replayed when it holds a response (remembered from now on). Where the
   * database commits through a synchronous standby, only once the standby has the record: a
   * primary can show a commit the standby never got (after a restart in place), and a failover
   * would then take back a payment this answer acknowledged (docs/operations.md).
   */
  private async replayStored(stored: StoredKey, call: KeyedCall, observe: OutcomeObserver): Promise<IdempotentAnswer> {
    this.refuseAnother(stored, call, observe);
    if (!stored.response) {
      // A claim of this same request (item by item) with no response yet: it is still running.
      observe('in_progress', stored.ageSeconds);
      throw new IdempotencyRequestInProgressError(1);
    }
    if (stored.standbyConfirms) await this.store.confirmOnStandby();
    this.committed.remember(call.merchantId, call.key, { ...stored, response: stored.response });
    observe('replayed', stored.ageSeconds);
    return { kind: 'replayed', from: 'database', response: stored.response, expiresAt: stored.expiresAt };
  }

  /** A record of another request (method, path or body) with this key: 422. */
  private refuseAnother(stored: { fingerprint: string; ageSeconds: number }, call: KeyedCall, observe: OutcomeObserver): void {
    if (stored.fingerprint === call.fingerprint) return;
    observe('mismatch', stored.ageSeconds);
    throw new IdempotencyKeyReusedError();
  }
}
