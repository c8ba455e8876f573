import {
  IdempotencyKeyReusedError,
  NetworkError,
  PaymentsAdminClient,
  PaymentsClient,
  ProblemError,
  RequestAbortedError,
  TimeoutError,
  seededRandom,
  type CreateCharge,
  type PaymentsClientOptions,
  type UndecidedError,
} from '@payments/client';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { TcpProxy } from '../testing/tcp-proxy.js';
import { ResponseLosingProxy } from '../testing/response-losing-proxy.js';
import { ADMIN_TOKEN, TestApp } from './support/test-app.js';

// The TypeScript client (the built @payments/client workspace) against the real service and
// PostgreSQL, with faults put between them: lost responses, a database outage, rate limits and
// double submits. Whatever happens, one intended operation moves money once.

describe('the TypeScript client', () => {
  let app: TestApp;
  let admin: PaymentsAdminClient;
  let seed = 0;

  beforeAll(async () => {
    app = await TestApp.start();
    admin = new PaymentsAdminClient({ baseUrl: app.baseUrl, adminToken: ADMIN_TOKEN });
  });
  afterAll(() => app.close());

  /** A client with a seeded jitter and short waits, recording every retry. */
  function clientFor(apiKey: string, options: Partial<PaymentsClientOptions> = {}) {
    const retries: { delayMs: number; error: UndecidedError }[] = [];
    const client = new PaymentsClient({
      baseUrl: app.baseUrl,
      apiKey,
      random: seededRandom(++seed),
      retry: { baseDelayMs: 50, maxDelayMs: 1_000 },
      ...options,
      onRetry: (event) => {
        retries.push(event);
        options.onRetry?.(event);
      },
    });
    return { client, retries };
  }

  async function newApiKey(name: string): Promise<string> {
    const merchant = await admin.createMerchant({ name });
    return merchant.data.api_key!;
  }

  it('rotates a key with no failed request: roll with an overlap, deploy the new secret, let the old one expire', async () => {
    const apiKey = await newApiKey('rotation');
    const { client: manager } = clientFor(apiKey);
    const server = await manager.createApiKey({ name: 'checkout server', scopes: ['charges:write', 'charges:read', 'accounts:write'] });
    let deployed = clientFor(server.data.secret!).client;
    const source = await fundedAccount(manager, 100_000);
    const charges: Promise<unknown>[] = [];
    let charging = true;
    // A steady stream of charges from "the checkout server" throughout the rotation.
    const stream = (async () => {
      while (charging) {
        charges.push(deployed.createCharge({ amount: 1, currency: 'usd', source }));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const rolled = await manager.rollApiKey(server.data.id, { expires_in_seconds: 2 });
    expect(rolled.data).toMatchObject({ rolled_from: server.data.id, scopes: server.data.scopes });
    await new Promise((resolve) => setTimeout(resolve, 300));
    deployed = clientFor(rolled.data.secret!).client; // the deploy
    await new Promise((resolve) => setTimeout(resolve, 300));
    charging = false;
    await stream;
    const results = await Promise.allSettled(charges);
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    expect((await manager.getApiKey(server.data.id)).data.history.map((event) => event.action)).toEqual([
      'api_key.created',
      'api_key.rolled',
    ]);
    // Once the overlap is over the old secret is refused: a decided 401, not retried.
    const old = clientFor(server.data.secret!).client;
    let refusal: unknown;
    for (let i = 0; i < 40 && refusal === undefined; i++) {
      refusal = await old.getCharge('ch_none').then(
        () => undefined,
        (error: unknown) => (error instanceof ProblemError && error.status === 401 ? error : undefined),
      );
      if (refusal === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(refusal).toBeInstanceOf(ProblemError);
    // Revoked, and listed as such; the admin can revoke any merchant's key.
    expect((await manager.revokeApiKey(rolled.data.id)).data.status).toBe('revoked');
    const listed: string[] = [];
    for await (const key of manager.listApiKeys()) listed.push(`${key.name}:${key.status}`);
    expect(listed).toEqual(['checkout server:revoked', 'checkout server:expired', 'Secret key:active']);
    const spare = await manager.createApiKey({ name: 'spare' });
    const merchantId = spare.data.secret!.split('.')[0]!.slice('sk_'.length);
    expect((await admin.revokeMerchantApiKey(merchantId, spare.data.id)).data.status).toBe('revoked');
    expect((await admin.createMerchantApiKey(merchantId, { name: 'issued by the admin' })).data.secret).toMatch(/^sk_mer_/);
  });

  async function fundedAccount(client: PaymentsClient, amount: number): Promise<string> {
    const account = await client.createAccount({ currency: 'usd' });
    await client.deposit(account.data.id, { amount });
    return account.data.id;
  }

  async function balanceOf(client: PaymentsClient, accountId: string): Promise<number> {
    return (await client.getAccount(accountId)).data.balance;
  }

  async function chargeIdsOf(client: PaymentsClient, source: string): Promise<string[]> {
    return (await client.listCharges({ source, limit: 100 }).all()).map((charge) => charge.id);
  }

  describe('calls', () => {
    let apiKey: string;
    let client: PaymentsClient;

    beforeAll(async () => {
      apiKey = await newApiKey('client calls');
      client = clientFor(apiKey).client;
    });

    it('types are generated from the document the service serves (openapi.json is up to date)', async () => {
      const served: unknown = await (await fetch(`${app.baseUrl}/openapi.json`)).json();
      const committed: unknown = JSON.parse(await readFile('openapi.json', 'utf8'));
      expect(committed).toEqual(served);
    });

    it('creates a merchant with the admin token; its replay carries no API key', async () => {
      const idempotencyKey = randomUUID();
      const first = await admin.createMerchant({ name: 'Acme' }, { idempotencyKey });
      expect(first).toMatchObject({ status: 201, replayed: false, idempotencyKey, attempts: 1 });
      expect(first.data.api_key).toMatch(/^sk_mer_/);
      expect(first.expiresAt!.getTime()).toBeGreaterThan(Date.now());

      const replay = await admin.createMerchant({ name: 'Acme' }, { idempotencyKey });
      expect(replay).toMatchObject({ status: 201, replayed: true });
      expect(replay.data).toMatchObject({ id: first.data.id, api_key: null });
      expect(replay.expiresAt).toEqual(first.expiresAt);
    });

    it('walks the checkout flow: account, deposit, charge, capture, cancel, refund, batch, balance', async () => {
      const merchant = clientFor(await newApiKey('checkout')).client;
      const account = await merchant.createAccount({ currency: 'USD', name: 'Alice', metadata: { customer: '42' } });
      expect(account).toMatchObject({ status: 201, replayed: false });
      expect(account.data).toMatchObject({ object: 'account', currency: 'usd', name: 'Alice', balance: 0, held: 0, version: 1 });
      const source = account.data.id;

      const deposit = await merchant.deposit(source, { amount: 10_000 });
      expect(deposit.data).toMatchObject({ object: 'deposit', account: source, amount: 10_000, currency: 'usd' });

      const paid = await merchant.createCharge({ amount: 1_500, currency: 'usd', source, description: 'Order 42' });
      expect(paid.data).toMatchObject({ status: 'succeeded', captured: true, amount_captured: 1_500 });

      const authorised = await merchant.createCharge({ amount: 2_000, currency: 'usd', source, capture: false });
      expect(authorised.data.status).toBe('authorized');
      expect((await merchant.getAccount(source)).data).toMatchObject({ balance: 8_500, held: 2_000 });
      const captured = await merchant.captureCharge(authorised.data.id, { amount: 1_200 });
      expect(captured.data).toMatchObject({ status: 'succeeded', amount_captured: 1_200 });

      const held = await merchant.createCharge({ amount: 700, currency: 'usd', source, capture: false });
      expect((await merchant.cancelCharge(held.data.id)).data.status).toBe('canceled');

      const refund = await merchant.refundCharge(paid.data.id, { amount: 500, reason: 'requested_by_customer' });
      expect(refund.data).toMatchObject({ object: 'refund', charge: paid.data.id, amount: 500, status: 'succeeded' });
      expect((await merchant.getCharge(paid.data.id)).data).toMatchObject({ amount_refunded: 500, refunded: false });

      const batch = await merchant.createChargeBatch([
        { amount: 100, currency: 'usd', source },
        { amount: 1_000_000, currency: 'usd', source },
      ]);
      expect(batch.data.results.map((item) => item.status)).toEqual([201, 402]);
      expect(batch.data.results[1]!.error?.code).toBe('insufficient_funds');

      const balance = await merchant.getBalance();
      expect(balance.data.available).toEqual([{ currency: 'usd', amount: 1_500 + 1_200 - 500 + 100 }]);
      expect((await merchant.getAccount(source)).data).toMatchObject({ balance: 10_000 - 1_500 - 1_200 + 500 - 100, held: 0 });
    });

    it('a repeat with the key is the recorded answer; the key for a different request is IdempotencyKeyReusedError', async () => {
      const source = await fundedAccount(client, 1_000);
      const idempotencyKey = randomUUID();
      const request = { amount: 300, currency: 'usd', source };
      const first = await client.createCharge(request, { idempotencyKey });
      const again = await client.createCharge(request, { idempotencyKey });
      expect(again).toMatchObject({ replayed: true, data: first.data });

      const reused = await client.createCharge({ ...request, amount: 301 }, { idempotencyKey }).catch((error: unknown) => error);
      expect(reused).toBeInstanceOf(IdempotencyKeyReusedError);
      expect(reused).toMatchObject({ status: 422, code: 'idempotency_key_reused', idempotencyKey, attempts: 1 });
      expect((reused as Error).message).toMatch(/a new key would mean a new payment/);
      expect(await balanceOf(client, source)).toBe(700);
      expect(await chargeIdsOf(client, source)).toEqual([first.data.id]);
    });

    it('answers that are decided are typed errors with their code, and are not retried', async () => {
      const source = await fundedAccount(client, 100);
      const idempotencyKey = randomUUID();
      const broke = await client
        .createCharge({ amount: 500, currency: 'usd', source }, { idempotencyKey })
        .catch((error: unknown) => error);
      expect(broke).toBeInstanceOf(ProblemError);
      expect(broke).toMatchObject({ status: 402, code: 'insufficient_funds', attempts: 1, replayed: false });
      await client.deposit(source, { amount: 1_000 });
      // The 402 was recorded for the key: topping up does not change it, a new payment needs a new key.
      const replayed = await client
        .createCharge({ amount: 500, currency: 'usd', source }, { idempotencyKey })
        .catch((error: unknown) => error);
      expect(replayed).toMatchObject({ status: 402, code: 'insufficient_funds', replayed: true });

      const invalid = await client.createCharge({ amount: 0, currency: 'usd', source }).catch((error: unknown) => error);
      expect(invalid).toMatchObject({ status: 400, code: 'validation_failed', attempts: 1 });
      expect((invalid as ProblemError).errors.map((error) => error.field)).toContain('amount');

      await expect(client.getCharge('ch_missing')).rejects.toMatchObject({ status: 404, code: 'not_found', attempts: 1 });
      const paid = await client.createCharge({ amount: 100, currency: 'usd', source });
      await expect(client.cancelCharge(paid.data.id)).rejects.toMatchObject({ status: 409, code: 'invalid_state', attempts: 1 });
      const stranger = clientFor('sk_mer_nobody.' + 'x'.repeat(43)).client;
      await expect(stranger.getBalance()).rejects.toMatchObject({ status: 401, code: 'unauthenticated', attempts: 1 });
    });

    it('lists charges page by page, newest first', async () => {
      const source = await fundedAccount(client, 10_000);
      const batch = await client.createChargeBatch(
        Array.from({ length: 23 }, (): CreateCharge => ({ amount: 10, currency: 'usd', source })),
      );
      const created = batch.data.results.map((item) => item.charge!.id);

      const pages = [];
      for await (const page of client.listCharges({ source, limit: 10 }).pages()) pages.push(page.data.length);
      expect(pages).toEqual([10, 10, 3]);
      const listed = [];
      for await (const charge of client.listCharges({ source, limit: 10 })) listed.push(charge.id);
      expect(listed).toEqual(created.reverse());
    });
  });

  describe('under faults', () => {
    let apiKey: string;
    let client: PaymentsClient;

    beforeAll(async () => {
      apiKey = await newApiKey('client faults');
      client = clientFor(apiKey).client;
    });

    async function withLossyProxy(test: (proxy: ResponseLosingProxy) => Promise<void>): Promise<void> {
      const proxy = new ResponseLosingProxy(Number(new URL(app.baseUrl).port));
      await proxy.start();
      try {
        await test(proxy);
      } finally {
        await proxy.close();
      }
    }

    it('a response lost after the service committed: the retry with the same key gets the recorded charge, once', async () => {
      const source = await fundedAccount(client, 1_000);
      await withLossyProxy(async (proxy) => {
        const { client: behindProxy, retries } = clientFor(apiKey, { baseUrl: proxy.baseUrl });
        proxy.dropResponses(1);

        const charge = await behindProxy.createCharge({ amount: 400, currency: 'usd', source });

        expect(proxy.lost).toBe(1);
        expect(retries.map((retry) => retry.error)).toEqual([expect.any(NetworkError)]);
        expect(charge).toMatchObject({ status: 201, attempts: 2, replayed: true });
        expect(await chargeIdsOf(client, source)).toEqual([charge.data.id]);
        expect(await balanceOf(client, source)).toBe(600);
      });
    });

    it('a response that never comes: the attempt times out and the retry gets the recorded charge, once', async () => {
      const source = await fundedAccount(client, 1_000);
      await withLossyProxy(async (proxy) => {
        const { client: behindProxy, retries } = clientFor(apiKey, { baseUrl: proxy.baseUrl, timeoutMs: 1_000 });
        proxy.swallowResponses(1);

        const charge = await behindProxy.createCharge({ amount: 250, currency: 'usd', source });

        expect(retries.map((retry) => retry.error)).toEqual([expect.any(TimeoutError)]);
        expect(charge).toMatchObject({ attempts: 2, replayed: true });
        expect(await chargeIdsOf(client, source)).toEqual([charge.data.id]);
        expect(await balanceOf(client, source)).toBe(750);
      });
    });

    it('a caller that gives up keeps the key, and a later call with it learns the outcome without a second charge', async () => {
      const source = await fundedAccount(client, 1_000);
      const request = { amount: 100, currency: 'usd', source };
      await withLossyProxy(async (proxy) => {
        const { client: behindProxy } = clientFor(apiKey, { baseUrl: proxy.baseUrl });
        proxy.swallowResponses(1);
        const controller = new AbortController();
        void proxy.nextLoss().then(() => controller.abort());

        const aborted = await behindProxy.createCharge(request, { signal: controller.signal }).catch((error: unknown) => error);
        expect(aborted).toBeInstanceOf(RequestAbortedError);
        const { idempotencyKey } = aborted as RequestAbortedError;

        const later = await client.createCharge(request, { idempotencyKey });
        expect(later).toMatchObject({ replayed: true, idempotencyKey });
        expect(await chargeIdsOf(client, source)).toEqual([later.data.id]);
      });
    });

    it('a database outage: 503 with Retry-After, honoured, until the database is back, then one charge', async () => {
      const source = await fundedAccount(client, 1_000);
      const databaseUrl = process.env.TEST_DATABASE_URL!;
      const database = TcpProxy.forDatabaseUrl(databaseUrl);
      await database.start();
      const cutOff = await TestApp.start({}, database.urlFor(databaseUrl));
      try {
        const { client: duringOutage, retries } = clientFor(apiKey, {
          baseUrl: cutOff.baseUrl,
          onRetry: () => {
            if (retries.length === 2) void database.restore();
          },
        });
        await database.cut();

        const charge = await duringOutage.createCharge({ amount: 300, currency: 'usd', source });

        expect(retries.length).toBeGreaterThanOrEqual(2);
        for (const retry of retries) {
          expect(retry.error).toMatchObject({ status: 503, code: 'unavailable', retryAfterMs: 1_000 });
          expect(retry.delayMs).toBeGreaterThanOrEqual(1_000);
        }
        // Nothing was recorded while the database was away: the first success is the one effect.
        expect(charge).toMatchObject({ status: 201, replayed: false, attempts: retries.length + 1 });
        expect(await chargeIdsOf(client, source)).toEqual([charge.data.id]);
        expect(await balanceOf(client, source)).toBe(700);
      } finally {
        await cutOff.close();
        await database.cut();
      }
    });

    it('429 rate_limited: the client waits Retry-After, then charges once', async () => {
      const source = await fundedAccount(client, 1_000);
      const limited = await TestApp.start({ rateLimitPerSecond: 1 });
      try {
        const eager = clientFor(apiKey, { baseUrl: limited.baseUrl, retry: { maxAttempts: 1 } }).client;
        const { client: patient, retries } = clientFor(apiKey, { baseUrl: limited.baseUrl });
        // Spend the key's one-second burst, so the charge's first attempt is refused.
        await Promise.allSettled([eager.getBalance(), eager.getBalance(), eager.getBalance()]);

        const charge = await patient.createCharge({ amount: 200, currency: 'usd', source });

        expect(retries.length).toBeGreaterThanOrEqual(1);
        for (const retry of retries) {
          expect(retry.error).toMatchObject({ status: 429, code: 'rate_limited' });
          const retryAfterMs = (retry.error as ProblemError).retryAfterMs!;
          expect(retryAfterMs).toBeGreaterThanOrEqual(1_000);
          expect(retry.delayMs).toBeGreaterThanOrEqual(retryAfterMs);
        }
        expect(charge).toMatchObject({ status: 201, replayed: false, attempts: retries.length + 1 });
        expect(await chargeIdsOf(client, source)).toEqual([charge.data.id]);
        expect(await balanceOf(client, source)).toBe(800);
      } finally {
        await limited.close();
      }
    });

    it('two client instances send the same keys at the same time: one charge per key', async () => {
      const source = await fundedAccount(client, 10_000);
      const first = clientFor(apiKey).client;
      const second = clientFor(apiKey).client;
      const keys = Array.from({ length: 10 }, () => randomUUID());
      const request = { amount: 100, currency: 'usd', source };

      const results = await Promise.all(
        keys.map((idempotencyKey) =>
          Promise.all([first.createCharge(request, { idempotencyKey }), second.createCharge(request, { idempotencyKey })]),
        ),
      );

      for (const [one, other] of results) {
        expect(one.data.id).toBe(other.data.id);
        expect([one.replayed, other.replayed].filter((replayed) => !replayed)).toHaveLength(1);
      }
      expect((await chargeIdsOf(client, source)).sort()).toEqual(results.map(([one]) => one.data.id).sort());
      expect(await balanceOf(client, source)).toBe(10_000 - 10 * 100);
    });
  });
});
