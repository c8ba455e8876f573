import { PaymentsClient, type Charge, type PaymentsClientOptions } from '@payments/client';
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { AcquirerProcess } from '../testing/acquirer-process.js';
import { acquirerCaptures, cardInvariantViolations } from '../testing/card-invariants.js';
import { TcpProxy } from '../testing/tcp-proxy.js';
import { close, createCheckoutServer, listen } from '../examples/checkout/server/checkout-server.js';
import { OrderBook, amountOf, type Order } from '../examples/checkout/server/orders.js';
import type { PayAnswer, PayRequest } from '../examples/checkout/shared/checkout-api.js';
import { FaultyGateway, type GatewayFault } from '../testing/gateway/faulty-gateway.js';
import { ResponseLosingProxy } from '../testing/response-losing-proxy.js';
import { findBinary, missingBinaryMessage } from '../testing/system-binaries.js';
import { TestApp, type MerchantClient } from './support/test-app.js';

// The checkout example (examples/checkout) in a real browser: Debian's Chromium, driven by
// playwright-core, against the example's merchant server and the real payments service and
// PostgreSQL. Whatever the shopper or the network does, an order is paid at most once; after each
// test the payments API's own ledger says so. Pay is left clickable (the page's test switch), so
// what keeps double clicks safe is the idempotency key, not the disabled button.

// Debian's Chromium, found on PATH (or named by CHROMIUM_PATH).
const CHROMIUM = process.env.CHROMIUM_PATH ?? findBinary('chromium');
// The flags keep Chromium off the network: without them it opens connections this machine refuses.
// Each launch gets a fresh --user-data-dir from playwright (a temporary profile it deletes on close).
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const PAGE_DIR = 'examples/checkout/dist/page';
// The committed screenshots are rewritten only on request (UPDATE_SCREENSHOTS=1); otherwise they go next to the build.
const SCREENSHOT_DIR = process.env.UPDATE_SCREENSHOTS ? 'examples/checkout/screenshots' : 'examples/checkout/dist/screenshots';

const SHOES_AND_SOCKS = [
  { name: 'Trail running shoes', quantity: 1, unitAmount: 89_00 },
  { name: 'Merino socks', quantity: 2, unitAmount: 12_50 },
];
const JACKET = [{ name: 'Down expedition jacket', quantity: 1, unitAmount: 249_00 }];

interface PayExchange {
  status: number;
  body: PayAnswer;
}

/** Every POST /api/pay that the pages of one browser context send (their keys), and the answers they get, in order. */
class PayTraffic {
  readonly keys: string[] = [];
  private readonly exchanges: Promise<PayExchange>[] = [];

  constructor(context: BrowserContext) {
    context.on('request', (request) => {
      if (request.url().endsWith('/api/pay')) this.keys.push((request.postDataJSON() as PayRequest).key);
    });
    context.on('response', (response) => {
      if (!response.url().endsWith('/api/pay')) return;
      const status = response.status();
      // undefined when the page closed before the body was read
      this.exchanges.push(
        response.json().then(
          (body) => ({ status, body: body as PayAnswer }),
          () => ({ status, body: undefined as never }),
        ),
      );
    });
  }

  get answerCount(): number {
    return this.exchanges.length;
  }

  answers(): Promise<PayExchange[]> {
    return Promise.all(this.exchanges);
  }
}

/** A promise with its resolve, for a test to release a step when it is ready. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; settled: boolean } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((done) => (resolve = done));
  const handle = {
    promise,
    settled: false,
    resolve: (value: T) => {
      handle.settled = true;
      resolve(value);
    },
  };
  return handle;
}

/** Waits for something the test started to finish happening (the limit only stops a broken run from hanging). */
async function waitUntil(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const giveUpAt = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error(`still waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

if (CHROMIUM === undefined) {
  describe('the checkout example in Chromium', () => {
    it('Chromium is installed (the run fails without it, unless SKIP_BROWSER_TESTS=1 says to go without)', () => {
      const message = missingBinaryMessage(['chromium'], 'apt-get install -y chromium', 'SKIP_BROWSER_TESTS', 'The checkout browser tests');
      if (message !== undefined) throw new Error(message);
    });
  });
} else {
  describe('the checkout example in Chromium', () => {
    let acquirer: AcquirerProcess;
    let app: TestApp;
    let merchant: MerchantClient;
    let payments: PaymentsClient;
    let shop: Shop;
    let browser: Browser;
    let context: BrowserContext;
    let orderNumber = 0;

    interface Shop {
      url: string;
      orders: OrderBook;
      server: Server;
    }

    /** The example's merchant server, holding the merchant's API key, in front of the payments API at `paymentsUrl`. */
    async function openShop(
      paymentsUrl: string,
      retry: PaymentsClientOptions['retry'] = { baseDelayMs: 50, maxDelayMs: 1_000 },
    ): Promise<Shop> {
      const orders = new OrderBook();
      const server = createCheckoutServer({
        payments: new PaymentsClient({ baseUrl: paymentsUrl, apiKey: merchant.apiKey, retry }),
        orders,
        pageDir: PAGE_DIR,
        shopName: 'Acme Outdoor',
        log: process.env.DEBUG_CHECKOUT ? (line) => console.log(Date.now() % 100000, line) : () => undefined,
      });
      return { url: await listen(server, 0), orders, server };
    }

    /** A shopper whose wallet holds `funds`, and an order of `lines` to be paid from it. */
    async function newOrder(funds: number, lines = SHOES_AND_SOCKS, at = shop): Promise<{ order: Order; shopper: string }> {
      const shopper = await merchant.account(funds);
      const order = at.orders.add({ id: `ord_${10_000 + ++orderNumber}`, currency: 'usd', customerAccount: shopper, lines });
      return { order, shopper };
    }

    async function openCheckout(order: Order, options: { keepPayEnabled?: boolean; at?: Shop; tab?: Page } = {}): Promise<Page> {
      const page = options.tab ?? (await context.newPage());
      const query = options.keepPayEnabled === false ? '' : '&test-keep-pay-enabled';
      await page.goto(`${(options.at ?? shop).url}/?order=${order.id}${query}`);
      await payButton(page).waitFor();
      return page;
    }

    function payButton(page: Page) {
      return page.getByRole('button', { name: /^Pay \$/ });
    }

    /** Waits for the page to show the charge; returns the charge id it shows. */
    async function paidChargeShownBy(page: Page): Promise<string> {
      await page.locator('#status[data-state="paid"]').waitFor();
      expect(await page.getByRole('status').textContent()).toContain('Payment received');
      return (await page.locator('#receipt-charge').textContent())!;
    }

    function recordPayTraffic(): PayTraffic {
      return new PayTraffic(context);
    }

    /** Holds the pages' POST /api/pay requests until `count` are waiting, then lets them all go at once. */
    async function sendPayRequestsTogether(count: number): Promise<void> {
      let waiting = 0;
      let release: () => void = () => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      await context.route('**/api/pay', async (route) => {
        if (++waiting === count) release();
        await released;
        await route.continue();
      });
    }

    async function screenshot(page: Page, name: string): Promise<void> {
      await mkdir(SCREENSHOT_DIR, { recursive: true });
      await page.mouse.move(0, 0); // no hover effect on the button in the picture
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
    }

    async function merchantAvailable(): Promise<number> {
      const balance = await payments.getBalance();
      return balance.data.available.find((entry) => entry.currency === 'usd')?.amount ?? 0;
    }

    /** The payments API's ledger: exactly one charge for the order, from the shopper's wallet, and balances to match. */
    async function expectPaidOnce(order: Order, shopper: string, deposited: number, merchantBefore: number): Promise<Charge> {
      const amount = amountOf(order);
      const charges = await payments.listCharges({ source: shopper, limit: 100 }).all();
      expect(charges).toHaveLength(1);
      const charge = charges[0]!;
      expect(charge).toMatchObject({ amount, currency: 'usd', status: 'succeeded', metadata: { order_id: order.id } });
      expect((await payments.getAccount(shopper)).data).toMatchObject({ balance: deposited - amount, held: 0 });
      const entries = (await merchant.get(`/v1/accounts/${shopper}/entries?limit=100`)).body.data;
      expect(entries.filter((entry: { type: string }) => entry.type === 'charge')).toEqual([
        expect.objectContaining({ amount: -amount, reference: charge.id }),
      ]);
      expect(await merchantAvailable()).toBe(merchantBefore + amount);
      return charge;
    }

    /** Chooses the card and the acquirer's test card on the page. */
    async function chooseTestCard(page: Page, paymentMethod: string): Promise<void> {
      await page.getByLabel('Test card', { exact: true }).selectOption(paymentMethod);
      expect(await page.getByRole('radio', { name: /^Card/ }).isChecked()).toBe(true);
    }

    /** The payments API's charges of the order (a card charge has no source account to list them by). */
    async function chargesOf(order: Order): Promise<Charge[]> {
      return (await payments.listCharges({ limit: 100 }).all()).filter((charge) => charge.metadata.order_id === order.id);
    }

    async function capturesOf(chargeId: string) {
      return (await acquirerCaptures(acquirer.url)).filter((capture) => capture.reference === chargeId);
    }

    /** The card invariants (testing/card-invariants.ts) of this merchant against the acquirer's captures. */
    async function expectCardInvariants(): Promise<void> {
      const violations = await cardInvariantViolations(
        (sql, parameters) => app.dataSource.query(sql, parameters),
        await acquirerCaptures(acquirer.url),
        [merchant.id],
      );
      expect(violations).toEqual({ doubleCaptures: [], capturesOffTheLedger: [], effectsWithoutCapture: [], unfinishedKeys: [] });
    }

    beforeAll(async () => {
      // The simulated card acquirer, its own process: the test cards (pm_test_…) force its answers.
      acquirer = await AcquirerProcess.start();
      app = await TestApp.start({ acquirerUrl: acquirer.url });
      merchant = await app.merchant('Acme Outdoor');
      payments = new PaymentsClient({ baseUrl: app.baseUrl, apiKey: merchant.apiKey });
      shop = await openShop(app.baseUrl);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    });

    afterAll(async () => {
      await browser?.close();
      if (shop) await close(shop.server);
      await app?.close();
      await acquirer?.close();
    });

    beforeEach(async () => {
      context = await browser.newContext({ viewport: { width: 1000, height: 560 } });
    });

    afterEach(() => context.close());

    it('a double click and a triple click on Pay: every click sends the same key, and each order is charged once', async () => {
      for (const clicks of [2, 3]) {
        const { order, shopper } = await newOrder(200_00);
        const merchantBefore = await merchantAvailable();
        const traffic = recordPayTraffic();
        const page = await openCheckout(order);
        if (clicks === 2) await screenshot(page, 'idle');
        await sendPayRequestsTogether(clicks);

        await payButton(page).click({ clickCount: clicks });

        const shown = await paidChargeShownBy(page);
        if (clicks === 2) await screenshot(page, 'paid');
        await waitUntil(() => traffic.answerCount === clicks, `${clicks} answers`);
        expect(traffic.keys).toHaveLength(clicks);
        expect(new Set(traffic.keys).size).toBe(1);
        // One request made the charge; the others got its recorded answer.
        expect((await traffic.answers()).map((answer) => answer.body.status)).toEqual(Array(clicks).fill('paid'));
        expect((await traffic.answers()).filter((answer) => answer.body.status === 'paid' && !answer.body.replayed)).toHaveLength(1);
        const charge = await expectPaidOnce(order, shopper, 200_00, merchantBefore);
        expect(shown).toBe(charge.id);
        await page.close();
      }
    });

    it('answers lost after the charge committed, on both legs: each retry carries the same key and gets the recorded charge', async () => {
      // Between the merchant server and the payments API, a proxy cuts the connection as the first answer arrives.
      const lossy = new ResponseLosingProxy(Number(new URL(app.baseUrl).port));
      await lossy.start();
      const lossyShop = await openShop(lossy.baseUrl);
      try {
        const { order, shopper } = await newOrder(200_00, SHOES_AND_SOCKS, lossyShop);
        const merchantBefore = await merchantAvailable();
        const traffic = recordPayTraffic();
        const page = await openCheckout(order, { at: lossyShop });
        lossy.dropResponses(1);
        let lostAnswer: PayAnswer | undefined;
        await page.route('**/api/pay', async (route) => {
          if (lostAnswer) return route.continue();
          // The merchant server answers paid; the connection drops before the answer reaches the page.
          lostAnswer = (await (await route.fetch()).json()) as PayAnswer;
          await route.abort('connectionreset');
        });

        await payButton(page).click();

        const shown = await paidChargeShownBy(page);
        // The merchant server's client retried with the key, and the payments API answered its recorded charge.
        expect(lossy.lost).toBe(1);
        expect(lostAnswer).toMatchObject({ status: 'paid', chargeId: shown, replayed: true });
        // The page heard nothing, so it asked again with the same key; the only answer it heard is the recorded one.
        expect(traffic.keys).toHaveLength(2);
        expect(new Set(traffic.keys).size).toBe(1);
        expect(await traffic.answers()).toEqual([
          { status: 200, body: expect.objectContaining({ status: 'paid', chargeId: shown, replayed: true }) },
        ]);
        expect((await expectPaidOnce(order, shopper, 200_00, merchantBefore)).id).toBe(shown);
      } finally {
        await context.close();
        await close(lossyShop.server);
        await lossy.close();
      }
    });

    it('a reload while the payment is in flight: the reloaded page resumes it with the same key and shows the one charge', async () => {
      const { order, shopper } = await newOrder(200_00);
      const merchantBefore = await merchantAvailable();
      const traffic = recordPayTraffic();
      // As shoppers get it: Pay is disabled while paying.
      const page = await openCheckout(order, { keepPayEnabled: false });
      const firstRequestHeld = deferred();
      const reloadedPagePaid = deferred();
      const lateAnswer = deferred<PayAnswer>();
      await page.route('**/api/pay', async (route) => {
        if (firstRequestHeld.settled) return route.continue();
        firstRequestHeld.resolve();
        // The first request is slow on its way: it reaches the merchant server only after the
        // reloaded page has paid, and its answer has no page left to go to.
        await reloadedPagePaid.promise;
        lateAnswer.resolve((await (await route.fetch()).json()) as PayAnswer);
      });

      await payButton(page).click();
      await firstRequestHeld.promise;
      await page.locator('#status[data-state="paying"]').waitFor();
      expect(await page.locator('#pay').isDisabled()).toBe(true);
      await screenshot(page, 'paying');
      await page.reload();

      const shown = await paidChargeShownBy(page);
      reloadedPagePaid.resolve();
      expect(await lateAnswer.promise).toMatchObject({ status: 'paid', chargeId: shown, replayed: true });
      expect(traffic.keys).toHaveLength(2);
      expect(new Set(traffic.keys).size).toBe(1);
      expect(await traffic.answers()).toEqual([
        { status: 200, body: expect.objectContaining({ status: 'paid', chargeId: shown, replayed: false }) },
      ]);
      expect((await expectPaidOnce(order, shopper, 200_00, merchantBefore)).id).toBe(shown);
    });

    it('a reload after the charge committed but before its answer arrived: the reloaded page shows the charge', async () => {
      const { order, shopper } = await newOrder(200_00);
      const merchantBefore = await merchantAvailable();
      const traffic = recordPayTraffic();
      const page = await openCheckout(order, { keepPayEnabled: false });
      const committed = deferred<PayAnswer>();
      await page.route('**/api/pay', async (route) => {
        // The merchant server charges; the page reloads before the answer is delivered.
        committed.resolve((await (await route.fetch()).json()) as PayAnswer);
      });

      await payButton(page).click();
      const answer = await committed.promise;
      await page.reload();

      // The merchant server knows the order is paid, so the page shows the receipt without paying again.
      const shown = await paidChargeShownBy(page);
      expect(answer).toMatchObject({ status: 'paid', chargeId: shown, replayed: false });
      expect(traffic.keys).toHaveLength(1);
      expect(await page.evaluate(() => Object.keys(sessionStorage))).toEqual([]);
      expect((await expectPaidOnce(order, shopper, 200_00, merchantBefore)).id).toBe(shown);
    });

    it('two tabs with the same key (the second duplicated from the first while paying): one charge, and both tabs show it', async () => {
      const { order, shopper } = await newOrder(200_00);
      const merchantBefore = await merchantAvailable();
      const traffic = recordPayTraffic();
      const first = await openCheckout(order);
      // The first tab's Pay, the duplicated tab resuming that payment, and a Pay in the duplicate go out together.
      await sendPayRequestsTogether(3);

      await payButton(first).click();
      await waitUntil(() => traffic.keys.length === 1, "the first tab's request");
      // window.open copies the opener's sessionStorage, as duplicating a tab does: the key comes along.
      const [second] = await Promise.all([context.waitForEvent('page'), first.evaluate(() => void window.open(location.href))]);
      await waitUntil(() => traffic.keys.length === 2, 'the duplicated tab to resume the payment');
      await second.getByRole('button', { name: 'Paying…' }).click();

      const [shownFirst, shownSecond] = await Promise.all([paidChargeShownBy(first), paidChargeShownBy(second)]);
      expect(shownSecond).toBe(shownFirst);
      await waitUntil(() => traffic.answerCount === 3, '3 answers');
      expect(traffic.keys).toHaveLength(3);
      expect(new Set(traffic.keys).size).toBe(1);
      expect((await traffic.answers()).filter((answer) => answer.body.status === 'paid' && !answer.body.replayed)).toHaveLength(1);
      expect((await expectPaidOnce(order, shopper, 200_00, merchantBefore)).id).toBe(shownFirst);
    });

    it('two tabs that minted keys of their own still pay the order once: the merchant server pays it under its open attempt', async () => {
      const { order, shopper } = await newOrder(200_00);
      const merchantBefore = await merchantAvailable();
      const traffic = recordPayTraffic();
      const first = await openCheckout(order);
      const second = await openCheckout(order);
      await sendPayRequestsTogether(2);

      await Promise.all([payButton(first).click(), payButton(second).click()]);

      const [shownFirst, shownSecond] = await Promise.all([paidChargeShownBy(first), paidChargeShownBy(second)]);
      expect(shownSecond).toBe(shownFirst);
      expect(new Set(traffic.keys).size).toBe(2);
      expect((await expectPaidOnce(order, shopper, 200_00, merchantBefore)).id).toBe(shownFirst);
    });

    it('insufficient funds: a plain decline and no charge; paying again after a top-up uses a new key', async () => {
      const { order, shopper } = await newOrder(100_00, JACKET);
      const merchantBefore = await merchantAvailable();
      const traffic = recordPayTraffic();
      const page = await openCheckout(order);

      await payButton(page).click();

      await page.locator('#status[data-state="declined"]').waitFor();
      const status = await page.getByRole('status').textContent();
      expect(status).toContain('Payment declined');
      expect(status).toContain('Your wallet balance is too low to pay for this order. Nothing was charged.');
      // The outcome takes the focus, so a screen reader reads it and Tab leads on to Pay.
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('status');
      await screenshot(page, 'declined');
      expect(await payments.listCharges({ source: shopper }).all()).toEqual([]);
      expect((await payments.getAccount(shopper)).data.balance).toBe(100_00);

      await payments.deposit(shopper, { amount: 200_00 });
      await payButton(page).click();

      const shown = await paidChargeShownBy(page);
      expect(traffic.keys).toHaveLength(2);
      expect(traffic.keys[1]).not.toBe(traffic.keys[0]);
      expect((await traffic.answers()).map((answer) => [answer.status, answer.body.status])).toEqual([
        [402, 'declined'],
        [200, 'paid'],
      ]);
      expect((await expectPaidOnce(order, shopper, 300_00, merchantBefore)).id).toBe(shown);
    });

    it('the payments API unavailable (its database cut off): "still confirming" while the page asks again on its own, then the one charge', async () => {
      const databaseUrl = process.env.TEST_DATABASE_URL!;
      const database = TcpProxy.forDatabaseUrl(databaseUrl);
      await database.start();
      const cutOff = await TestApp.start({}, database.urlFor(databaseUrl));
      // This merchant server gives up after two tries, so the page hears "not confirmed yet" and keeps asking itself.
      const outageShop = await openShop(cutOff.baseUrl, { maxAttempts: 2, baseDelayMs: 100 });
      try {
        const { order, shopper } = await newOrder(200_00, SHOES_AND_SOCKS, outageShop);
        const merchantBefore = await merchantAvailable();
        const traffic = recordPayTraffic();
        const page = await openCheckout(order, { at: outageShop, keepPayEnabled: false });
        await database.cut();

        await payButton(page).click();

        await page.locator('#status[data-state="confirming"]').waitFor();
        expect(await page.getByRole('status').textContent()).toContain('Still confirming your payment');
        await waitUntil(() => traffic.answerCount >= 2, 'the page to ask again on its own');
        await screenshot(page, 'still-confirming');
        await database.restore();

        const shown = await paidChargeShownBy(page);
        expect(new Set(traffic.keys).size).toBe(1);
        const pending = (await traffic.answers()).slice(0, -1);
        expect(pending.length).toBeGreaterThanOrEqual(2);
        for (const answer of pending) expect(answer).toEqual({ status: 503, body: expect.objectContaining({ status: 'pending' }) });
        // Nothing was recorded while the database was away: the charge was made by the first request that reached it.
        expect((await traffic.answers()).at(-1)).toEqual({
          status: 200,
          body: expect.objectContaining({ status: 'paid', chargeId: shown, replayed: false }),
        });
        expect((await expectPaidOnce(order, shopper, 200_00, merchantBefore)).id).toBe(shown);
      } finally {
        await context.close();
        await close(outageShop.server);
        await cutOff.close();
        await database.cut();
      }
    });

    it.each<[GatewayFault]>([['502-html'], ['504-json'], ['reset']])(
      'a gateway that lets the charge commit and then answers %s: "still confirming", never "nothing was charged", and the order is paid once whatever the shopper presses',
      async (fault) => {
        const gateway = await FaultyGateway.start(app.baseUrl);
        // The merchant server gives up after two tries, so the page hears "not confirmed yet" and asks again itself.
        const gatewayShop = await openShop(gateway.baseUrl, { maxAttempts: 2, baseDelayMs: 50, maxDelayMs: 200 });
        try {
          // Enough in the wallet for two payments: only the key stops a second one.
          const { order, shopper } = await newOrder(400_00, SHOES_AND_SOCKS, gatewayShop);
          const merchantBefore = await merchantAvailable();
          const traffic = recordPayTraffic();
          const page = await openCheckout(order, { at: gatewayShop });
          await gateway.fail(fault, 3);

          await payButton(page).click();
          await page.locator('#status[data-state="confirming"]').waitFor();
          expect(await page.getByRole('status').textContent()).toContain('Still confirming your payment');
          // The shopper presses again while it is confirming.
          await page.locator('#pay').click();

          const shown = await paidChargeShownBy(page);
          await waitUntil(() => traffic.answerCount === traffic.keys.length, 'every answer');
          expect(new Set(traffic.keys).size).toBe(1);
          const answers = await traffic.answers();
          expect(answers.map((answer) => answer.body.status)).not.toContain('failed');
          expect(answers.some((answer) => answer.status === 503 && answer.body.status === 'pending')).toBe(true);
          expect(await page.getByRole('status').textContent()).not.toContain('Nothing was charged');
          expect((await gateway.stats()).faulted).toBe(3);
          expect((await expectPaidOnce(order, shopper, 400_00, merchantBefore)).id).toBe(shown);

          // Pressing Pay on a fresh page of the paid order shows the receipt: no second payment.
          const again = await context.newPage();
          await again.goto(`${gatewayShop.url}/?order=${order.id}`);
          expect(await paidChargeShownBy(again)).toBe(shown);
          expect((await expectPaidOnce(order, shopper, 400_00, merchantBefore)).id).toBe(shown);
        } finally {
          await context.close();
          await close(gatewayShop.server);
          await gateway.close();
        }
      },
    );

    it('a card whose acquirer loses its answer after capturing: the page hears 202 pending, asks again with its key after Retry-After, and the card is charged once', async () => {
      const { order, shopper } = await newOrder(100_00);
      const merchantBefore = await merchantAvailable();
      const traffic = recordPayTraffic();
      const page = await openCheckout(order, { keepPayEnabled: false });
      await chooseTestCard(page, 'pm_test_lost_answer_once');
      // The page's second request waits until the pending state has been seen (and photographed).
      const pendingSeen = deferred();
      let requests = 0;
      await page.route('**/api/pay', async (route) => {
        if (++requests === 2) await pendingSeen.promise;
        await route.continue();
      });

      await payButton(page).click();

      await page.locator('#status[data-state="confirming"]').waitFor();
      expect(await page.getByRole('status').textContent()).toContain('Waiting for your card issuer');
      // The payment keeps how it started: the choice is locked while it is undecided.
      expect(await page.getByRole('radio', { name: /^Shop wallet/ }).isDisabled()).toBe(true);
      await screenshot(page, 'card-pending');
      pendingSeen.resolve();

      const shown = await paidChargeShownBy(page);
      // The first answer was the pending charge (the acquirer had captured, and its answer was lost);
      // the page asked again with the same key, and the payments API's repeat to the acquirer got the capture.
      expect(await traffic.answers()).toEqual([
        { status: 202, body: expect.objectContaining({ status: 'pending', chargeId: shown }) },
        { status: 200, body: expect.objectContaining({ status: 'paid', chargeId: shown, replayed: false }) },
      ]);
      expect(traffic.keys).toHaveLength(2);
      expect(new Set(traffic.keys).size).toBe(1);
      expect(await capturesOf(shown)).toEqual([expect.objectContaining({ amount: amountOf(order), currency: 'usd', status: 'captured' })]);
      expect(await chargesOf(order)).toEqual([
        expect.objectContaining({ id: shown, amount: amountOf(order), status: 'succeeded', payment_method: 'pm_test_lost_answer_once' }),
      ]);
      expect(await merchantAvailable()).toBe(merchantBefore + amountOf(order));
      expect((await payments.getAccount(shopper)).data.balance).toBe(100_00); // the wallet was not touched
      await expectCardInvariants();
    });

    it('a declined card: 402 with the reason shown, nothing charged or captured; another card then pays with a new key', async () => {
      const { order } = await newOrder(0);
      const merchantBefore = await merchantAvailable();
      const traffic = recordPayTraffic();
      const page = await openCheckout(order);
      await chooseTestCard(page, 'pm_test_decline_insufficient_funds');

      await payButton(page).click();

      await page.locator('#status[data-state="declined"]').waitFor();
      const status = await page.getByRole('status').textContent();
      expect(status).toContain('Payment declined');
      expect(status).toContain('Your card was declined (insufficient funds). Nothing was charged.');
      expect(status).toContain('Try another card or pay from your wallet.');
      expect(await page.getByRole('radio', { name: /^Shop wallet/ }).isDisabled()).toBe(false);
      await screenshot(page, 'card-declined');
      const [declined] = await chargesOf(order);
      expect(declined).toMatchObject({ status: 'failed', decline_code: 'insufficient_funds', amount_captured: 0 });
      expect(await capturesOf(declined!.id)).toEqual([]);
      expect(await merchantAvailable()).toBe(merchantBefore);

      await chooseTestCard(page, 'pm_test_ok');
      await payButton(page).click();

      const shown = await paidChargeShownBy(page);
      expect(traffic.keys).toHaveLength(2);
      expect(traffic.keys[1]).not.toBe(traffic.keys[0]);
      expect((await traffic.answers()).map((answer) => [answer.status, answer.body.status])).toEqual([
        [402, 'declined'],
        [200, 'paid'],
      ]);
      expect(await capturesOf(shown)).toHaveLength(1);
      expect(await capturesOf(declined!.id)).toEqual([]);
      expect((await chargesOf(order)).map((charge) => [charge.id, charge.status])).toEqual([
        [shown, 'succeeded'],
        [declined!.id, 'failed'],
      ]);
      expect(await merchantAvailable()).toBe(merchantBefore + amountOf(order));
      await expectCardInvariants();
    });

    it('sessionStorage blocked (storage disabled): the page pays with a key in memory, says a reload starts over, and pays once', async () => {
      const { order, shopper } = await newOrder(200_00);
      const merchantBefore = await merchantAvailable();
      // What Chromium does when site data is blocked: reading window.sessionStorage throws.
      await context.addInitScript(() => {
        Object.defineProperty(window, 'sessionStorage', {
          get() {
            throw new DOMException('Access is denied for this document.', 'SecurityError');
          },
        });
      });
      const traffic = recordPayTraffic();
      const page = await openCheckout(order);
      const notice = page.locator('#storage-notice');
      expect(await notice.isVisible()).toBe(true);
      expect(await notice.textContent()).toContain('reloading it starts your payment over');
      await sendPayRequestsTogether(2);

      await payButton(page).click({ clickCount: 2 });

      const shown = await paidChargeShownBy(page);
      await waitUntil(() => traffic.answerCount === 2, '2 answers');
      expect(new Set(traffic.keys).size).toBe(1);
      expect((await expectPaidOnce(order, shopper, 200_00, merchantBefore)).id).toBe(shown);
    });

    it('sessionStorage available: no notice about reloads', async () => {
      const { order } = await newOrder(200_00);
      const page = await openCheckout(order);
      expect(await page.locator('#storage-notice').isVisible()).toBe(false);
    });
  });
}
