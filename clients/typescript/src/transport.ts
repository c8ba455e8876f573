import createClient, { type Client } from 'openapi-fetch';
import {
  CircuitOpenError,
  IdempotencyKeyReusedError,
  NetworkError,
  ProblemError,
  RequestAbortedError,
  RetriesExhaustedError,
  RetryBudgetExhaustedError,
  TimeoutError,
  UnexpectedAnswerError,
  type AnswerContext,
  type CallContext,
  type UndecidedError,
} from './errors.js';
import type { Problem } from './models.js';
import {
  DEFAULT_CIRCUIT_BREAKER,
  DEFAULT_RETRY_BUDGET,
  DEFAULT_RETRY_POLICY,
  isDecidedProblem,
  parseHttpDate,
  parseRetryAfter,
  retryDelayMs,
  validateCircuitBreaker,
  validateRetryBudget,
  validateRetryPolicy,
  type CircuitBreakerPolicy,
  type RandomSource,
  type RetryBudgetPolicy,
  type RetryPolicy,
} from './retry.js';
import { CircuitBreaker, RetryBudget } from './retry-budget.js';
import type { paths } from './schema.js';

/** Time as the client sees it: inject one to test the retry schedule without waiting. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortReason(signal));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/** Told before each retry: what failed and how long the client waits. */
export interface RetryEvent {
  /** The attempt that failed: 1 for the first. */
  attempt: number;
  delayMs: number;
  error: UndecidedError;
  idempotencyKey: string | undefined;
}

export interface TransportOptions {
  /** The service's address, e.g. https://payments.example.com (paths start with /v1). */
  baseUrl: string;
  /** Overrides of DEFAULT_RETRY_POLICY; each call may override them again. */
  retry?: Partial<RetryPolicy>;
  /** Overrides of DEFAULT_RETRY_BUDGET, the retry quota this client's calls share; false: no quota. */
  retryBudget?: Partial<RetryBudgetPolicy> | false;
  /** Overrides of DEFAULT_CIRCUIT_BREAKER; false: no circuit breaker. */
  circuitBreaker?: Partial<CircuitBreakerPolicy> | false;
  /** How long one attempt may take before it is abandoned and retried (default 10 s). */
  timeoutMs?: number;
  /** Jitter of the backoff (default Math.random). */
  random?: RandomSource;
  clock?: Clock;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: (request: Request) => Promise<Response>;
  /** Told before each retry. An exception it throws is caught and ignored: a logging hook never changes the call. */
  onRetry?: (event: RetryEvent) => void;
}

export interface CallOptions {
  /** Aborts the call, its retries and the waits between them. */
  signal?: AbortSignal;
  /** This call's per-attempt timeout. */
  timeoutMs?: number;
  /** This call's overrides of the client's retry policy (`{ maxAttempts: 1 }`: no retry). */
  retry?: Partial<RetryPolicy>;
  /**
   * The W3C trace context of the caller's span (`00-<trace id>-<span id>-<flags>`), sent as is on
   * every attempt, so the service's spans join the caller's trace. Default: the call is a trace of
   * its own, every attempt a span of it (a new trace id per call, kept across its retries).
   */
  traceparent?: string;
  /** Sent as X-Request-Id on every attempt (1-128 of `A-Z a-z 0-9 . _ : -`), so the service's logs carry the caller's id. */
  requestId?: string;
  /** Extra headers for every attempt. The ones this client sets itself (Authorization, Idempotency-Key, ...) are refused. */
  headers?: Record<string, string>;
}

/** What every attempt sends besides the operation's parameters: its signal, headers and the body serialised once. */
export interface AttemptInit {
  signal: AbortSignal;
  headers: Record<string, string>;
  /** Returns the body serialised before the first attempt, whatever the object holds now. */
  bodySerializer: () => string;
}

export interface WriteOptions extends CallOptions {
  /**
   * The operation's Idempotency-Key. Default: a new UUID for this call, used for every retry it
   * makes. Pass one to retry an earlier call (its error's `idempotencyKey`) or to carry a key
   * minted elsewhere, e.g. in the browser where the customer pressed "Pay".
   */
  idempotencyKey?: string;
}

export interface UntilDecidedOptions extends WriteOptions {
  /**
   * How long the call keeps repeating a request whose answer is "accepted, not decided yet" (a card
   * charge's 202 pending) before it throws ChargePendingError. Default: the retry policy's
   * `totalTimeoutMs`; 0: at the first such answer.
   */
  pendingWaitMs?: number;
}

/** The wait before repeating a pending answer that names none (the service always sends Retry-After). */
const DEFAULT_PENDING_RETRY_AFTER_MS = 1_000;

export interface Result<T> {
  data: T;
  status: number;
  /** Requests sent, retries included. */
  attempts: number;
  /** The trace id every attempt carried (traceparent): where the service's spans of the call are. */
  traceId: string;
  /** X-Request-Id of the answer. */
  requestId: string | undefined;
  /** ETag of the answer (accounts): what `upsertAccount`'s `ifMatch` takes. */
  etag: string | undefined;
  headers: Headers;
}

/** The answer to a write, recorded by the service against its Idempotency-Key. */
export interface RecordedResult<T> extends Result<T> {
  idempotencyKey: string;
  /** True when this is the recorded answer of an earlier request with the key (Idempotent-Replayed: true). */
  replayed: boolean;
  /** Until when the key is kept (Idempotency-Expires): a retry before then gets this same answer. */
  expiresAt: Date | undefined;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

/** What openapi-fetch gives for one request: `data` when the response is 2xx, else `error` (the parsed body). */
export interface Sent {
  data?: unknown;
  error?: unknown;
  response: Response;
}

/** The body of a 2xx answer. */
export type DataOf<S extends Sent> = Exclude<S['data'], undefined>;

/** What a 2xx body must look like to be the service's answer: one of its objects, any JSON object (health), or text (metrics). */
export type Expected = 'resource' | 'object' | 'text';

/** A new Idempotency-Key: a random UUID from Web Crypto (Node 20+, browsers on https). */
export function newIdempotencyKey(): string {
  const crypto = globalThis.crypto as Crypto | undefined;
  if (typeof crypto?.randomUUID !== 'function') {
    throw new Error('crypto.randomUUID is not available here (browsers offer it on https pages only): pass an idempotencyKey');
  }
  return crypto.randomUUID();
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
/** Headers the client sets itself: a caller's copy would split one operation's identity or credentials. */
const RESERVED_HEADERS = new Set([
  'authorization',
  'idempotency-key',
  'traceparent',
  'x-request-id',
  'content-type',
  'content-length',
  'host',
]);

/** A key the service would refuse (or fetch could not even send) is the caller's bug, found before anything is sent. */
export function checkIdempotencyKey(key: unknown): string {
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new TypeError(
      `idempotencyKey must be 1-255 visible ASCII characters (no spaces, newlines or non-ASCII), got ${JSON.stringify(key)}`,
    );
  }
  return key;
}

/** The body as JSON, once: a BigInt or a cycle is refused here instead of failing every attempt as if the network did. */
export function serialiseBody(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch (error) {
    throw new TypeError(`The request body cannot be sent as JSON: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  if (text === undefined) throw new TypeError(`The request body cannot be sent as JSON (got ${typeof body})`);
  return text;
}

function checkCallOptions(options: CallOptions): void {
  if (options.timeoutMs !== undefined) checkTimeout(options.timeoutMs, 'timeoutMs');
  else if ('timeoutMs' in options) throw new TypeError('timeoutMs must be a number, got undefined');
  if (options.retry !== undefined) validateRetryPolicy(options.retry);
  if (options.requestId !== undefined && (typeof options.requestId !== 'string' || !REQUEST_ID.test(options.requestId))) {
    throw new TypeError(`requestId must be 1-128 of A-Z a-z 0-9 . _ : -, got ${JSON.stringify(options.requestId)}`);
  }
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (!HEADER_NAME.test(name)) throw new TypeError(`headers: "${name}" is not a header name`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw new TypeError(`headers: ${name} is set by the client itself (use its own option)`);
    if (typeof value !== 'string' || !HEADER_VALUE.test(value))
      throw new TypeError(`headers: the value of ${name} must be printable ASCII on one line`);
  }
}

function checkWait(value: unknown, name: string): void {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${typeof value}`);
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number ≥ 0, got ${value}`);
}

function checkTimeout(value: unknown, name: string): void {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${typeof value}`);
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a finite number > 0, got ${value}`);
}

interface Call<S extends Sent> {
  idempotencyKey: string | undefined;
  body: string | undefined;
  send: (attempt: AttemptInit) => Promise<S>;
  options: CallOptions;
  expected: Expected;
}

/**
 * Sends requests through openapi-fetch and retries every answer that does not decide the request
 * (network errors, timeouts, 5xx, 429, 409 in progress, anything that is not the service's own
 * problem+json or resource), with backoff, within the call's retry policy, the client's retry
 * budget and its circuit breaker. Every attempt of a write carries the same Idempotency-Key and the
 * same bytes, so the service runs it at most once.
 */
export class Transport {
  readonly api: Client<paths>;
  private readonly policy: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly random: RandomSource;
  private readonly clock: Clock;
  private readonly onRetry: ((event: RetryEvent) => void) | undefined;
  private readonly budget: RetryBudget | undefined;
  private readonly breaker: CircuitBreaker | undefined;

  constructor(options: TransportOptions, token: string) {
    if (typeof options.baseUrl !== 'string') throw new TypeError('baseUrl must be a string');
    new URL(options.baseUrl); // a malformed address fails here, not as a network error retried until the budget is spent
    if (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token)) throw new TypeError('The API key or token must be visible ASCII');
    if (options.retry !== undefined) validateRetryPolicy(options.retry);
    if (options.retryBudget) validateRetryBudget(options.retryBudget);
    if (options.circuitBreaker) validateCircuitBreaker(options.circuitBreaker);
    if (options.timeoutMs !== undefined || 'timeoutMs' in options) checkTimeout(options.timeoutMs, 'timeoutMs');
    this.api = createClient<paths>({ baseUrl: options.baseUrl, headers: { Authorization: `Bearer ${token}` }, fetch: options.fetch });
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? systemClock;
    this.onRetry = options.onRetry;
    this.budget = options.retryBudget === false ? undefined : new RetryBudget({ ...DEFAULT_RETRY_BUDGET, ...options.retryBudget });
    this.breaker =
      options.circuitBreaker === false ? undefined : new CircuitBreaker({ ...DEFAULT_CIRCUIT_BREAKER, ...options.circuitBreaker });
  }

  /** Tokens left in the retry budget (undefined when there is none). */
  get retryTokens(): number | undefined {
    return this.budget?.available;
  }

  /** The circuit breaker's state (undefined when there is none). */
  get circuitState(): 'closed' | 'open' | 'half-open' | undefined {
    return this.breaker?.state;
  }

  read<S extends Sent>(
    send: (attempt: AttemptInit) => Promise<S>,
    options: CallOptions = {},
    expected: Expected = 'resource',
  ): Promise<Result<DataOf<S>>> {
    checkCallOptions(options);
    return this.call({ idempotencyKey: undefined, body: undefined, send, options, expected });
  }

  /** One intended operation: one key, generated here once (or given), and one body, serialised here once, for every retry. */
  async write<S extends Sent>(
    body: unknown,
    send: (idempotencyKey: string, attempt: AttemptInit) => Promise<S>,
    options: WriteOptions = {},
  ): Promise<RecordedResult<DataOf<S>>> {
    checkCallOptions(options);
    const idempotencyKey = 'idempotencyKey' in options ? checkIdempotencyKey(options.idempotencyKey) : newIdempotencyKey();
    return this.writeOnce(serialiseBody(body), idempotencyKey, send, options);
  }

  /**
   * A write whose answer may be "accepted, not decided yet" (`isPending`: a card charge's 202
   * pending). Such an answer is not final: the same request, with the same key and the same bytes,
   * is repeated after its Retry-After (each repeat a write with its own retries of undecided answers)
   * until the answer is decided or `pendingWaitMs` is over; then the call throws what `pendingError`
   * makes of the last pending answer. Repeats of a pending answer cost no retry tokens and leave the
   * circuit closed: the service answered.
   */
  async writeUntilDecided<S extends Sent>(
    body: unknown,
    send: (idempotencyKey: string, attempt: AttemptInit) => Promise<S>,
    options: UntilDecidedOptions,
    isPending: (result: RecordedResult<DataOf<S>>) => boolean,
    pendingError: (result: RecordedResult<DataOf<S>>, retryAfterMs: number, context: CallContext) => Error,
  ): Promise<RecordedResult<DataOf<S>>> {
    const { pendingWaitMs, ...write } = options;
    checkCallOptions(write);
    if (pendingWaitMs !== undefined || 'pendingWaitMs' in options) checkWait(pendingWaitMs, 'pendingWaitMs');
    const idempotencyKey = 'idempotencyKey' in write ? checkIdempotencyKey(write.idempotencyKey) : newIdempotencyKey();
    const serialised = serialiseBody(body);
    const policy = { ...this.policy, ...write.retry };
    const giveUpAt = this.clock.now() + (pendingWaitMs ?? policy.totalTimeoutMs);
    let attempts = 0;
    for (;;) {
      const result = await this.writeOnce(serialised, idempotencyKey, send, write);
      attempts += result.attempts;
      if (!isPending(result)) return { ...result, attempts };
      const retryAfterMs = parseRetryAfter(result.headers.get('retry-after'), this.clock.now()) ?? DEFAULT_PENDING_RETRY_AFTER_MS;
      const delayMs = Math.max(retryAfterMs, Math.min(policy.minDelayMs, policy.maxDelayMs));
      const context: CallContext = { idempotencyKey, attempts, traceId: result.traceId };
      if (this.clock.now() + delayMs > giveUpAt) throw pendingError({ ...result, attempts }, retryAfterMs, context);
      try {
        await this.clock.sleep(delayMs, write.signal);
      } catch (error) {
        if (write.signal?.aborted) throw new RequestAbortedError(write.signal.reason, context);
        throw error;
      }
    }
  }

  private async writeOnce<S extends Sent>(
    serialised: string | undefined,
    idempotencyKey: string,
    send: (idempotencyKey: string, attempt: AttemptInit) => Promise<S>,
    options: WriteOptions,
  ): Promise<RecordedResult<DataOf<S>>> {
    const result = await this.call({
      idempotencyKey,
      body: serialised,
      send: (attempt) => send(idempotencyKey, attempt),
      options,
      expected: 'resource',
    });
    return { ...result, idempotencyKey, ...recordOf(result.headers) };
  }

  private async call<S extends Sent>({ idempotencyKey, body, send, options, expected }: Call<S>): Promise<Result<DataOf<S>>> {
    const policy = { ...this.policy, ...options.retry };
    const deadline = this.clock.now() + policy.totalTimeoutMs;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const traceId = options.traceparent === undefined ? randomHex(16) : traceIdOf(options.traceparent);
    const extraHeaders = { ...options.headers, ...(options.requestId === undefined ? {} : { 'X-Request-Id': options.requestId }) };
    const bodySerializer = () => body ?? '';
    let retryCost: number | undefined;
    let lastError: UndecidedError | undefined;
    for (let attempt = 1; ; attempt++) {
      const context: CallContext = { idempotencyKey, attempts: attempt, traceId };
      if (options.signal?.aborted) throw new RequestAbortedError(options.signal.reason, { ...context, attempts: attempt - 1 });
      const retryAt = this.breaker?.admit(this.clock.now());
      if (retryAt !== undefined) throw new CircuitOpenError(new Date(retryAt), lastError, { ...context, attempts: attempt - 1 });
      // Sampled (flags 01): the service records the spans of a call its client traced.
      const traceparent = options.traceparent ?? `00-${traceId}-${randomHex(8)}-01`;
      const remaining = Math.max(1, deadline - this.clock.now());
      let outcome: Result<DataOf<S>> | UndecidedError;
      try {
        outcome = await this.attempt(
          (signal) => send({ signal, headers: { ...extraHeaders, traceparent }, bodySerializer }),
          Math.min(timeoutMs, remaining),
          options.signal,
          context,
          expected,
        );
      } catch (error) {
        // A decided problem: the service is up and answering.
        if (error instanceof ProblemError) {
          this.breaker?.decided();
          this.budget?.succeeded(retryCost);
        } else this.breaker?.abandoned();
        throw error;
      }
      if (!(outcome instanceof Error)) {
        this.breaker?.decided();
        this.budget?.succeeded(retryCost);
        return outcome;
      }
      lastError = outcome;
      // 409 in progress is the service working on this key: neither a sign of an outage nor of health.
      const inProgress = outcome instanceof ProblemError && outcome.code === 'idempotency_request_in_progress';
      if (!inProgress) this.breaker?.undecided(this.clock.now());

      if (attempt >= policy.maxAttempts) {
        throw new RetriesExhaustedError(outcome, `the attempt limit (${policy.maxAttempts}) was reached`, context);
      }
      const retryAfterMs = outcome instanceof ProblemError || outcome instanceof UnexpectedAnswerError ? outcome.retryAfterMs : undefined;
      const delayMs = retryDelayMs(attempt, retryAfterMs, policy, this.random);
      if (this.clock.now() + delayMs >= deadline) {
        throw new RetriesExhaustedError(outcome, `the next attempt would start past the ${policy.totalTimeoutMs} ms budget`, context);
      }
      if (this.budget) {
        retryCost = this.budget.take(outcome instanceof TimeoutError);
        if (retryCost === undefined) throw new RetryBudgetExhaustedError(outcome, context);
      }
      try {
        this.onRetry?.({ attempt, delayMs, error: outcome, idempotencyKey });
      } catch {
        // A hook that throws (a logger that failed) must not end a call whose outcome is unknown.
      }
      try {
        await this.clock.sleep(delayMs, options.signal);
      } catch (error) {
        if (options.signal?.aborted) throw new RequestAbortedError(options.signal.reason, context);
        throw error;
      }
    }
  }

  /** One request: a result, a decided problem (thrown), or an undecided answer to retry (returned). */
  private async attempt<S extends Sent>(
    send: (signal: AbortSignal) => Promise<S>,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    context: CallContext,
    expected: Expected,
  ): Promise<Result<DataOf<S>> | UndecidedError> {
    let sent: S;
    try {
      sent = await withTimeout(send, timeoutMs, signal);
    } catch (error) {
      if (signal?.aborted) throw new RequestAbortedError(signal.reason, context);
      if (error instanceof AttemptTimedOut) return new TimeoutError(timeoutMs, context);
      // openapi-fetch parses a 2xx body with JSON.parse: a SyntaxError is an answer that is not the service's.
      if (error instanceof SyntaxError) {
        return new UnexpectedAnswerError(
          { status: undefined, contentType: undefined, bodyExcerpt: '', why: `a success status whose body is not JSON (${error.message})` },
          context,
        );
      }
      return new NetworkError(error, context);
    }
    const { response } = sent;
    const requestId = response.headers.get('x-request-id') ?? undefined;
    const contentType = response.headers.get('content-type') ?? undefined;
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.clock.now());
    if (response.ok) {
      // openapi-fetch sets `data` exactly when the response is 2xx.
      const why = unexpectedData(sent.data, expected);
      if (why !== undefined) {
        return new UnexpectedAnswerError({ status: response.status, contentType, bodyExcerpt: excerpt(sent.data), why }, context, {
          retryAfterMs,
          requestId,
        });
      }
      return {
        data: sent.data as DataOf<S>,
        status: response.status,
        attempts: context.attempts,
        traceId: context.traceId,
        requestId,
        etag: response.headers.get('etag') ?? undefined,
        headers: response.headers,
      };
    }
    const isProblemJson = /^application\/problem\+json\b/i.test(contentType ?? '');
    const problem = isProblemJson ? problemOf(response, sent.error) : undefined;
    if (problem === undefined) {
      return new UnexpectedAnswerError(
        {
          status: response.status,
          contentType,
          bodyExcerpt: excerpt(sent.error),
          why: `not the service's problem+json (${contentType ?? 'no content type'}): a gateway or proxy answered, and the request may have reached the service`,
        },
        context,
        { retryAfterMs, requestId },
      );
    }
    const answer: AnswerContext = { retryAfterMs, requestId, ...recordOf(response.headers) };
    if (!isDecidedProblem(response.status, problem.code, true)) return new ProblemError(problem, answer, context);
    if (problem.code === 'idempotency_key_reused') throw new IdempotencyKeyReusedError(problem, answer, context);
    throw new ProblemError(problem, answer, context);
  }
}

/** Why a 2xx body is not the service's answer, or undefined when it is. */
function unexpectedData(data: unknown, expected: Expected): string | undefined {
  if (expected === 'text') return typeof data === 'string' ? undefined : 'a success status without a text body';
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'a success status without a JSON object';
  if (expected === 'resource' && typeof (data as { object?: unknown }).object !== 'string') {
    return 'a success status whose body is not one of the service\'s objects (no "object" field)';
  }
  return undefined;
}

function excerpt(body: unknown): string {
  const text = typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body);
  return text.slice(0, 500);
}

class AttemptTimedOut extends Error {}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/** The trace id of a W3C traceparent; a malformed one is the caller's bug, refused before sending. */
function traceIdOf(traceparent: string): string {
  const match = TRACEPARENT.exec(traceparent);
  if (!match || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) {
    throw new TypeError(`traceparent must be a W3C trace context (00-<32 hex>-<16 hex>-<2 hex>), got "${traceparent}"`);
  }
  return match[1]!;
}

/** `bytes` random bytes as lowercase hex (Web Crypto: Node 20+, browsers). */
function randomHex(bytes: number): string {
  return Array.from(globalThis.crypto.getRandomValues(new Uint8Array(bytes)), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** Runs `run` with a signal that aborts after `timeoutMs` or when the caller's signal does, whichever comes first. */
function withTimeout<T>(run: (signal: AbortSignal) => Promise<T>, timeoutMs: number, callerSignal: AbortSignal | undefined): Promise<T> {
  const controller = new AbortController();
  let stop: (reason: Error) => void = () => undefined;
  // Settles the race even with a fetch that ignores its signal.
  const stopped = new Promise<never>((_, reject) => {
    stop = (reason) => {
      controller.abort(reason);
      reject(reason);
    };
  });
  const timer = setTimeout(() => stop(new AttemptTimedOut()), timeoutMs);
  const onAbort = () => stop(abortReason(callerSignal));
  callerSignal?.addEventListener('abort', onAbort, { once: true });
  const running = run(controller.signal);
  running.catch(() => undefined); // after a stop it rejects too, once nobody listens
  return Promise.race([running, stopped]).finally(() => {
    clearTimeout(timer);
    callerSignal?.removeEventListener('abort', onAbort);
  });
}

/** Whether an answer is a replay of the key's recorded one, and until when the key is kept. */
function recordOf(headers: Headers): { replayed: boolean; expiresAt: Date | undefined } {
  const expires = parseHttpDate(headers.get('idempotency-expires'));
  return { replayed: headers.get('idempotent-replayed') === 'true', expiresAt: expires === undefined ? undefined : new Date(expires) };
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error(`aborted: ${String(reason)}`);
}

/** The service's problem, when the body is one: the status must be the answer's own. */
function problemOf(response: Response, body: unknown): Problem | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const fields = body as Record<string, unknown>;
  if (typeof fields.code !== 'string' || typeof fields.title !== 'string' || typeof fields.type !== 'string') return undefined;
  if (fields.status !== undefined && fields.status !== response.status) return undefined;
  return { ...(body as Problem), detail: typeof fields.detail === 'string' ? fields.detail : '', status: response.status };
}
