import type { DeclinedAnswer, FailedAnswer, PaidAnswer, PayAnswer, PendingAnswer } from '../shared/checkout-api';

/** Where the keys live: sessionStorage, or a Map when the browser refuses storage to this page. */
type KeyStore = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/** A store for this page's lifetime only: what is left when sessionStorage is blocked. */
class MemoryStore implements KeyStore {
  private readonly items = new Map<string, string>();
  getItem(name: string): string | null {
    return this.items.get(name) ?? null;
  }
  setItem(name: string, value: string): void {
    this.items.set(name, value);
  }
  removeItem(name: string): void {
    this.items.delete(name);
  }
}

/**
 * sessionStorage if this page may use it. Reading the property throws (SecurityError) when storage
 * is disabled or the page is sandboxed, and a write can throw (quota, some private modes): either
 * way the page still pays, with its key in memory.
 */
function openSessionStorage(): Storage | undefined {
  try {
    const storage = window.sessionStorage;
    const probe = 'checkout:storage-probe';
    storage.setItem(probe, probe);
    storage.removeItem(probe);
    return storage;
  } catch {
    return undefined;
  }
}

/** A payment the shopper started: its idempotency key and the card it pays with (none: the wallet). */
export interface PendingPayment {
  key: string;
  paymentMethod: string | undefined;
}

/**
 * The idempotency key of the order's payment, and how it pays, kept in sessionStorage: it survives
 * a reload and is copied into a tab duplicated from this one, so all of them send the same key and
 * the same request. It is minted when the shopper first presses Pay and forgotten once the payment
 * is decided (paid, declined or failed); the next payment of the order is a new one, with a new key.
 * Where sessionStorage is blocked the key is kept in memory (`persistent` false): Pay still works,
 * and a reload starts over (the merchant server still pays the order once, under the attempt it has
 * open).
 */
export class PaymentKeys {
  private readonly storage: KeyStore;
  /** Whether the keys survive a reload. */
  readonly persistent: boolean;

  constructor(storage: KeyStore | undefined = openSessionStorage()) {
    this.storage = storage ?? new MemoryStore();
    this.persistent = storage !== undefined;
  }

  /** The payment in progress, if the shopper already pressed Pay (in this tab, before a reload, or in the tab it was duplicated from). */
  pending(orderId: string): PendingPayment | null {
    const stored = this.storage.getItem(storageKey(orderId));
    if (stored === null) return null;
    try {
      const payment = JSON.parse(stored) as Partial<PendingPayment>;
      if (typeof payment.key === 'string') {
        return { key: payment.key, paymentMethod: typeof payment.paymentMethod === 'string' ? payment.paymentMethod : undefined };
      }
    } catch {
      // not ours: a new payment replaces it
    }
    return null;
  }

  /** The pending payment (whatever `paymentMethod` says now: a payment keeps how it started), or a new one. */
  forPayment(orderId: string, paymentMethod: string | undefined): PendingPayment {
    let payment = this.pending(orderId);
    if (payment === null) {
      payment = { key: crypto.randomUUID(), paymentMethod };
      this.storage.setItem(storageKey(orderId), JSON.stringify(payment));
    }
    return payment;
  }

  forget(orderId: string, key: string): void {
    if (this.pending(orderId)?.key === key) this.storage.removeItem(storageKey(orderId));
  }
}

function storageKey(orderId: string): string {
  return `checkout:payment-key:${orderId}`;
}

/** How a payment ended, as far as the page can tell. */
export type PaymentOutcome =
  | PaidAnswer
  | DeclinedAnswer
  | FailedAnswer
  /** No decided answer for a long time (or an unexpected one): the key is kept, and asking again with it is safe. */
  | { status: 'unconfirmed'; detail: string };

export interface PayOptions {
  /** Told before each wait for a retry: the answer was not a decision yet (`pending`: a card charge waiting for its acquirer). */
  onUndecided?: (reason: string, pending: PendingAnswer | undefined) => void;
  /** Stop retrying after this long without a decided answer (the key is kept). */
  giveUpAfterMs?: number;
  /** One request's limit: longer than the merchant server's own retries, so it normally answers first. */
  requestTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

// Answers that say "not decided yet": the payment may or may not have happened, so the page asks
// again with the same key (the merchant server answers 202 pending for a card charge waiting for its
// acquirer, 503 pending when it has no decided answer; a proxy in front of it may answer 502 or 504,
// or something else entirely).
const UNDECIDED_STATUSES = new Set([202, 409, 429, 500, 502, 503, 504]);

/**
 * Sends POST /api/pay {orderId, key, paymentMethod} until the answer is decided, with the same key
 * and request every time: after a network error, a timeout or an undecided status (a card charge's
 * 202 pending among them) it waits (exponential backoff with full jitter, and at least the answer's
 * Retry-After) and asks again.
 */
export async function payUntilDecided(payment: { orderId: string } & PendingPayment, options: PayOptions = {}): Promise<PaymentOutcome> {
  const { orderId, key, paymentMethod } = payment;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const giveUpAt = Date.now() + (options.giveUpAfterMs ?? 120_000);
  for (let attempt = 1; ; attempt++) {
    let retryAfterMs = 0;
    let reason: string;
    let pending: PendingAnswer | undefined;
    try {
      const response = await fetch('/api/pay', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ orderId, key, paymentMethod }),
        signal: AbortSignal.timeout(options.requestTimeoutMs ?? 20_000),
      });
      // Read every body, even one only the status matters for, so the connection is free for the next request.
      const answer = parseAnswer(await response.text());
      if (UNDECIDED_STATUSES.has(response.status)) {
        retryAfterMs = 1000 * (Number(response.headers.get('Retry-After')) || 0);
        reason = `HTTP ${response.status}`;
        if (answer?.status === 'pending') pending = answer;
      } else {
        if (answer?.status === 'paid' || answer?.status === 'declined' || answer?.status === 'failed') return answer;
        return { status: 'unconfirmed', detail: `We could not confirm your payment (HTTP ${response.status}).` };
      }
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
    const backoffMs = random() * Math.min(5_000, 500 * 2 ** (attempt - 1));
    const delayMs = Math.max(retryAfterMs, backoffMs);
    if (Date.now() + delayMs > giveUpAt) {
      return { status: 'unconfirmed', detail: 'We have not been able to confirm your payment yet.' };
    }
    options.onUndecided?.(reason, pending);
    await sleep(delayMs);
  }
}

function parseAnswer(text: string): PayAnswer | undefined {
  try {
    return JSON.parse(text) as PayAnswer;
  } catch {
    return undefined;
  }
}
