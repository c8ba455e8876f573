import type { OrderLineView, PaymentView } from '../shared/checkout-api.js';

export interface Order {
  id: string;
  lines: OrderLineView[];
  currency: string;
  /** The shopper's account at the payments service: the charge is taken from it. */
  customerAccount: string;
}

/** One payment attempt of an order: its idempotency key, and the card it pays with (none: the wallet). */
export interface Attempt {
  key: string;
  paymentMethod: string | undefined;
}

interface OrderRecord {
  order: Order;
  /** The order's payment attempt that is undecided or paid. */
  attempt: Attempt | undefined;
  payment: PaymentView | undefined;
}

/** What an order costs: the sum of its lines, in minor units. */
export function amountOf(order: Order): number {
  return order.lines.reduce((sum, line) => sum + line.quantity * line.unitAmount, 0);
}

/**
 * The shop's orders, in memory for the example (a real shop keeps them in its database).
 *
 * Besides each order it remembers the order's open payment attempt: its key and its payment method.
 * Every pay request for the order uses that attempt until it is declined, even one from a tab that
 * minted a key of its own or chose another way to pay, so two tabs that do not share a key still
 * cannot pay one order twice, and a key is never sent with two different charges.
 */
export class OrderBook {
  private readonly records = new Map<string, OrderRecord>();

  add(order: Order): Order {
    if (this.records.has(order.id)) throw new Error(`order ${order.id} exists`);
    this.records.set(order.id, { order, attempt: undefined, payment: undefined });
    return order;
  }

  get(id: string): Order | undefined {
    return this.records.get(id)?.order;
  }

  paymentOf(id: string): PaymentView | undefined {
    return this.records.get(id)?.payment;
  }

  /** The attempt to pay the order with: the open one if there is one, else `asked`, which opens one. */
  attemptFor(id: string, asked: Attempt): Attempt {
    const record = this.recordOf(id);
    record.attempt ??= asked;
    return record.attempt;
  }

  /** A declined attempt is over: the shopper's next try is a new payment, with a new key. */
  closeAttempt(id: string, key: string): void {
    const record = this.recordOf(id);
    if (record.attempt?.key === key && record.payment === undefined) record.attempt = undefined;
  }

  markPaid(id: string, payment: PaymentView): void {
    this.recordOf(id).payment = payment;
  }

  private recordOf(id: string): OrderRecord {
    const record = this.records.get(id);
    if (!record) throw new Error(`no order ${id}`);
    return record;
  }
}
