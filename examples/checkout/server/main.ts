import { PaymentsAdminClient, PaymentsClient } from '@payments/client';
import { fileURLToPath } from 'node:url';
import { close, createCheckoutServer, listen } from './checkout-server.js';
import { createDemoOrders } from './demo-orders.js';
import { OrderBook, amountOf } from './orders.js';
import { WebhookInbox } from './webhook-inbox.js';
import { startPaymentsService, type RunningPaymentsService } from './payments-service.js';

// The demo (npm run example:checkout at the repository root). With PAYMENTS_URL and
// MERCHANT_API_KEY it uses that payments service and merchant; without PAYMENTS_URL it starts the
// payments service itself and creates a merchant. Either way it creates a shopper and two orders.

const repositoryRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const pageDir = fileURLToPath(new URL('../page/', import.meta.url));

let service: RunningPaymentsService | undefined;

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 8080);
  let paymentsUrl = process.env.PAYMENTS_URL;
  let apiKey = process.env.MERCHANT_API_KEY;
  if (!paymentsUrl) {
    console.log('PAYMENTS_URL is not set: starting the payments service (node dist/src/main.js)…');
    service = await startPaymentsService(repositoryRoot);
    paymentsUrl = service.url;
  }
  if (!apiKey) {
    if (!service) throw new Error('PAYMENTS_URL is set: set MERCHANT_API_KEY (the merchant’s sk_… key) too');
    const admin = new PaymentsAdminClient({ baseUrl: paymentsUrl, adminToken: service.adminToken });
    apiKey = (await admin.createMerchant({ name: 'Acme Outdoor' })).data.api_key!;
  }

  // Short enough that the page hears "not confirmed yet" within seconds and tells the shopper;
  // the page then asks again with the same key for as long as it takes.
  // An attempt waits longer than the payments API's CHARGE_WAIT_MS (5 s by default), so that a card
  // charge's 202 pending arrives before the attempt is given up.
  const payments = new PaymentsClient({
    baseUrl: paymentsUrl,
    apiKey,
    timeoutMs: 7_000,
    retry: { maxAttempts: 4, totalTimeoutMs: 10_000 },
  });
  const orders = new OrderBook();
  const demoOrders = await createDemoOrders(payments, orders);
  const webhooks = new WebhookInbox(orders, (line) => console.log(line));
  const server = createCheckoutServer({ payments, orders, pageDir, shopName: 'Acme Outdoor', webhooks });
  const url = await listen(server, port, process.env.HOST ?? '127.0.0.1');
  // The shop hears of every succeeded charge, so an order whose shopper left mid-payment still ends
  // up paid. With a payments service of its own, WEBHOOK_ALLOW_HTTP_LOOPBACK lets it call this http URL.
  const endpoint = await payments.createWebhookEndpoint({ url: `${url}/webhooks`, events: ['charge.succeeded'] });
  webhooks.secrets = [endpoint.data.secret!];

  console.log(`\nThe checkout is at ${url} (payments API: ${paymentsUrl})`);
  for (const order of demoOrders) {
    console.log(`  ${url}/?order=${order.id}   ${(amountOf(order) / 100).toFixed(2)} ${order.currency.toUpperCase()}`);
  }
  console.log('The wallet holds 150.00: the first order can be paid once, the second is declined. Ctrl-C stops.');
  console.log('Either order can be paid by test card too (the simulated acquirer: approved, answer lost, slow or declined).');

  const stop = async () => {
    await close(server);
    await service?.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  await service?.stop();
  process.exit(1);
});
