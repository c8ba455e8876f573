import {
  NetworkError,
  OutcomeUnknownError,
  PaymentsAdminClient,
  PaymentsClient,
  ProblemError,
  UnexpectedAnswerError,
  seededRandom,
  type RetryEvent,
} from '@payments/client';
import { randomUUID } from 'node:crypto';
import { close, createCheckoutServer, listen } from '../examples/checkout/server/checkout-server.js';
import { OrderBook } from '../examples/checkout/server/orders.js';
import { FaultyGateway, type GatewayFault } from '../testing/gateway/faulty-gateway.js';
import { ADMIN_TOKEN, TestApp } from './support/test-app.js';

// A gateway between the client and the payments API (nginx, a cloud load balancer, an API gateway)
// that forwards a charge, lets it commit, and then answers the client itself: nginx's 502 page, a
// 504 with a JSON body, or a reset. The gateway is a process of its own (testing/gateway) in front of
// the real service and PostgreSQL. None of those answers is the service's decision, so the client
// retries with the same key and gets the recorded charge: one charge, however the gateway lies.

describe('the client behind a gateway that answers in the service’s place', () => {
  let app: TestApp;
  let gateway: FaultyGateway;
  let apiKey: string;
  let direct: PaymentsClient;

  beforeAll(async () => {
    app = await TestApp.start();
    gateway = await FaultyGateway.start(app.baseUrl);
    const admin = new PaymentsAdminClient({ baseUrl: app.baseUrl, adminToken: ADMIN_TOKEN });
    apiKey = (await admin.createMerchant({ name: 'behind a gateway' })).data.api_key!;
    direct = new PaymentsClient({ baseUrl: app.baseUrl, apiKey });
  });
  afterAll(async () => {
    await gateway?.close();
    await app?.close();
  });
  afterEach(() => gateway.clearFaults());

  function clientThroughGateway(maxAttempts = 6) {
    const retries: RetryEvent[] = [];
    const client = new PaymentsClient({
      baseUrl: gateway.baseUrl,
      apiKey,
      random: seededRandom(7),
      retry: { maxAttempts, baseDelayMs: 20, maxDelayMs: 200, minDelayMs: 10 },
      onRetry: (event) => retries.push(event),
    });
    return { client, retries };
  }

  async function fundedAccount(amount: number): Promise<string> {
    const account = await direct.createAccount({ currency: 'usd' });
    await direct.deposit(account.data.id, { amount });
    return account.data.id;
  }

  async function chargesOf(source: string) {
    return direct.listCharges({ source, limit: 100 }).all();
  }

  it.each<[GatewayFault, unknown]>([
    ['502-html', UnexpectedAnswerError],
    ['504-json', UnexpectedAnswerError],
    ['reset', NetworkError],
  ])('%s after the charge committed: retried with the same key, the recorded charge comes back, money moves once', async (fault, kind) => {
    // Enough for two payments: a second charge would succeed, so only the key can stop it.
    const source = await fundedAccount(2_000);
    const { client, retries } = clientThroughGateway();
    await gateway.fail(fault, 1);

    const charge = await client.createCharge({ amount: 1_000, currency: 'usd', source });

    expect(charge).toMatchObject({ status: 201, attempts: 2, replayed: true, data: { status: 'succeeded', amount: 1_000 } });
    expect(retries).toHaveLength(1);
    expect(retries[0]!.error).toBeInstanceOf(kind);
    expect(retries[0]!.error).not.toBeInstanceOf(ProblemError);
    expect(retries[0]!.idempotencyKey).toBe(charge.idempotencyKey);
    expect((await chargesOf(source)).map((one) => one.id)).toEqual([charge.data.id]);
    expect((await direct.getAccount(source)).data.balance).toBe(1_000);
    expect(await gateway.stats()).toMatchObject({ faulted: expect.any(Number), pending: 0 });
  });

  it('a gateway that keeps lying until retries run out: the outcome is unknown, the key is given, and asking again with it gets the one charge', async () => {
    const source = await fundedAccount(2_000);
    const { client } = clientThroughGateway(3);
    await gateway.fail('502-html', 1);
    await gateway.fail('504-json', 1);
    await gateway.fail('reset', 1);

    const error = await client.createCharge({ amount: 1_000, currency: 'usd', source }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect(error).not.toBeInstanceOf(ProblemError);
    const unknown = error as OutcomeUnknownError;
    expect(unknown.attempts).toBe(3);
    expect(unknown.message).toContain('The outcome is unknown');
    expect(unknown.message).toContain(unknown.idempotencyKey);
    // It did happen, behind the gateway: once.
    const charges = await chargesOf(source);
    expect(charges).toHaveLength(1);

    const again = await client.createCharge({ amount: 1_000, currency: 'usd', source }, { idempotencyKey: unknown.idempotencyKey });
    expect(again).toMatchObject({ replayed: true, attempts: 1, data: { id: charges[0]!.id } });
    expect(await chargesOf(source)).toHaveLength(1);
    expect((await direct.getAccount(source)).data.balance).toBe(1_000);
  });

  it('reads through the gateway are retried the same way', async () => {
    const source = await fundedAccount(500);
    const { client } = clientThroughGateway();
    await gateway.fail('502-html', 1, { method: 'GET', path: `/v1/accounts/${source}` });
    const account = await client.getAccount(source);
    expect(account).toMatchObject({ attempts: 2, data: { id: source, balance: 500 } });
  });

  describe("the checkout example's merchant server behind the gateway", () => {
    async function shopWith(payments: PaymentsClient, funds: number) {
      const orders = new OrderBook();
      const server = createCheckoutServer({
        payments,
        orders,
        pageDir: 'examples/checkout/dist/page',
        shopName: 'Acme',
        log: () => undefined,
      });
      const url = await listen(server, 0);
      const shopper = await fundedAccount(funds);
      orders.add({ id: 'ord_1', currency: 'usd', customerAccount: shopper, lines: [{ name: 'Tent', quantity: 1, unitAmount: 1_000 }] });
      const key = randomUUID();
      const pay = async () => {
        const response = await fetch(`${url}/api/pay`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ orderId: 'ord_1', key }),
        });
        return {
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          body: (await response.json()) as { status: string; detail?: string },
        };
      };
      return { server, shopper, pay, key };
    }

    it('every undecided outcome (a 502 when retries are off, then an open circuit) is "pending" with Retry-After, never "nothing was charged"; then the one charge', async () => {
      const payments = new PaymentsClient({
        baseUrl: gateway.baseUrl,
        apiKey,
        retry: { maxAttempts: 1 },
        circuitBreaker: { failureThreshold: 1, coolDownMs: 60_000 },
      });
      const shop = await shopWith(payments, 2_000);
      try {
        await gateway.fail('502-html', 1);
        const first = await shop.pay();
        expect(first).toMatchObject({ status: 503, retryAfter: expect.stringMatching(/^\d+$/), body: { status: 'pending' } });
        expect(first.body.detail).not.toContain('Nothing was charged');
        // The charge went through behind the gateway.
        expect(await chargesOf(shop.shopper)).toHaveLength(1);

        // The circuit is open now: the merchant server's client sends nothing, and the order stays pending.
        expect(payments.retryState.circuit).toBe('open');
        const second = await shop.pay();
        expect(second).toMatchObject({ status: 503, body: { status: 'pending' } });
        expect(Number(second.retryAfter)).toBeGreaterThan(1);
        expect(await chargesOf(shop.shopper)).toHaveLength(1);
      } finally {
        await close(shop.server);
      }
      // The attempt's key (the page's) holds the one charge: asking the payments API with it replays it.
      const replayed = await direct.createCharge(
        { amount: 1_000, currency: 'usd', source: shop.shopper, description: 'Order ord_1', metadata: { order_id: 'ord_1' } },
        { idempotencyKey: shop.key },
      );
      expect(replayed).toMatchObject({ replayed: true, data: { id: (await chargesOf(shop.shopper))[0]!.id } });
      expect((await direct.getAccount(shop.shopper)).data.balance).toBe(1_000);
    });
  });
});
