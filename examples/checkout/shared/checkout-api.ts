// What the checkout page and the merchant's server say to each other: the page never talks to the
// payments API, and never sees the merchant's secret API key.

export interface OrderLineView {
  name: string;
  quantity: number;
  /** Minor units (1999 is 19.99). */
  unitAmount: number;
}

/** GET /api/orders/{id} */
export interface OrderView {
  id: string;
  shopName: string;
  lines: OrderLineView[];
  /** What the shopper pays, in minor units. */
  amount: number;
  currency: string;
  /** Set once the order is paid, so a page opened later shows the receipt instead of a Pay button. */
  payment: PaymentView | null;
}

export interface PaymentView {
  chargeId: string;
  amount: number;
  currency: string;
}

/**
 * POST /api/pay: `key` is the page's idempotency key for this payment, a UUID it keeps until the answer is decided.
 * `paymentMethod` is a card's token (`pm_…`); without it the order is paid from the shopper's wallet.
 */
export interface PayRequest {
  orderId: string;
  key: string;
  paymentMethod?: string;
}

/**
 * The simulated acquirer's test cards the page offers (acquirer/README.md, "Test cards"). A real shop
 * gets a `pm_…` token from its acquirer's card form instead; the card number never reaches the shop.
 */
export const TEST_CARDS: readonly { paymentMethod: string; label: string }[] = [
  { paymentMethod: 'pm_test_ok', label: 'Approved' },
  { paymentMethod: 'pm_test_lost_answer_once', label: 'Approved, its first answer lost' },
  { paymentMethod: 'pm_test_slow_8000', label: 'Approved after 8 seconds' },
  { paymentMethod: 'pm_test_decline_insufficient_funds', label: 'Declined: insufficient funds' },
];

/** What the payments API accepts as a card's payment method. */
export const PAYMENT_METHOD_PATTERN = /^pm_[A-Za-z0-9_]{1,97}$/;

/**
 * The answers to POST /api/pay, by HTTP status:
 * - 200 `paid`: the charge exists; `replayed` when this is the outcome recorded for an earlier request (by the
 *   payments API for the key, or by the shop once the order is paid);
 * - 202 `pending` with `chargeId`: a card charge the acquirer has not decided yet; send the same request, with the
 *   same key, after Retry-After, until it is paid or declined;
 * - 402 `declined`: the wallet's funds are too low, or the card was declined; nothing was charged, and a new
 *   attempt needs a new key;
 * - 422 `failed`: the payments API refused the payment for another reason; nothing was charged;
 * - 503 `pending`: not decided yet (the payments API, or a gateway in front of it, gave no decided answer); send
 *   the same request, with the same key, after Retry-After. Only 402 and 422 say that nothing was charged.
 */
export type PayAnswer = PaidAnswer | DeclinedAnswer | FailedAnswer | PendingAnswer;

export interface PaidAnswer extends PaymentView {
  status: 'paid';
  orderId: string;
  replayed: boolean;
}

export interface DeclinedAnswer {
  status: 'declined';
  reason: 'insufficient_funds' | 'card_declined';
  detail: string;
}

export interface FailedAnswer {
  status: 'failed';
  detail: string;
}

export interface PendingAnswer {
  status: 'pending';
  detail: string;
  /** A card charge that exists and waits for the acquirer's answer (202); absent when nothing is known yet (503). */
  chargeId?: string;
}

/** What the merchant's server accepts as a key: a UUID as crypto.randomUUID() makes it. */
export const PAYMENT_KEY_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
