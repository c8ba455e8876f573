import { randomUUID } from 'node:crypto';
import { AcquirerProcess } from '../testing/acquirer-process.js';

// The simulated acquirer (acquirer/) as the real process the service will call: its API, its
// duplicate safety by its own Idempotency-Key, each forced fault as a client sees it, faults
// drawn from the seed alike in two runs, and captures that survive a SIGKILL.

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** POSTs a payment; a connection that ends without an answer rejects (see `failureCode`). */
async function pay(acquirer: AcquirerProcess, body: Record<string, unknown>, key?: string, signal?: AbortSignal): Promise<Answer> {
  const response = await fetch(`${acquirer.url}/v1/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }) },
    body: JSON.stringify(body),
    signal,
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

async function get(acquirer: AcquirerProcess, path: string): Promise<any> {
  const response = await fetch(acquirer.url + path);
  expect(response.status).toBe(200);
  return response.json();
}

/** How a request without an answer ended: ECONNRESET (reset), UND_ERR_SOCKET (closed), ... */
function failureCode(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code ?? (error as Error).name;
}

async function capturesOf(acquirer: AcquirerProcess, reference: string): Promise<any[]> {
  const { data } = await get(acquirer, '/_captures');
  return (data as any[]).filter((capture) => capture.reference === reference);
}

const payment = (payment_method: string, extra: Record<string, unknown> = {}) => ({
  amount: 1250,
  currency: 'eur',
  payment_method,
  reference: `ref_${randomUUID()}`,
  ...extra,
});

describe('the simulated acquirer', () => {
  let acquirer: AcquirerProcess;
  beforeAll(async () => (acquirer = await AcquirerProcess.start()));
  afterAll(() => acquirer.close());

  it('captures a payment: 201 with its id, found by id, by reference and among the captures', async () => {
    const body = payment('pm_card_visa');
    const answer = await pay(acquirer, body, randomUUID());
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({
      id: expect.stringMatching(/^pay_/),
      status: 'captured',
      amount: 1250,
      currency: 'eur',
      reference: body.reference,
    });
    expect(await get(acquirer, `/v1/payments/${answer.body.id}`)).toEqual(answer.body);
    expect(await get(acquirer, `/v1/payments?reference=${body.reference}`)).toEqual({ data: [answer.body] });
    expect(await capturesOf(acquirer, body.reference)).toEqual([answer.body]);
  });

  it('authorizes without capturing when capture is false', async () => {
    const body = payment('pm_test_ok', { capture: false });
    const answer = await pay(acquirer, body, randomUUID());
    expect(answer.status).toBe(201);
    expect(answer.body.status).toBe('authorized');
    expect(await capturesOf(acquirer, body.reference)).toEqual([]);
    expect((await get(acquirer, `/v1/payments?reference=${body.reference}`)).data).toEqual([answer.body]);
  });

  it('answers a repeat with the same key as the first time, and never captures twice', async () => {
    const body = payment('pm_card_visa');
    const key = randomUUID();
    const first = await pay(acquirer, body, key);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    for (let repeat = 0; repeat < 5; repeat++) {
      const again = await pay(acquirer, body, key);
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
    }
    expect(await capturesOf(acquirer, body.reference)).toHaveLength(1);
  });

  it('refuses a key reused with another body (422), and keeps what the key made', async () => {
    const body = payment('pm_card_visa');
    const key = randomUUID();
    const first = await pay(acquirer, body, key);
    const reused = await pay(acquirer, { ...body, amount: 999 }, key);
    expect(reused.status).toBe(422);
    expect(reused.body.error).toBe('idempotency_key_reused');
    expect((await pay(acquirer, body, key)).body).toEqual(first.body);
    expect(await capturesOf(acquirer, body.reference)).toHaveLength(1);
  });

  it('answers 409 to requests whose key is in flight; one capture, which later repeats replay', async () => {
    const body = payment('pm_test_slow_1500');
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 5 }, () => pay(acquirer, body, key)));
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409]);
    expect(answers.find((answer) => answer.status === 409)?.body.error).toBe('idempotency_key_in_use');
    const created = answers.find((answer) => answer.status === 201)!;
    expect((await pay(acquirer, body, key)).body).toEqual(created.body);
    expect(await capturesOf(acquirer, body.reference)).toEqual([created.body]);
  });

  it('treats every request without a key as new: a repeat is a second capture', async () => {
    const body = payment('pm_card_visa');
    const [first, second] = [await pay(acquirer, body), await pay(acquirer, body)];
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(first.body.id).not.toBe(second.body.id);
    expect(await capturesOf(acquirer, body.reference)).toHaveLength(2);
  });

  it('declines pm_test_decline_<code> with 402 and its decline_code, cached under the key, with no capture', async () => {
    const body = payment('pm_test_decline_insufficient_funds');
    const key = randomUUID();
    const declined = await pay(acquirer, body, key);
    expect(declined.status).toBe(402);
    expect(declined.body).toMatchObject({ error: 'card_declined', decline_code: 'insufficient_funds' });
    const again = await pay(acquirer, body, key);
    expect([again.status, again.headers.get('idempotent-replayed')]).toEqual([402, 'true']);
    expect(again.body).toEqual(declined.body);
    expect((await get(acquirer, `/v1/payments?reference=${body.reference}`)).data).toEqual([
      expect.objectContaining({ id: declined.body.payment, status: 'declined', decline_code: 'insufficient_funds' }),
    ]);
    expect(await capturesOf(acquirer, body.reference)).toEqual([]);
  });

  it('never answers pm_test_timeout and has no effect; with _once the retry captures', async () => {
    const body = payment('pm_test_timeout');
    const error = await pay(acquirer, body, randomUUID(), AbortSignal.timeout(500)).catch((failure: unknown) => failure);
    expect(failureCode(error)).toBe('TimeoutError');
    expect((await get(acquirer, `/v1/payments?reference=${body.reference}`)).data).toEqual([]);

    const once = payment('pm_test_timeout_once');
    const key = randomUUID();
    const first = await pay(acquirer, once, key, AbortSignal.timeout(500)).catch((failure: unknown) => failure);
    expect(failureCode(first)).toBe('TimeoutError');
    expect(await capturesOf(acquirer, once.reference)).toEqual([]);
    const retry = await pay(acquirer, once, key);
    expect(retry.status).toBe(201);
    expect(await capturesOf(acquirer, once.reference)).toEqual([retry.body]);
  });

  it('answers pm_test_transient_503 with 503 and Transient-Error: true, nothing done or cached', async () => {
    const body = payment('pm_test_transient_503_once');
    const key = randomUUID();
    const unavailable = await pay(acquirer, body, key);
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('transient-error')).toBe('true');
    expect((await get(acquirer, `/v1/payments?reference=${body.reference}`)).data).toEqual([]);
    const retry = await pay(acquirer, body, key);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
  });

  it.each([
    ['pm_test_500', 0],
    ['pm_test_500_captured', 1],
  ])('caches the 500 of %s under the key; only the lookup tells whether it captured', async (card, captures) => {
    const body = payment(card);
    const key = randomUUID();
    const failed = await pay(acquirer, body, key);
    expect(failed.status).toBe(500);
    expect(failed.body.error).toBe('internal_error');
    for (let repeat = 0; repeat < 3; repeat++) {
      const again = await pay(acquirer, body, key);
      expect([again.status, again.headers.get('idempotent-replayed')]).toEqual([500, 'true']);
      expect(again.body).toEqual(failed.body);
    }
    const found = (await get(acquirer, `/v1/payments?reference=${body.reference}`)).data;
    expect(found).toHaveLength(captures);
    expect(await capturesOf(acquirer, body.reference)).toEqual(found);
  });

  it('a 500 cached with _once stays a 500 for its key', async () => {
    const body = payment('pm_test_500_once');
    const key = randomUUID();
    expect((await pay(acquirer, body, key)).status).toBe(500);
    expect((await pay(acquirer, body, key)).status).toBe(500);
  });

  it('resets the connection on pm_test_lost_answer after capturing; the captures and the lookup show it', async () => {
    const body = payment('pm_test_lost_answer');
    const key = randomUUID();
    const error = await pay(acquirer, body, key).catch((failure: unknown) => failure);
    expect(failureCode(error)).toBe('ECONNRESET');
    const [capture] = await capturesOf(acquirer, body.reference);
    expect(capture).toMatchObject({ status: 'captured', amount: 1250, idempotency_key: key });
    expect((await get(acquirer, `/v1/payments?reference=${body.reference}`)).data).toEqual([capture]);
    // Every answer under this card is lost, a replay too; nothing is captured twice.
    expect(failureCode(await pay(acquirer, body, key).catch((failure: unknown) => failure))).toBe('ECONNRESET');
    expect(await capturesOf(acquirer, body.reference)).toEqual([capture]);

    const once = payment('pm_test_lost_answer_once');
    const onceKey = randomUUID();
    expect(failureCode(await pay(acquirer, once, onceKey).catch((failure: unknown) => failure))).toBe('ECONNRESET');
    const retry = await pay(acquirer, once, onceKey);
    expect([retry.status, retry.headers.get('idempotent-replayed')]).toEqual([201, 'true']);
    expect(await capturesOf(acquirer, once.reference)).toEqual([retry.body]);
  });

  it.each([
    [{ amount: 0, currency: 'eur', payment_method: 'pm_card' }, 'amount'],
    [{ amount: 5, currency: 'eur', payment_method: 'pm_card', tip: 1 }, 'tip'],
    [{ amount: 5, currency: 'eur', payment_method: 'pm_test_nonsense' }, 'unknown test card'],
  ])('refuses a bad request with 400 and stores nothing under its key: %j', async (body, message) => {
    const key = randomUUID();
    const refused = await pay(acquirer, body, key);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'invalid_request', message: expect.stringContaining(message) });
    expect((await pay(acquirer, payment('pm_test_ok'), key)).status).toBe(201);
  });

  it('refuses a body that is not JSON, a key that is too long, a lookup without reference', async () => {
    const notJson = await fetch(`${acquirer.url}/v1/payments`, { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
    expect((await pay(acquirer, payment('pm_test_ok'), 'k'.repeat(256))).status).toBe(400);
    expect((await fetch(`${acquirer.url}/v1/payments`)).status).toBe(400);
    expect((await fetch(`${acquirer.url}/v1/payments/pay_nothing`)).status).toBe(404);
  });
});

describe('the simulated acquirer, faults drawn from the seed', () => {
  const FAULTS = 'latency_ms=0-5,timeout=0.15,transient503=0.15,error500=0.15,lost_answer=0.15,decline=0.1,timeout_ms=100';

  /** Three attempts at each of 20 keys (keys in parallel): what each attempt saw, and what was captured under each key. */
  async function run(seed: number) {
    const acquirer = await AcquirerProcess.start({ faults: `seed=${seed},${FAULTS}` });
    try {
      const keys = Array.from({ length: 20 }, (_, index) => `key-${index}`);
      const seen = await Promise.all(
        keys.map(async (key, index) => {
          const body = { amount: 100 + index, currency: 'usd', payment_method: 'pm_card_visa', reference: key };
          const attempts: (number | string)[] = [];
          for (let attempt = 1; attempt <= 3; attempt++) {
            attempts.push(await pay(acquirer, body, key).then((answer) => answer.status, failureCode));
          }
          return attempts;
        }),
      );
      const captures = ((await get(acquirer, '/_captures')).data as any[])
        .map((capture) => `${capture.idempotency_key}:${capture.amount}`)
        .sort();
      return { seen, captures };
    } finally {
      await acquirer.close();
    }
  }

  it('draws the same faults for the same keys and attempts in two fresh runs, other faults under another seed', async () => {
    const first = await run(42);
    const second = await run(42);
    expect(second).toEqual(first);
    // Every kind of outcome occurred, so the comparison meant something.
    expect(new Set(first.seen.flat())).toEqual(new Set([201, 402, 500, 503, 'ECONNRESET', 'UND_ERR_SOCKET']));
    expect(first.captures.length).toBeGreaterThan(0);
    // A retry draws afresh: some key without a 201 at first got one later.
    expect(first.seen.some((attempts) => attempts[0] !== 201 && attempts.includes(201))).toBe(true);
    expect((await run(43)).seen).not.toEqual(first.seen);
  });

  it('refuses to start on ACQUIRER_FAULTS it cannot read, naming the variable', async () => {
    await expect(AcquirerProcess.start({ faults: 'timeout=2' })).rejects.toThrow('ACQUIRER_FAULTS: timeout must be a number from 0 to 1');
  });
});

describe('the simulated acquirer, restarted', () => {
  it('keeps every capture, every cached answer and every attempt count across a SIGKILL', async () => {
    const acquirer = await AcquirerProcess.start();
    try {
      const body = payment('pm_card_visa');
      const key = randomUUID();
      const created = await pay(acquirer, body, key);
      // Captured, answer lost, and the process killed straight after: the capture was on disk first.
      const lost = payment('pm_test_lost_answer');
      await pay(acquirer, lost, randomUUID()).catch(() => undefined);
      // Attempt 1 of a _once card; attempt 2 after the restart must be counted as the second.
      const flaky = payment('pm_test_transient_503_once');
      const flakyKey = randomUUID();
      expect((await pay(acquirer, flaky, flakyKey)).status).toBe(503);
      // Many at once share fsyncs; every one answered is on disk.
      const many = await Promise.all(Array.from({ length: 50 }, () => pay(acquirer, payment('pm_card_visa'), randomUUID())));
      expect(many.map((answer) => answer.status)).toEqual(Array(50).fill(201));
      const capturesBefore = (await get(acquirer, '/_captures')).data;
      expect(capturesBefore).toEqual(expect.arrayContaining(many.map((answer) => answer.body)));

      await acquirer.kill();
      await expect(fetch(`${acquirer.url}/health`)).rejects.toThrow(); // the acquirer is down
      await acquirer.restart();

      expect((await get(acquirer, '/_captures')).data).toEqual(capturesBefore);
      expect(await capturesOf(acquirer, lost.reference)).toHaveLength(1);
      const replayed = await pay(acquirer, body, key);
      expect([replayed.status, replayed.headers.get('idempotent-replayed')]).toEqual([201, 'true']);
      expect(replayed.body).toEqual(created.body);
      expect((await pay(acquirer, flaky, flakyKey)).status).toBe(201);
      expect(await capturesOf(acquirer, body.reference)).toHaveLength(1);

      // And a graceful stop and start keeps them too.
      await acquirer.stop();
      await acquirer.restart();
      expect(await capturesOf(acquirer, body.reference)).toEqual([created.body]);
      expect(acquirer.unexpectedExits).toEqual([]);
    } finally {
      await acquirer.close();
    }
  });
});

describe('the simulated acquirer, key retention', () => {
  it('forgets a key ACQUIRER_KEY_TTL_SECONDS after its first use: the same request is then a second capture', async () => {
    const acquirer = await AcquirerProcess.start({ env: { ACQUIRER_KEY_TTL_SECONDS: '1' } });
    try {
      const body = payment('pm_card_visa');
      const key = randomUUID();
      const first = await pay(acquirer, body, key);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const second = await pay(acquirer, body, key);
      expect([first.status, second.status, second.headers.get('idempotent-replayed')]).toEqual([201, 201, null]);
      expect(second.body.id).not.toBe(first.body.id);
      expect(await capturesOf(acquirer, body.reference)).toHaveLength(2);
    } finally {
      await acquirer.close();
    }
  });
});

describe('testing/acquirer-process.ts', () => {
  it('records an exit nobody asked for', async () => {
    const acquirer = await AcquirerProcess.start();
    try {
      process.kill(acquirer.pid!, 'SIGKILL');
      while (acquirer.running) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(acquirer.unexpectedExits).toEqual(['the acquirer exited by itself (exit code null, signal SIGKILL)']);
    } finally {
      await acquirer.close();
    }
  });
});
