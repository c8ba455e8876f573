import { PaymentsClient } from '@payments/client';
import type { Server } from 'node:http';
import { DeliveryWorkerService } from '../src/webhooks/delivery-worker.service.js';
import { close, createCheckoutServer, listen } from '../examples/checkout/server/checkout-server.js';
import { OrderBook, amountOf } from '../examples/checkout/server/orders.js';
import { WebhookInbox } from '../examples/checkout/server/webhook-inbox.js';
import { ResponseLosingProxy } from '../testing/response-losing-proxy.js';
import { TestApp } from './support/test-app.js';

// The checkout example's merchant server receives charge.succeeded (examples/checkout/server/
// webhook-inbox.ts): an order whose shopper left mid-payment, the answer lost on the way back and
// nobody asking again, still ends up paid in the shop, once, however often the webhook comes.

describe('checkout example: webhooks mark an abandoned order paid', () => {
  let app: TestApp;
  let lossy: ResponseLosingProxy;
  let server: Server;
  let shop: string;
  const orders = new OrderBook();
  let inbox: WebhookInbox;
  let payments: PaymentsClient;

  beforeAll(async () => {
    app = await TestApp.start({ webhookAllowHttpLoopback: true, webhookRetryScheduleMs: [0, 0, 0], webhookDisableAfterSeconds: 3600 });
    lossy = new ResponseLosingProxy(Number(new URL(app.baseUrl).port));
    await lossy.start();
    const merchant = await app.merchant('checkout-webhooks');
    // One attempt only: a lost answer leaves the pay request undecided at once (503 pending).
    payments = new PaymentsClient({ baseUrl: lossy.baseUrl, apiKey: merchant.apiKey, retry: { maxAttempts: 1 } });
    inbox = new WebhookInbox(orders, () => undefined);
    server = createCheckoutServer({
      payments,
      orders,
      pageDir: 'examples/checkout/dist/page',
      shopName: 'Test shop',
      webhooks: inbox,
      log: () => undefined,
    });
    shop = await listen(server, 0);
    const endpoint = await payments.createWebhookEndpoint({ url: `${shop}/webhooks`, events: ['charge.succeeded'] });
    inbox.secrets = [endpoint.data.secret!];
  });

  afterAll(async () => {
    await close(server);
    await lossy.close();
    await app.close();
  });

  it('the shopper leaves after a lost answer; charge.succeeded marks the order paid, a redelivery changes nothing', async () => {
    const shopper = await payments.createAccount({ currency: 'usd' });
    await payments.deposit(shopper.data.id, { amount: 500_00 });
    const order = orders.add({
      id: 'ord_abandoned',
      lines: [{ name: 'Tent', quantity: 1, unitAmount: 199_00 }],
      currency: 'usd',
      customerAccount: shopper.data.id,
    });

    lossy.dropResponses(1);
    const pay = await fetch(`${shop}/api/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ orderId: order.id, key: crypto.randomUUID() }),
    });
    expect(pay.status).toBe(503); // pending: the shop does not know; the shopper closes the tab
    expect(orders.paymentOf(order.id)).toBeUndefined();

    const worker = app.app.get(DeliveryWorkerService);
    for (let round = 0; round < 100 && orders.paymentOf(order.id) === undefined; round++) await worker.runOnce();
    const charges = await app.dataSource.query<{ id: string }[]>(`SELECT id FROM charges WHERE metadata->>'order_id' = $1`, [order.id]);
    expect(charges).toHaveLength(1);
    expect(orders.paymentOf(order.id)).toEqual({ chargeId: charges[0]!.id, amount: amountOf(order), currency: 'usd' });
    expect(inbox.appliedCount).toBe(1);

    // The same webhook again (a lost 2xx, a redelivery): taken, not applied twice.
    const [event] = await app.dataSource.query<{ id: string }[]>(
      `SELECT id FROM events WHERE type = 'charge.succeeded' AND data->>'id' = $1`,
      [charges[0]!.id],
    );
    await payments.redeliverEvent(event!.id);
    const before = (await app.dataSource.query(`SELECT attempts FROM webhook_deliveries WHERE event_id = $1`, [event!.id]))[0];
    expect(before.attempts).toBe(0);
    for (let round = 0; round < 100; round++) {
      await worker.runOnce();
      const [row] = await app.dataSource.query(`SELECT status FROM webhook_deliveries WHERE event_id = $1`, [event!.id]);
      if (row.status === 'delivered') break;
    }
    expect(inbox.appliedCount).toBe(1);

    // The page, opened again, shows the receipt; paying again answers from the shop's record.
    const again = await fetch(`${shop}/api/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ orderId: order.id, key: crypto.randomUUID() }),
    });
    expect(((await again.json()) as { status: string }).status).toBe('paid');
  });

  it('refuses a webhook it cannot verify', async () => {
    const forged = await fetch(`${shop}/webhooks`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': 'evt_x',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': 'v1,AAAA',
      },
      body: '{}',
    });
    expect(forged.status).toBe(400);
  });
});
