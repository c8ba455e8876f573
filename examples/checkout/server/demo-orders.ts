import type { PaymentsClient } from '@payments/client';
import { amountOf, type Order, type OrderBook } from './orders.js';

/**
 * A shopper with a wallet of 150.00 and two orders: one it can pay, and one it cannot (to see a
 * decline). In a real shop the orders come from its cart and the accounts from its sign-up.
 */
export async function createDemoOrders(payments: PaymentsClient, orders: OrderBook): Promise<Order[]> {
  const shopper = await payments.createAccount({ currency: 'usd', name: 'Sam Shopper' });
  await payments.deposit(shopper.data.id, { amount: 150_00, description: 'Wallet top-up' });
  // Numbered afresh on each start, so a tab left open from an earlier run never resumes its key here.
  const number = 10_000 + Math.floor(Math.random() * 90_000);
  const affordable = orders.add({
    id: `ord_${number}`,
    currency: 'usd',
    customerAccount: shopper.data.id,
    lines: [
      { name: 'Trail running shoes', quantity: 1, unitAmount: 89_00 },
      { name: 'Merino socks', quantity: 2, unitAmount: 12_50 },
    ],
  });
  const tooDear = orders.add({
    id: `ord_${number + 1}`,
    currency: 'usd',
    customerAccount: shopper.data.id,
    lines: [{ name: 'Down expedition jacket', quantity: 1, unitAmount: 249_00 }],
  });
  if (amountOf(tooDear) <= 150_00) throw new Error('the second demo order must cost more than the wallet holds');
  return [affordable, tooDear];
}
