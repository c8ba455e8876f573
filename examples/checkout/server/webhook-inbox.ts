import { WebhookVerificationError, verifyWebhook, type Charge, type Event } from '@payments/client';
import type { IncomingMessage } from 'node:http';
import { amountOf, type OrderBook } from './orders.js';

const MAX_BODY_BYTES = 256 * 1024;

/** What the inbox answers the payments service: 204 taken (or already taken), 400 not a webhook to trust. */
export interface InboxReply {
  status: number;
  body?: { reason: string };
}

/**
 * The shop's end of the payments service's webhooks (POST /webhooks): the raw body verified with
 * the endpoint's secret(s), each webhook-id applied once, and `charge.succeeded` of an order's
 * charge marks the order paid. So an order whose shopper left mid-payment (the page never heard the
 * answer, and nobody asked again) still ends up paid in the shop once its charge has succeeded.
 */
export class WebhookInbox {
  /** The endpoint's secrets: set once the endpoint is created (and both during a secret roll). */
  secrets: string[] = [];
  /** webhook-ids applied (a real shop keeps them in its database, with the order). */
  private readonly applied = new Set<string>();

  constructor(
    private readonly orders: OrderBook,
    private readonly log: (line: string) => void,
  ) {}

  get appliedCount(): number {
    return this.applied.size;
  }

  async receive(request: IncomingMessage): Promise<InboxReply> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return { status: 413, body: { reason: 'too_large' } };
      chunks.push(chunk);
    }
    if (this.secrets.length === 0) return { status: 503, body: { reason: 'not_ready' } };
    let event: Event;
    try {
      event = (await verifyWebhook(Buffer.concat(chunks), request.headers, this.secrets)) as Event;
    } catch (error) {
      if (error instanceof WebhookVerificationError) return { status: 400, body: { reason: error.reason } };
      throw error;
    }
    // A repeat (a retry after a lost 2xx, a redelivery) is answered as taken and not applied again.
    if (this.applied.has(event.id)) return { status: 204 };
    this.apply(event);
    this.applied.add(event.id);
    return { status: 204 };
  }

  private apply(event: Event): void {
    if (event.type !== 'charge.succeeded') return;
    const charge = event.data.object as unknown as Charge;
    const order = this.orders.get(charge.metadata.order_id ?? '');
    if (!order || this.orders.paymentOf(order.id)) return;
    // Only the charge this shop makes for the order: its amount and currency.
    if (charge.amount !== amountOf(order) || charge.currency !== order.currency) return;
    this.orders.markPaid(order.id, { chargeId: charge.id, amount: charge.amount, currency: charge.currency });
    this.log(`order ${order.id}: paid by ${charge.id} (webhook ${event.id})`);
  }
}
