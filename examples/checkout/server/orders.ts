import type { OrderLineView, PaymentView } from '../shared/checkout-api.js';

export interface Order {
  id: string;
  lines: OrderLineView[];
  currency: string;
  /** The shopper's account at the payments service: the charge is taken from it. */
  customerAccount: string;
}

interface OrderRecord {
  order: Order;
  /** The key of the order's payment attempt that is undecided or paid. */
  attemptKey: string | undefined;
  payment: PaymentView | undefined;
}

/** What an order costs: the sum of its lines, in minor units. */
export function amountOf(order: Order): number {
  return order.lines.reduce((sum, line) => sum + line.quantity * line.unitAmount, 0);
}

/**
 * The shop's orders, in memory for the example (a real shop keeps them in its database).
 *
 * Besides each order it remembers the key of the order's open payment attempt. Every pay request
 * for the order uses that key until the attempt is declined, even one from a tab that minted a key
 * of its own, so two tabs that do not share a key still cannot pay one order twice.
 */
export class OrderBook {
  private readonly records = new Map<string, OrderRecord>();

  add(order: Order): Order {
    if (this.records.has(order.id)) throw new Error(`order ${order.id} exists`);
    this.records.set(order.id, { order, attemptKey: undefined, payment: undefined });
    return order;
  }

  get(id: string): Order | undefined {
    return this.records.get(id)?.order;
  }

  paymentOf(id: string): PaymentView | undefined {
    return this.records.get(id)?.payment;
  }

  /** The key to pay the order with: the open attempt's if there is one, else `key`, which opens one. */
  attemptKeyFor(id: string, key: string): string {
    const record = this.recordOf(id);
    record.attemptKey ??= key;
    return record.attemptKey;
  }

  /** A declined attempt is over: the shopper's next try is a new payment, with a new key. */
  closeAttempt(id: string, key: string): void {
    const record = this.recordOf(id);
    if (record.attemptKey === key && record.payment === undefined) record.attemptKey = undefined;
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
