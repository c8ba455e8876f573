import { createHash, randomBytes } from 'node:crypto';
import type { Fault } from './faults.js';

// What the acquirer holds — payments and idempotency keys — and what one request does to it.
// Everything here is rebuilt from the journal on start: each request's durable trace is one
// JournalEntry, applied the same way live and in replay.

export interface PaymentRequest {
  amount: number;
  currency: string;
  payment_method: string;
  capture: boolean;
  reference: string | null;
}

export interface Payment {
  id: string;
  status: 'captured' | 'authorized' | 'declined';
  amount: number;
  currency: string;
  payment_method: string;
  reference: string | null;
  decline_code: string | null;
  /** The Idempotency-Key it was made under (null: none was sent). */
  idempotency_key: string | null;
  created_at: string;
}

/** An answer cached under a key and replayed to every later attempt. */
export interface StoredAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** One request's durable trace. */
export interface JournalEntry {
  at: string;
  /** Keyed requests only, each attempt of which is recorded so that attempts count across restarts. */
  key: { value: string; fingerprint: string; attempt: number } | null;
  payment: Payment | null;
  /** The answer to cache under the key (keyed requests that reached a definitive answer or a 500). */
  answer: StoredAnswer | null;
}

export interface KeyRecord {
  fingerprint: string;
  attempts: number;
  firstUsedAt: number;
  answer: StoredAnswer | null;
}

/** How the answer leaves: sent, or the connection reset after the effect, or held with no effect. */
export type Delivery =
  { kind: 'send'; status: number; body: Record<string, unknown>; headers: Record<string, string> } | { kind: 'reset' } | { kind: 'hold' };

export const MAX_AMOUNT = 99_999_999_999;
const MAX_TEXT = 255;

/** The request body, checked and with its defaults; a string says what is wrong with it. */
export function parsePaymentRequest(body: unknown): PaymentRequest | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body must be a JSON object';
  const fields = body as Record<string, unknown>;
  const known = ['amount', 'currency', 'payment_method', 'capture', 'reference'];
  const unknown = Object.keys(fields).filter((name) => !known.includes(name));
  if (unknown.length > 0) return `unknown field(s): ${unknown.join(', ')}`;
  const { amount, currency, payment_method, capture = true, reference = null } = fields;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 1 || amount > MAX_AMOUNT)
    return `amount must be an integer from 1 to ${MAX_AMOUNT} (minor units)`;
  if (typeof currency !== 'string' || !/^[a-z]{3}$/.test(currency)) return 'currency must be three lowercase letters';
  if (!isText(payment_method)) return `payment_method must be a string of 1 to ${MAX_TEXT} characters`;
  if (typeof capture !== 'boolean') return 'capture must be a boolean';
  if (reference !== null && !isText(reference)) return `reference must be a string of 1 to ${MAX_TEXT} characters`;
  return { amount, currency, payment_method, capture, reference };
}

export function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= MAX_TEXT;
}

/** What identifies a request's body under its key: a different one is a 422. */
export function fingerprint(request: PaymentRequest): string {
  const fields = [request.amount, request.currency, request.payment_method, request.capture, request.reference];
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

/**
 * What a request does, given its fault and the answer already cached under its key: the payment
 * it makes (if any), the answer to cache (if any) and how the answer leaves.
 */
export function decide(
  request: PaymentRequest,
  fault: Fault,
  cached: StoredAnswer | null,
  idempotencyKey: string | null,
  now: Date,
): { payment: Payment | null; answer: StoredAnswer | null; delivery: Delivery } {
  const nothing = { payment: null, answer: null };
  if (fault.kind === 'timeout') return { ...nothing, delivery: { kind: 'hold' } };
  if (fault.kind === 'transient503') {
    return {
      ...nothing,
      delivery: send({ status: 503, body: error('temporarily_unavailable', 'Try again.') }, { 'transient-error': 'true' }),
    };
  }
  if (cached) {
    return { ...nothing, delivery: fault.kind === 'lost_answer' ? { kind: 'reset' } : send(cached, { 'idempotent-replayed': 'true' }) };
  }
  const make = (status: Payment['status'], declineCode: string | null = null): Payment => ({
    id: `pay_${randomBytes(12).toString('hex')}`,
    status,
    amount: request.amount,
    currency: request.currency,
    payment_method: request.payment_method,
    reference: request.reference,
    decline_code: declineCode,
    idempotency_key: idempotencyKey,
    created_at: now.toISOString(),
  });
  const succeeded = request.capture ? 'captured' : 'authorized';
  switch (fault.kind) {
    case 'error500': {
      const answer = { status: 500, body: error('internal_error', 'Something went wrong; the payment may or may not have been made.') };
      return { payment: fault.captured ? make(succeeded) : null, answer, delivery: send(answer) };
    }
    case 'decline': {
      const payment = make('declined', fault.declineCode);
      const answer = {
        status: 402,
        body: { ...error('card_declined', 'The card was declined.'), decline_code: fault.declineCode, payment: payment.id },
      };
      return { payment, answer, delivery: send(answer) };
    }
    case 'lost_answer':
    case 'none': {
      const payment = make(succeeded);
      const answer = { status: 201, body: { ...payment } };
      return { payment, answer, delivery: fault.kind === 'lost_answer' ? { kind: 'reset' } : send(answer) };
    }
  }
}

export function error(code: string, message: string): Record<string, unknown> {
  return { error: code, message };
}

function send(answer: StoredAnswer, headers: Record<string, string> = {}): Delivery {
  return { kind: 'send', status: answer.status, body: answer.body, headers };
}

/** Payments and keys in memory, built by applying journal entries in order. */
export class PaymentStore {
  private readonly keys = new Map<string, KeyRecord>();
  private readonly payments: Payment[] = [];
  private readonly byId = new Map<string, Payment>();
  private readonly byReference = new Map<string, Payment[]>();

  /** @param keyTtlMs how long a key is remembered from its first use (Stripe: 24 h). */
  constructor(private readonly keyTtlMs: number) {}

  apply(entry: JournalEntry): void {
    if (entry.key) {
      const { value, fingerprint, attempt } = entry.key;
      // Attempt 1 is a key first seen, or seen again after it expired: a new record.
      const record = attempt === 1 ? undefined : this.keys.get(value);
      const next = record ?? { fingerprint, attempts: 0, firstUsedAt: Date.parse(entry.at), answer: null };
      next.attempts = attempt;
      next.answer = entry.answer ?? next.answer;
      this.keys.set(value, next);
    }
    if (entry.payment) {
      const payment = entry.payment;
      this.payments.push(payment);
      this.byId.set(payment.id, payment);
      if (payment.reference !== null)
        this.byReference.set(payment.reference, [...(this.byReference.get(payment.reference) ?? []), payment]);
    }
  }

  /** The key's record, unless it was never used or has expired. */
  key(value: string, now: Date): KeyRecord | undefined {
    const record = this.keys.get(value);
    return record && now.getTime() - record.firstUsedAt < this.keyTtlMs ? record : undefined;
  }

  payment(id: string): Payment | undefined {
    return this.byId.get(id);
  }

  withReference(reference: string): Payment[] {
    return this.byReference.get(reference) ?? [];
  }

  captures(): Payment[] {
    return this.payments.filter((payment) => payment.status === 'captured');
  }

  /** How many payments were made, for the start-up line. */
  get size(): number {
    return this.payments.length;
  }
}
