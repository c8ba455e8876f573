import createClient, { type Client } from 'openapi-fetch';
import {
  IdempotencyKeyReusedError,
  NetworkError,
  PaymentsError,
  ProblemError,
  RequestAbortedError,
  RetriesExhaustedError,
  TimeoutError,
  type AnswerContext,
  type CallContext,
  type UndecidedError,
  type UnknownProblem,
} from './errors.js';
import type { Problem } from './models.js';
import {
  DEFAULT_RETRY_POLICY,
  isUndecided,
  parseHttpDate,
  parseRetryAfter,
  retryDelayMs,
  type RandomSource,
  type RetryPolicy,
} from './retry.js';
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
  /** Overrides of DEFAULT_RETRY_POLICY. */
  retry?: Partial<RetryPolicy>;
  /** How long one attempt may take before it is abandoned and retried (default 10 s). */
  timeoutMs?: number;
  /** Jitter of the backoff (default Math.random). */
  random?: RandomSource;
  clock?: Clock;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: (request: Request) => Promise<Response>;
  onRetry?: (event: RetryEvent) => void;
}

export interface CallOptions {
  /** Aborts the call, its retries and the waits between them. */
  signal?: AbortSignal;
  /** This call's per-attempt timeout. */
  timeoutMs?: number;
  /**
   * The W3C trace context of the caller's span (`00-<trace id>-<span id>-<flags>`), sent as is on
   * every attempt, so the service's spans join the caller's trace. Default: the call is a trace of
   * its own, every attempt a span of it (a new trace id per call, kept across its retries).
   */
  traceparent?: string;
}

/** What every attempt sends besides the operation's parameters: its signal and trace context. */
export interface AttemptInit {
  signal: AbortSignal;
  headers: { traceparent: string };
}

export interface WriteOptions extends CallOptions {
  /**
   * The operation's Idempotency-Key. Default: a new UUID for this call, used for every retry it
   * makes. Pass one to retry an earlier call (its error's `idempotencyKey`) or to carry a key
   * minted elsewhere, e.g. in the browser where the customer pressed "Pay".
   */
  idempotencyKey?: string;
}

export interface Result<T> {
  data: T;
  status: number;
  /** Requests sent, retries included. */
  attempts: number;
  /** The trace id every attempt carried (traceparent): where the service's spans of the call are. */
  traceId: string;
  /** X-Request-Id of the answer. */
  requestId: string | undefined;
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

/** A new Idempotency-Key: a random UUID from Web Crypto (Node 20+, browsers on https). */
export function newIdempotencyKey(): string {
  const crypto = globalThis.crypto as Crypto | undefined;
  if (typeof crypto?.randomUUID !== 'function') {
    throw new Error('crypto.randomUUID is not available here (browsers offer it on https pages only): pass an idempotencyKey');
  }
  return crypto.randomUUID();
}

/**
 * Sends requests through openapi-fetch and retries the ones without a decided answer (network
 * errors, timeouts, 409 in progress, 429, 503) with backoff, within the retry policy's budget.
 * Every attempt of a write carries the same Idempotency-Key, so the service runs it at most once.
 */
export class Transport {
  readonly api: Client<paths>;
  private readonly policy: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly random: RandomSource;
  private readonly clock: Clock;
  private readonly onRetry: ((event: RetryEvent) => void) | undefined;

  constructor(options: TransportOptions, token: string) {
    new URL(options.baseUrl); // a malformed address fails here, not as a network error retried until the budget is spent
    this.api = createClient<paths>({ baseUrl: options.baseUrl, headers: { Authorization: `Bearer ${token}` }, fetch: options.fetch });
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? systemClock;
    this.onRetry = options.onRetry;
  }

  read<S extends Sent>(send: (attempt: AttemptInit) => Promise<S>, options: CallOptions = {}): Promise<Result<DataOf<S>>> {
    return this.call(undefined, send, options);
  }

  /** One intended operation: one key, generated here once (or given), kept for every retry. */
  async write<S extends Sent>(
    send: (idempotencyKey: string, attempt: AttemptInit) => Promise<S>,
    options: WriteOptions = {},
  ): Promise<RecordedResult<DataOf<S>>> {
    const idempotencyKey = options.idempotencyKey ?? newIdempotencyKey();
    const result = await this.call(idempotencyKey, (attempt) => send(idempotencyKey, attempt), options);
    return { ...result, idempotencyKey, ...recordOf(result.headers) };
  }

  private async call<S extends Sent>(
    idempotencyKey: string | undefined,
    send: (attempt: AttemptInit) => Promise<S>,
    options: CallOptions,
  ): Promise<Result<DataOf<S>>> {
    const deadline = this.clock.now() + this.policy.totalTimeoutMs;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const traceId = options.traceparent === undefined ? randomHex(16) : traceIdOf(options.traceparent);
    for (let attempt = 1; ; attempt++) {
      const context: CallContext = { idempotencyKey, attempts: attempt, traceId };
      // Sampled (flags 01): the service records the spans of a call its client traced.
      const traceparent = options.traceparent ?? `00-${traceId}-${randomHex(8)}-01`;
      if (options.signal?.aborted) throw new RequestAbortedError(options.signal.reason, context);
      const remaining = Math.max(1, deadline - this.clock.now());
      const outcome = await this.attempt(
        (signal) => send({ signal, headers: { traceparent } }),
        Math.min(timeoutMs, remaining),
        options.signal,
        context,
      );
      if (!(outcome instanceof PaymentsError)) return outcome;

      if (attempt >= this.policy.maxAttempts) {
        throw new RetriesExhaustedError(outcome, 'the attempt limit was reached', context);
      }
      const retryAfterMs = outcome instanceof ProblemError ? outcome.retryAfterMs : undefined;
      const delayMs = retryDelayMs(attempt, retryAfterMs, this.policy, this.random);
      if (this.clock.now() + delayMs >= deadline) {
        throw new RetriesExhaustedError(outcome, `the next attempt would start past the ${this.policy.totalTimeoutMs} ms budget`, context);
      }
      this.onRetry?.({ attempt, delayMs, error: outcome, idempotencyKey });
      try {
        await this.clock.sleep(delayMs, options.signal);
      } catch (error) {
        if (options.signal?.aborted) throw new RequestAbortedError(options.signal.reason, context);
        throw error;
      }
    }
  }

  /** One request: a result, a final error (thrown), or an undecided answer to retry (returned). */
  private async attempt<S extends Sent>(
    send: (signal: AbortSignal) => Promise<S>,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    context: CallContext,
  ): Promise<Result<DataOf<S>> | UndecidedError> {
    let sent: S;
    try {
      sent = await withTimeout(send, timeoutMs, signal);
    } catch (error) {
      if (signal?.aborted) throw new RequestAbortedError(signal.reason, context);
      if (error instanceof AttemptTimedOut) return new TimeoutError(timeoutMs, context);
      return new NetworkError(error, context);
    }
    const { response } = sent;
    const requestId = response.headers.get('x-request-id') ?? undefined;
    if (response.ok) {
      // openapi-fetch sets `data` exactly when the response is 2xx.
      return {
        data: sent.data as DataOf<S>,
        status: response.status,
        attempts: context.attempts,
        traceId: context.traceId,
        requestId,
        headers: response.headers,
      };
    }
    const problem = problemOf(response, sent.error);
    const answer: AnswerContext = {
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), this.clock.now()),
      requestId,
      ...recordOf(response.headers),
    };
    if (problem.code === 'idempotency_key_reused') throw new IdempotencyKeyReusedError(problem, answer, context);
    const error = new ProblemError(problem, answer, context);
    if (!isUndecided(response.status, problem.code)) throw error;
    return error;
  }
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

function problemOf(response: Response, body: unknown): Problem | UnknownProblem {
  if (isProblem(body)) return { ...body, status: response.status };
  return {
    type: 'about:blank',
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    detail: typeof body === 'string' ? body.slice(0, 500) : '',
    code: undefined,
  };
}

function isProblem(body: unknown): body is Problem {
  if (typeof body !== 'object' || body === null) return false;
  const fields = body as Record<string, unknown>;
  return typeof fields.code === 'string' && typeof fields.title === 'string' && typeof fields.type === 'string';
}
