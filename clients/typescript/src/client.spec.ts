import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { PaymentsAdminClient, PaymentsClient, type PaymentsClientOptions } from './client.js';
import {
  ChargePendingError,
  IdempotencyKeyReusedError,
  NetworkError,
  ProblemError,
  RequestAbortedError,
  CircuitOpenError,
  OutcomeUnknownError,
  RetriesExhaustedError,
  RetryBudgetExhaustedError,
  TimeoutError,
  UnexpectedAnswerError,
  type UndecidedError,
} from './errors.js';
import { seededRandom } from './retry.js';
import type { Clock } from './transport.js';

// The retry loop against a scripted fetch and a fake clock: what is sent on each attempt, which
// answers are retried and how long the client waits. The real service is in test/client.e2e-spec.ts.

type Scripted =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  /** A body sent as is, with its own content type (a gateway's page). */
  | { status: number; raw: string; contentType?: string; headers?: Record<string, string> }
  /** fetch rejects as undici does on a reset. */
  | 'reset'
  /** fetch rejects, as on a refused or cut connection. */
  | 'network error'
  /** No answer until the request's signal aborts. */
  | 'no answer'
  /** No answer ever, whatever the signal says. */
  | 'deaf';

interface Sent {
  method: string;
  url: string;
  headers: Headers;
  body: string;
}

function problem(status: number, code: string, headers: Record<string, string> = {}): Scripted {
  return { status, body: { type: `urn:payments:problem:${code}`, title: code, status, detail: `detail of ${code}`, code }, headers };
}

const charge = {
  id: 'ch_1',
  object: 'charge',
  amount: 500,
  currency: 'usd',
  source: 'acct_1',
  status: 'succeeded',
  captured: true,
  amount_captured: 500,
  amount_refunded: 0,
  refunded: false,
  description: null,
  metadata: {},
  created_at: '2026-11-23T14:00:00.000Z',
};
const created: Scripted = { status: 201, body: charge };

function fakeClock(): Clock & { sleeps: number[] } {
  let now = Date.parse('2026-11-23T14:00:00Z');
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: (ms, signal) => {
      if (signal?.aborted) return Promise.reject(signal.reason as Error);
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}

function setUp(script: Scripted[], options: Partial<PaymentsClientOptions> = {}) {
  const sent: Sent[] = [];
  const retries: UndecidedError[] = [];
  const clock = fakeClock();
  const fetch = async (request: Request): Promise<Response> => {
    sent.push({ method: request.method, url: request.url, headers: request.headers, body: await request.text() });
    const next = script.shift();
    if (next === undefined) throw new Error('the script has no more answers');
    if (next === 'network error') throw new TypeError('fetch failed');
    if (next === 'reset')
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });
    if (next === 'deaf') return new Promise<Response>(() => undefined);
    if (next === 'no answer') {
      return new Promise<Response>((_, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason as Error)));
    }
    if ('raw' in next) {
      return new Response(next.raw, {
        status: next.status,
        headers: { ...(next.contentType ? { 'content-type': next.contentType } : {}), ...next.headers },
      });
    }
    const contentType = next.status >= 400 ? 'application/problem+json' : 'application/json';
    return new Response(next.body === undefined ? null : JSON.stringify(next.body), {
      status: next.status,
      headers: { 'content-type': contentType, ...next.headers },
    });
  };
  const client = new PaymentsClient({
    baseUrl: 'http://payments.test',
    apiKey: 'sk_mer_test.secret',
    fetch,
    clock,
    random: seededRandom(1),
    onRetry: (event) => retries.push(event.error),
    ...options,
  });
  return { client, sent, clock, retries };
}

const chargeRequest = { amount: 500, currency: 'usd', source: 'acct_1' };

describe('PaymentsClient retries', () => {
  it('retries 503 and 429 with the same key and body, waiting at least Retry-After, and reads the recorded result', async () => {
    const { client, sent, clock } = setUp([
      problem(503, 'unavailable', { 'retry-after': '1' }),
      problem(429, 'rate_limited', { 'retry-after': '2' }),
      {
        status: 201,
        body: charge,
        headers: { 'idempotent-replayed': 'true', 'idempotency-expires': 'Tue, 24 Nov 2026 14:00:00 GMT', 'x-request-id': 'req-3' },
      },
    ]);

    const result = await client.createCharge(chargeRequest);

    expect(result.data).toEqual(charge);
    expect(result).toMatchObject({ status: 201, attempts: 3, replayed: true, requestId: 'req-3' });
    expect(result.expiresAt).toEqual(new Date('2026-11-24T14:00:00Z'));
    expect(result.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.map((request) => request.headers.get('idempotency-key'))).toEqual(Array(3).fill(result.idempotencyKey));
    expect(new Set(sent.map((request) => request.body)).size).toBe(1);
    expect(JSON.parse(sent[0]!.body)).toEqual(chargeRequest);
    expect(sent[0]).toMatchObject({ method: 'POST', url: 'http://payments.test/v1/charges' });
    expect(sent[0]!.headers.get('authorization')).toBe('Bearer sk_mer_test.secret');
    expect(clock.sleeps[0]).toBeGreaterThanOrEqual(1_000);
    expect(clock.sleeps[1]).toBeGreaterThanOrEqual(2_000);
  });

  it('sends a traceparent on every attempt: one trace per call, kept across its retries, a new span per attempt', async () => {
    const { client, sent } = setUp([problem(503, 'unavailable', { 'retry-after': '1' }), created, created]);

    const first = await client.createCharge(chargeRequest);
    const second = await client.createCharge(chargeRequest);

    const parents = sent.map((request) => /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(request.headers.get('traceparent') ?? ''));
    expect(parents.every(Boolean)).toBe(true);
    expect(parents.map((match) => match![1])).toEqual([first.traceId, first.traceId, second.traceId]);
    expect(first.traceId).not.toBe(second.traceId);
    expect(new Set(parents.map((match) => match![2])).size).toBe(3);
  });

  it("sends the caller's traceparent as is, and refuses a malformed one before sending", async () => {
    const { client, sent } = setUp([problem(503, 'unavailable', { 'retry-after': '1' }), created]);
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

    const result = await client.createCharge(chargeRequest, { traceparent });

    expect(result.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(sent.map((request) => request.headers.get('traceparent'))).toEqual([traceparent, traceparent]);
    await expect(client.getBalance({ traceparent: '00-not-a-trace-01' })).rejects.toThrow(TypeError);
    expect(sent).toHaveLength(2);
  });

  it('reads Retry-After as an HTTP-date too', async () => {
    const { client, clock } = setUp([problem(503, 'unavailable', { 'retry-after': 'Mon, 23 Nov 2026 14:00:30 GMT' }), created]);
    await client.createCharge(chargeRequest);
    expect(clock.sleeps).toEqual([30_000]);
  });

  it('keeps a key given by the caller for every attempt', async () => {
    const { client, sent } = setUp(['network error', created]);
    const result = await client.createCharge(chargeRequest, { idempotencyKey: 'checkout-7f3a-pay' });
    expect(result.idempotencyKey).toBe('checkout-7f3a-pay');
    expect(sent.map((request) => request.headers.get('idempotency-key'))).toEqual(['checkout-7f3a-pay', 'checkout-7f3a-pay']);
  });

  it('mints a new key for each new operation', async () => {
    const { client } = setUp([created, created]);
    const first = await client.createCharge(chargeRequest);
    const second = await client.createCharge(chargeRequest);
    expect(first.replayed).toBe(false);
    expect(second.idempotencyKey).not.toBe(first.idempotencyKey);
  });

  it('retries network errors, attempts that time out (even when fetch ignores its signal) and 409 in progress', async () => {
    const { client, retries } = setUp(
      ['network error', 'no answer', 'deaf', problem(409, 'idempotency_request_in_progress', { 'retry-after': '1' }), created],
      { timeoutMs: 20 },
    );
    const result = await client.createCharge(chargeRequest);
    expect(result.attempts).toBe(5);
    expect(retries.map((error) => error.constructor)).toEqual([NetworkError, TimeoutError, TimeoutError, ProblemError]);
    expect(retries.every((error) => error.idempotencyKey === result.idempotencyKey)).toBe(true);
  });

  it.each([
    [400, 'validation_failed'],
    [401, 'unauthenticated'],
    [402, 'insufficient_funds'],
    [404, 'not_found'],
    [409, 'invalid_state'],
    [422, 'currency_mismatch'],
  ])('never retries %i %s: a ProblemError with its code', async (status, code) => {
    const { client, sent } = setUp([problem(status, code), created]);
    const error = await client.createCharge(chargeRequest).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProblemError);
    expect(error).toMatchObject({ status, code, detail: `detail of ${code}`, attempts: 1 });
    expect(sent).toHaveLength(1);
  });

  it('422 idempotency_key_reused is its own error, never retried, saying that a new key would be a new payment', async () => {
    const { client, sent } = setUp([problem(422, 'idempotency_key_reused'), created]);
    const error = await client.createCharge(chargeRequest, { idempotencyKey: 'order-1' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IdempotencyKeyReusedError);
    expect(error).toBeInstanceOf(ProblemError);
    expect(error).toMatchObject({ status: 422, code: 'idempotency_key_reused', idempotencyKey: 'order-1' });
    expect((error as Error).message).toMatch(/a new key would mean a new payment/);
    expect(sent).toHaveLength(1);
  });

  it('says when a business error is the recorded answer of the key', async () => {
    const { client } = setUp([
      problem(402, 'insufficient_funds', { 'idempotent-replayed': 'true', 'idempotency-expires': 'Tue, 24 Nov 2026 14:00:00 GMT' }),
    ]);
    const error = await client.createCharge(chargeRequest).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'insufficient_funds', replayed: true, expiresAt: new Date('2026-11-24T14:00:00Z') });
  });

  it('keeps validation details', async () => {
    const invalid = problem(400, 'validation_failed') as { status: number; body: Record<string, unknown> };
    invalid.body.errors = [{ field: 'amount', message: 'amount must not be less than 1' }];
    const { client } = setUp([invalid]);
    const error = await client.createCharge({ ...chargeRequest, amount: 0 }).catch((caught: unknown) => caught);
    expect((error as ProblemError).errors).toEqual([{ field: 'amount', message: 'amount must not be less than 1' }]);
  });

  it('gives up after maxAttempts: RetriesExhaustedError with the key to retry with and the last answer', async () => {
    const { client, sent } = setUp([problem(503, 'unavailable'), problem(503, 'unavailable'), problem(503, 'unavailable'), created], {
      retry: { maxAttempts: 3 },
    });
    const error = await client.createCharge(chargeRequest).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    const exhausted = error as RetriesExhaustedError;
    expect(exhausted.attempts).toBe(3);
    expect(exhausted.idempotencyKey).toBe(sent[0]!.headers.get('idempotency-key'));
    expect(exhausted.lastError).toMatchObject({ status: 503, code: 'unavailable' });
    expect(exhausted).toBeInstanceOf(OutcomeUnknownError);
    expect(exhausted.message).toMatch(/The outcome is unknown.*Ask again with the same idempotency key/);
    expect(sent).toHaveLength(3);
  });

  it('gives up at once when Retry-After asks for a wait past the time budget', async () => {
    const { client, clock } = setUp([problem(429, 'rate_limited', { 'retry-after': '120' }), created], {
      retry: { totalTimeoutMs: 30_000 },
    });
    const error = await client.createCharge(chargeRequest).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect(error).toMatchObject({ attempts: 1, lastError: { status: 429, retryAfterMs: 120_000 } });
    expect(clock.sleeps).toEqual([]);
  });

  it('stops at the budget: the waits never add up past totalTimeoutMs', async () => {
    const script = Array.from({ length: 50 }, () => problem(503, 'unavailable', { 'retry-after': '1' }));
    const { client, clock } = setUp(script, {
      retry: { maxAttempts: 50, totalTimeoutMs: 10_000, maxDelayMs: 2_000 },
      circuitBreaker: false,
    });
    await expect(client.createCharge(chargeRequest)).rejects.toBeInstanceOf(RetriesExhaustedError);
    expect(clock.sleeps.reduce((sum, ms) => sum + ms, 0)).toBeLessThan(10_000);
    expect(clock.sleeps.length).toBeGreaterThan(3);
  });

  it("stops when the caller's signal aborts a wait: RequestAbortedError with the key, no further attempt", async () => {
    const controller = new AbortController();
    const { client, sent } = setUp([problem(503, 'unavailable'), created], {
      onRetry: () => controller.abort(new Error('customer left')),
    });
    const error = await client.createCharge(chargeRequest, { signal: controller.signal }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RequestAbortedError);
    expect(error).toMatchObject({ name: 'AbortError', attempts: 1, idempotencyKey: sent[0]!.headers.get('idempotency-key') });
    expect((error as Error).cause).toEqual(new Error('customer left'));
    expect(sent).toHaveLength(1);
  });

  it("stops when the caller's signal aborts an attempt under way", async () => {
    const controller = new AbortController();
    const { client, sent } = setUp(['no answer', created], { timeoutMs: 60_000 });
    const call = client.createCharge(chargeRequest, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    await expect(call).rejects.toBeInstanceOf(RequestAbortedError);
    expect(sent).toHaveLength(1);
  });

  it('sends nothing with a signal already aborted', async () => {
    const { client, sent } = setUp([created]);
    await expect(client.createCharge(chargeRequest, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(RequestAbortedError);
    expect(sent).toHaveLength(0);
  });
});

describe('PaymentsClient requests', () => {
  it('reads without an Idempotency-Key and retries them the same way', async () => {
    const { client, sent } = setUp([problem(503, 'unavailable'), { status: 200, body: charge }]);
    const result = await client.getCharge('ch_1');
    expect(result).toMatchObject({ data: charge, attempts: 2 });
    expect(sent.map((request) => [request.method, request.url, request.headers.get('idempotency-key')])).toEqual([
      ['GET', 'http://payments.test/v1/charges/ch_1', null],
      ['GET', 'http://payments.test/v1/charges/ch_1', null],
    ]);
  });

  it('cancels with no body at all, and captures with an empty one', async () => {
    const { client, sent } = setUp([
      { status: 200, body: { ...charge, status: 'canceled' } },
      { status: 200, body: charge },
    ]);
    await client.cancelCharge('ch_1');
    await client.captureCharge('ch_2');
    expect(sent[0]).toMatchObject({ url: 'http://payments.test/v1/charges/ch_1/cancel', body: '' });
    expect(sent[0]!.headers.get('content-type')).toBeNull();
    expect(sent[1]).toMatchObject({ url: 'http://payments.test/v1/charges/ch_2/capture', body: '{}' });
  });

  it('escapes ids in paths', async () => {
    const { client, sent } = setUp([{ status: 200, body: charge }]);
    await client.getCharge('ch_1/../../balance');
    expect(sent[0]!.url).toBe('http://payments.test/v1/charges/ch_1%2F..%2F..%2Fbalance');
  });

  it('iterates a list page by page with starting_after, fetching each page when reached', async () => {
    const page = (ids: string[], hasMore: boolean) => ({
      status: 200,
      body: { object: 'list', data: ids.map((id) => ({ ...charge, id })), has_more: hasMore },
    });
    const { client, sent } = setUp([page(['ch_5', 'ch_4'], true), page(['ch_3', 'ch_2'], true), page(['ch_1'], false)]);

    const list = client.listCharges({ source: 'acct_1', limit: 2 });
    expect(sent).toHaveLength(0);
    const ids: string[] = [];
    for await (const item of list) ids.push(item.id);

    expect(ids).toEqual(['ch_5', 'ch_4', 'ch_3', 'ch_2', 'ch_1']);
    expect(sent.map((request) => new URL(request.url).search)).toEqual([
      '?limit=2&source=acct_1',
      '?limit=2&source=acct_1&starting_after=ch_4',
      '?limit=2&source=acct_1&starting_after=ch_2',
    ]);
  });

  it('refuses a malformed base URL at once', () => {
    expect(() => new PaymentsClient({ baseUrl: 'payments.example.com', apiKey: 'sk' })).toThrow('Invalid URL');
  });
});

const NGINX_502 = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx/1.27.4</center>
</body>
</html>
`;

describe('only the service decides: every other answer is undecided and retried with the same key', () => {
  it.each<[string, Scripted]>([
    ["nginx's 502 page", { status: 502, raw: NGINX_502, contentType: 'text/html' }],
    ['a 504 with a JSON message', { status: 504, raw: '{"message": "Endpoint request timed out"}', contentType: 'application/json' }],
    ['an empty 500', { status: 500, raw: '' }],
    ['500 internal_error', problem(500, 'internal_error')],
    ['a connection reset', 'reset'],
    ['a 2xx whose body does not parse', { status: 201, raw: '<html>OK</html>', contentType: 'text/html' }],
    ["a 2xx that is not one of the service's objects", { status: 200, raw: '{"message": "ok"}', contentType: 'application/json' }],
    ['a 2xx with an empty body', { status: 200, raw: '', contentType: 'application/json' }],
    ["a decided code under another status (a gateway's copy)", { status: 502, body: problem(402, 'insufficient_funds') }],
    [
      'a 402 problem that is not problem+json',
      { status: 402, raw: JSON.stringify((problem(402, 'insufficient_funds') as { body: unknown }).body), contentType: 'application/json' },
    ],
  ])('%s: retried with the same key and body, then the charge', async (_, answer) => {
    const { client, sent, retries } = setUp([answer, created]);
    const result = await client.createCharge(chargeRequest);
    expect(result).toMatchObject({ status: 201, attempts: 2, data: charge });
    expect(new Set(sent.map((request) => request.headers.get('idempotency-key'))).size).toBe(1);
    expect(new Set(sent.map((request) => request.body)).size).toBe(1);
    expect(retries).toHaveLength(1);
  });

  it('a gateway answer is an UnexpectedAnswerError that says so; when retries run out the outcome is unknown and the key is given', async () => {
    const { client, sent, retries } = setUp(
      [
        { status: 502, raw: NGINX_502, contentType: 'text/html' },
        { status: 504, raw: '{"message": "Endpoint request timed out"}', contentType: 'application/json', headers: { 'retry-after': '2' } },
        'reset',
      ],
      { retry: { maxAttempts: 3 } },
    );
    const error = await client.createCharge(chargeRequest).catch((caught: unknown) => caught);
    expect(retries[0]).toBeInstanceOf(UnexpectedAnswerError);
    expect(retries[0]).toMatchObject({ status: 502, contentType: 'text/html', bodyExcerpt: expect.stringContaining('502 Bad Gateway') });
    expect(retries[1]).toMatchObject({ status: 504, retryAfterMs: 2_000 });
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect(error).not.toBeInstanceOf(ProblemError);
    const unknown = error as OutcomeUnknownError;
    expect(unknown).toMatchObject({ outcomeUnknown: true, attempts: 3, idempotencyKey: sent[0]!.headers.get('idempotency-key') });
    expect(unknown.lastError).toBeInstanceOf(NetworkError);
    expect(unknown.message).toContain(unknown.idempotencyKey);
  });
});

describe('a card charge the acquirer has not decided: 202 pending is not final', () => {
  const cardRequest = { amount: 500, currency: 'usd', payment_method: 'pm_test_ok' };
  const pendingCharge = {
    ...charge,
    source: null,
    payment_method: 'pm_test_ok',
    decline_code: null,
    status: 'pending',
    captured: false,
    amount_captured: 0,
  };
  const pending = (retryAfter = '1'): Scripted => ({
    status: 202,
    body: pendingCharge,
    headers: { 'retry-after': retryAfter, location: '/v1/charges/ch_1' },
  });
  const succeeded: Scripted = { status: 201, body: { ...pendingCharge, status: 'succeeded', captured: true, amount_captured: 500 } };

  it('repeats the POST with the same key and bytes after each Retry-After until the charge is decided', async () => {
    const { client, sent, clock, retries } = setUp([pending('1'), pending('2'), succeeded], { retryBudget: { capacity: 5 } });

    const result = await client.createCharge(cardRequest, { idempotencyKey: 'order-9-pay' });

    expect(result).toMatchObject({ status: 201, attempts: 3, idempotencyKey: 'order-9-pay' });
    expect(result.data.status).toBe('succeeded');
    expect(sent.map((request) => request.headers.get('idempotency-key'))).toEqual(Array(3).fill('order-9-pay'));
    expect(new Set(sent.map((request) => request.body)).size).toBe(1);
    expect(clock.sleeps).toEqual([1_000, 2_000]);
    // The service answered each time: no retry was counted, no token taken.
    expect(retries).toEqual([]);
    expect(client.retryState).toEqual({ tokens: 5, circuit: 'closed' });
  });

  it('a decline after a 202 is the decided ProblemError card_declined', async () => {
    const declined = problem(402, 'card_declined') as { status: number; body: Record<string, unknown> };
    declined.body.decline_code = 'generic_decline';
    const { client, sent } = setUp([pending(), declined]);
    const error = await client.createCharge(cardRequest).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProblemError);
    expect(error).toMatchObject({ status: 402, code: 'card_declined', declineCode: 'generic_decline' });
    expect(sent).toHaveLength(2);
  });

  it('still pending when pendingWaitMs is over: ChargePendingError, an OutcomeUnknownError with the pending charge and the key', async () => {
    const { client, sent, clock } = setUp([pending(), pending(), pending()]);
    const error = await client.createCharge(cardRequest, { pendingWaitMs: 2_500 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ChargePendingError);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect(error).toMatchObject({ charge: pendingCharge, retryAfterMs: 1_000, attempts: 3 });
    expect((error as ChargePendingError).idempotencyKey).toBe(sent[0]!.headers.get('idempotency-key'));
    expect((error as Error).message).toMatch(/ch_1 is still pending/);
    expect(clock.sleeps).toEqual([1_000, 1_000]);
  });

  it('pendingWaitMs 0: the first 202 is thrown at once, for a caller that polls by itself', async () => {
    const { client, sent, clock } = setUp([pending('3'), succeeded]);
    const error = await client.createCharge(cardRequest, { pendingWaitMs: 0 }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ charge: { id: 'ch_1', status: 'pending' }, retryAfterMs: 3_000, attempts: 1 });
    expect(sent).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('undecided answers between the 202s are retried as always, within each repeat', async () => {
    const { client, retries } = setUp([pending(), problem(409, 'idempotency_request_in_progress', { 'retry-after': '1' }), succeeded]);
    const result = await client.createCharge(cardRequest);
    expect(result).toMatchObject({ status: 201, attempts: 3 });
    expect(retries.map((error) => (error as ProblemError).code)).toEqual(['idempotency_request_in_progress']);
  });

  it("the caller's signal stops the wait between repeats", async () => {
    const controller = new AbortController();
    const { client, sent } = setUp([pending(), succeeded], {
      clock: {
        now: () => 0,
        sleep: () => {
          controller.abort(new Error('the shopper left'));
          return Promise.reject(new Error('the shopper left'));
        },
      },
    });
    const error = await client.createCharge(cardRequest, { signal: controller.signal }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RequestAbortedError);
    expect(sent).toHaveLength(1);
  });

  it('refuses a pendingWaitMs that makes no sense before sending', async () => {
    const { client, sent } = setUp([succeeded]);
    await expect(client.createCharge(cardRequest, { pendingWaitMs: -1 })).rejects.toThrow(RangeError);
    await expect(client.createCharge(cardRequest, { pendingWaitMs: undefined })).rejects.toThrow(TypeError);
    expect(sent).toHaveLength(0);
  });
});

describe('retry budget and circuit breaker', () => {
  it('a retry costs 5 tokens (10 after a timeout), a success gives back what its retry took or 1; an empty bucket ends the call at once', async () => {
    const { client, sent, retries } = setUp(
      [problem(503, 'unavailable'), created, 'no answer', created, ...Array<Scripted>(3).fill(problem(503, 'unavailable'))],
      { retryBudget: { capacity: 12 }, circuitBreaker: false, timeoutMs: 20 },
    );
    expect(client.retryState.tokens).toBe(12);
    await client.createCharge(chargeRequest); // 503, then 201: takes 5, gives back 5
    expect(client.retryState.tokens).toBe(12);
    await client.createCharge(chargeRequest); // a timeout, then 201: takes 10, gives back 10
    expect(client.retryState.tokens).toBe(12);
    const error = await client.createCharge(chargeRequest).catch((caught: unknown) => caught); // 503 (−5), 503 (−5), 503: 2 < 5 left, no retry
    expect(error).toBeInstanceOf(RetryBudgetExhaustedError);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect((error as Error).message).toMatch(/retry budget is spent/);
    expect(client.retryState.tokens).toBe(2);
    expect(sent).toHaveLength(7);
    expect(retries).toHaveLength(4);
  });

  it('a first attempt that succeeds refunds 1 token, never past the capacity', async () => {
    const { client } = setUp([problem(503, 'unavailable'), problem(503, 'unavailable'), problem(503, 'unavailable'), created, created], {
      retry: { maxAttempts: 3 },
      retryBudget: { capacity: 100 },
      circuitBreaker: false,
    });
    await expect(client.createCharge(chargeRequest)).rejects.toBeInstanceOf(RetriesExhaustedError); // −10
    expect(client.retryState.tokens).toBe(90);
    await client.createCharge(chargeRequest); // 201 (+1)
    await client.createCharge(chargeRequest); // 201 (+1)
    expect(client.retryState.tokens).toBe(92);
  });

  it('opens after N undecided answers in a row, fails fast without sending during the cool-down, then lets one probe through', async () => {
    const { client, sent, clock } = setUp(
      [problem(503, 'unavailable'), problem(503, 'unavailable'), problem(503, 'unavailable'), 'network error', created, created],
      { retry: { maxAttempts: 2 }, circuitBreaker: { failureThreshold: 3, coolDownMs: 5_000 } },
    );
    await expect(client.createCharge(chargeRequest)).rejects.toBeInstanceOf(RetriesExhaustedError); // 2 undecided
    const opened = await client.createCharge(chargeRequest).catch((caught: unknown) => caught); // the 3rd opens it
    expect(opened).toBeInstanceOf(CircuitOpenError);
    expect(client.retryState.circuit).toBe('open');
    expect(sent).toHaveLength(3);

    const fast = await client.createCharge(chargeRequest).catch((caught: unknown) => caught);
    expect(fast).toBeInstanceOf(CircuitOpenError);
    expect(fast).toMatchObject({ attempts: 0 });
    expect((fast as Error).message).toMatch(/^Nothing was sent/);
    expect(sent).toHaveLength(3);

    await clock.sleep(5_000);
    // The probe fails: open again for another cool-down, nothing more sent.
    await expect(client.createCharge(chargeRequest, { retry: { maxAttempts: 1 } })).rejects.toBeInstanceOf(RetriesExhaustedError);
    expect(sent).toHaveLength(4);
    await expect(client.createCharge(chargeRequest)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(sent).toHaveLength(4);

    await clock.sleep(5_000);
    // The probe succeeds: closed.
    await client.createCharge(chargeRequest);
    expect(client.retryState.circuit).toBe('closed');
    await client.createCharge(chargeRequest);
    expect(sent).toHaveLength(6);
  });

  it('a decided answer resets the count: only undecided answers in a row open the circuit', async () => {
    const script: Scripted[] = [];
    for (let i = 0; i < 5; i++) script.push(problem(503, 'unavailable'), problem(402, 'insufficient_funds'));
    const { client } = setUp(script, { retry: { maxAttempts: 2 }, circuitBreaker: { failureThreshold: 2, coolDownMs: 5_000 } });
    for (let i = 0; i < 5; i++) await expect(client.createCharge(chargeRequest)).rejects.toMatchObject({ code: 'insufficient_funds' });
    expect(client.retryState.circuit).toBe('closed');
  });

  it('per call: a retry policy of its own; per client: no budget or no breaker at all', async () => {
    const { client, sent } = setUp([problem(503, 'unavailable'), created], { retryBudget: false, circuitBreaker: false });
    await expect(client.createCharge(chargeRequest, { retry: { maxAttempts: 1 } })).rejects.toBeInstanceOf(RetriesExhaustedError);
    expect(client.retryState).toEqual({ tokens: undefined, circuit: undefined });
    await client.createCharge(chargeRequest);
    expect(sent).toHaveLength(2);
  });
});

describe('nothing local is retried as if it were the network', () => {
  it.each<[string, () => Promise<unknown>, ErrorConstructor]>([
    ['a key with non-ASCII characters', () => clientFor().createCharge(chargeRequest, { idempotencyKey: 'clé-1' }), TypeError],
    ['a key with a newline', () => clientFor().createCharge(chargeRequest, { idempotencyKey: 'order-1\nX-Evil: 1' }), TypeError],
    ['an empty key', () => clientFor().createCharge(chargeRequest, { idempotencyKey: '' }), TypeError],
    ['an explicitly undefined key', () => clientFor().createCharge(chargeRequest, { idempotencyKey: undefined }), TypeError],
    ['a BigInt amount', () => clientFor().createCharge({ ...chargeRequest, amount: 10n as unknown as number }), TypeError],
    [
      'circular metadata',
      () => {
        const metadata: Record<string, unknown> = {};
        metadata.self = metadata;
        return clientFor().createCharge({ ...chargeRequest, metadata: metadata as Record<string, string> });
      },
      TypeError,
    ],
    ['baseDelayMs: undefined', () => clientFor({ retry: { baseDelayMs: undefined } }).getBalance(), TypeError],
    ['baseDelayMs: NaN', () => clientFor({ retry: { baseDelayMs: Number.NaN } }).getBalance(), RangeError],
    ['a negative maxDelayMs', () => clientFor({ retry: { maxDelayMs: -1 } }).getBalance(), RangeError],
    ['maxAttempts: 0', () => clientFor({ retry: { maxAttempts: 0 } }).getBalance(), RangeError],
    ['maxAttempts: 0 for one call', () => clientFor().getBalance({ retry: { maxAttempts: 0 } }), RangeError],
    ['timeoutMs: NaN for one call', () => clientFor().getBalance({ timeoutMs: Number.NaN }), RangeError],
    ['a retry budget of NaN', () => clientFor({ retryBudget: { retryCost: Number.NaN } }).getBalance(), RangeError],
    ['a requestId with a space', () => clientFor().getBalance({ requestId: 'my id' }), TypeError],
    ['a header the client sets itself', () => clientFor().getBalance({ headers: { Authorization: 'Bearer x' } }), TypeError],
    ['a header value with a newline', () => clientFor().getBalance({ headers: { 'X-Tenant': 'a\r\nb' } }), TypeError],
  ])('%s: refused at the call, nothing sent', async (_, call, kind) => {
    sentByClientFor.length = 0;
    await expect(Promise.resolve().then(call)).rejects.toThrow(kind);
    expect(sentByClientFor).toHaveLength(0);
  });

  it('the body is serialised once, before the first attempt: mutating it during a backoff sends nothing different', async () => {
    const body = { ...chargeRequest, metadata: { order: 'A' } };
    const { client, sent } = setUp([problem(503, 'unavailable'), problem(503, 'unavailable'), created], {
      onRetry: () => {
        body.amount += 100;
        body.metadata.order = 'B';
      },
    });
    await client.createCharge(body);
    expect(sent.map((request) => request.body)).toEqual(Array(3).fill(JSON.stringify({ ...chargeRequest, metadata: { order: 'A' } })));
  });

  it('an exception thrown by onRetry is contained: the call goes on', async () => {
    const { client, sent } = setUp([problem(503, 'unavailable'), created], {
      onRetry: () => {
        throw new Error('the logger is down');
      },
    });
    await expect(client.createCharge(chargeRequest)).resolves.toMatchObject({ attempts: 2 });
    expect(sent).toHaveLength(2);
  });
});

const sentByClientFor: Request[] = [];
function clientFor(options: Record<string, unknown> = {}): PaymentsClient {
  return new PaymentsClient({
    baseUrl: 'http://payments.test',
    apiKey: 'sk_mer_test.secret',
    fetch: (request) => {
      sentByClientFor.push(request);
      return Promise.resolve(new Response(JSON.stringify({ object: 'balance', available: [], pending: [] }), { status: 200 }));
    },
    ...options,
  });
}

describe('the whole API, with per-call options', () => {
  const account = {
    id: 'customer-42',
    object: 'account',
    currency: 'usd',
    name: 'Alice',
    metadata: {},
    balance: 0,
    held: 0,
    version: 2,
    created_at: '2026-11-23T14:00:00.000Z',
    updated_at: '2026-11-23T14:00:00.000Z',
  };

  it('upserts an account with If-Match (the ETag handed back), an Idempotency-Key, and If-None-Match: * to create only', async () => {
    const { client, sent } = setUp([
      { status: 200, body: account, headers: { etag: '"2"' } },
      { status: 200, body: { ...account, name: 'Alice B', version: 3 }, headers: { etag: '"3"' } },
      problem(412, 'precondition_failed'),
    ]);
    const read = await client.getAccount('customer-42');
    expect(read.etag).toBe('"2"');
    const updated = await client.upsertAccount('customer-42', { currency: 'usd', name: 'Alice B' }, { ifMatch: read.etag });
    expect(updated).toMatchObject({ etag: '"3"', data: { version: 3 } });
    await expect(client.upsertAccount('customer-42', { currency: 'usd' }, { ifNoneMatch: '*' })).rejects.toMatchObject({
      status: 412,
      code: 'precondition_failed',
    });
    expect(sent[1]).toMatchObject({ method: 'PUT', url: 'http://payments.test/v1/accounts/customer-42' });
    expect(sent[1]!.headers.get('if-match')).toBe('"2"');
    expect(sent[1]!.headers.get('idempotency-key')).toBe(updated.idempotencyKey);
    expect(sent[2]!.headers.get('if-none-match')).toBe('*');
  });

  it("lists accounts and an account's entries page by page", async () => {
    const entry = {
      id: 'ent_1',
      object: 'entry',
      account: 'acct_1',
      amount: 500,
      currency: 'usd',
      type: 'deposit',
      reference: 'dep_1',
      created_at: '2026-11-23T14:00:00.000Z',
    };
    const { client, sent } = setUp([
      { status: 200, body: { object: 'list', data: [account], has_more: true } },
      { status: 200, body: { object: 'list', data: [{ ...account, id: 'customer-41' }], has_more: false } },
      { status: 200, body: { object: 'list', data: [entry], has_more: false } },
    ]);
    expect((await client.listAccounts({ limit: 1 }).all()).map((item) => item.id)).toEqual(['customer-42', 'customer-41']);
    expect(await client.listAccountEntries('acct_1').all()).toEqual([entry]);
    expect(sent.map((request) => request.url)).toEqual([
      'http://payments.test/v1/accounts?limit=1',
      'http://payments.test/v1/accounts?limit=1&starting_after=customer-42',
      'http://payments.test/v1/accounts/acct_1/entries',
    ]);
  });

  it('sends per-call headers and X-Request-Id on every attempt, and a per-call timeout', async () => {
    const { client, sent } = setUp(['no answer', created], { timeoutMs: 60_000 });
    await client.createCharge(chargeRequest, { requestId: 'order-7:pay', headers: { 'X-Tenant': 'eu' }, timeoutMs: 20 });
    expect(sent.map((request) => [request.headers.get('x-request-id'), request.headers.get('x-tenant')])).toEqual([
      ['order-7:pay', 'eu'],
      ['order-7:pay', 'eu'],
    ]);
  });

  it('refuses to hold a secret key in a browser unless told to', () => {
    const scope = globalThis as { window?: unknown; document?: unknown };
    scope.window = globalThis;
    scope.document = {};
    try {
      expect(() => new PaymentsClient({ baseUrl: 'http://payments.test', apiKey: 'sk_mer_test.secret' })).toThrow(
        /dangerouslyAllowBrowser/,
      );
      expect(
        () => new PaymentsClient({ baseUrl: 'http://payments.test', apiKey: 'sk_mer_test.secret', dangerouslyAllowBrowser: true }),
      ).not.toThrow();
    } finally {
      delete scope.window;
      delete scope.document;
    }
    expect(() => new PaymentsClient({ baseUrl: 'http://payments.test', apiKey: 'sk_mer_test.secret' })).not.toThrow();
  });
});

describe('the whole API', () => {
  it('has a method for every operation of openapi.json, named for its operationId', () => {
    const document = JSON.parse(readFileSync(new URL('../../../openapi.json', import.meta.url), 'utf8')) as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    const operations = Object.values(document.paths).flatMap((item) => Object.values(item).map((operation) => operation.operationId));
    // Named for what a caller does rather than for the resource it creates.
    const renamed: Record<string, string> = { createDeposit: 'deposit' };
    const methods = new Set([
      ...Object.getOwnPropertyNames(PaymentsClient.prototype),
      ...Object.getOwnPropertyNames(PaymentsAdminClient.prototype),
    ]);
    expect(operations.filter((operationId) => !methods.has(renamed[operationId] ?? operationId))).toEqual([]);
  });
});
