import type { Fault } from './faults.js';
import { decide, fingerprint, parsePaymentRequest, PaymentStore, type JournalEntry, type PaymentRequest } from './payments.js';

const request: PaymentRequest = { amount: 1250, currency: 'eur', payment_method: 'pm_card', capture: true, reference: 'ch_1' };
const fault = (kind: Fault['kind'], captured = false): Fault => ({ kind, latencyMs: 0, captured, declineCode: 'expired_card' });
const now = new Date('2026-01-01T00:00:00Z');

describe('a payment request', () => {
  it('is read with its defaults', () => {
    expect(parsePaymentRequest({ amount: 1, currency: 'usd', payment_method: 'pm' })).toEqual({
      amount: 1,
      currency: 'usd',
      payment_method: 'pm',
      capture: true,
      reference: null,
    });
  });

  it.each([
    [[], 'JSON object'],
    [{ ...request, amount: 0 }, 'amount'],
    [{ ...request, amount: 1.5 }, 'amount'],
    [{ ...request, amount: '5' }, 'amount'],
    [{ ...request, currency: 'EUR' }, 'currency'],
    [{ ...request, payment_method: '' }, 'payment_method'],
    [{ ...request, capture: 'yes' }, 'capture'],
    [{ ...request, reference: 'x'.repeat(256) }, 'reference'],
    [{ ...request, tip: 5 }, 'unknown field(s): tip'],
  ])('is refused when wrong: %j', (body, message) => {
    expect(parsePaymentRequest(body)).toEqual(expect.stringContaining(message));
  });

  it('has a fingerprint that any field changes', () => {
    expect(fingerprint({ ...request })).toBe(fingerprint(request));
    for (const changed of [{ amount: 1 }, { currency: 'usd' }, { payment_method: 'x' }, { capture: false }, { reference: null }])
      expect(fingerprint({ ...request, ...changed })).not.toBe(fingerprint(request));
  });
});

describe('what a request does', () => {
  it('captures, or authorizes when capture is false', () => {
    const captured = decide(request, fault('none'), null, 'k', now);
    expect(captured.payment).toMatchObject({ status: 'captured', amount: 1250, idempotency_key: 'k', reference: 'ch_1' });
    expect(captured.answer).toEqual({ status: 201, body: captured.payment });
    expect(captured.delivery).toEqual({ kind: 'send', status: 201, body: captured.payment, headers: {} });
    expect(decide({ ...request, capture: false }, fault('none'), null, 'k', now).payment?.status).toBe('authorized');
  });

  it('has no effect and stores nothing on a timeout or a transient 503', () => {
    expect(decide(request, fault('timeout'), null, 'k', now)).toEqual({ payment: null, answer: null, delivery: { kind: 'hold' } });
    const unavailable = decide(request, fault('transient503'), null, 'k', now);
    expect(unavailable).toMatchObject({ payment: null, answer: null, delivery: { status: 503, headers: { 'transient-error': 'true' } } });
  });

  it('stores a 500 with or without a payment, a decline with its code, and makes a lost answer', () => {
    expect(decide(request, fault('error500', true), null, 'k', now)).toMatchObject({
      payment: { status: 'captured' },
      answer: { status: 500 },
    });
    expect(decide(request, fault('error500', false), null, 'k', now)).toMatchObject({ payment: null, answer: { status: 500 } });
    expect(decide(request, fault('decline'), null, 'k', now)).toMatchObject({
      payment: { status: 'declined', decline_code: 'expired_card' },
      answer: { status: 402, body: { error: 'card_declined', decline_code: 'expired_card' } },
    });
    expect(decide(request, fault('lost_answer'), null, 'k', now)).toMatchObject({
      payment: { status: 'captured' },
      delivery: { kind: 'reset' },
    });
  });

  it('replays a cached answer whatever the draw says about its outcome, and makes no payment', () => {
    const cached = { status: 500, body: { error: 'internal_error' } };
    for (const kind of ['none', 'decline', 'error500'] as const)
      expect(decide(request, fault(kind), cached, 'k', now)).toEqual({
        payment: null,
        answer: null,
        delivery: { kind: 'send', status: 500, body: cached.body, headers: { 'idempotent-replayed': 'true' } },
      });
    expect(decide(request, fault('lost_answer'), cached, 'k', now)).toEqual({ payment: null, answer: null, delivery: { kind: 'reset' } });
  });
});

describe('the store', () => {
  const entry = (attempt: number, at: string, answer: JournalEntry['answer'] = null): JournalEntry => ({
    at,
    key: { value: 'k', fingerprint: 'f', attempt },
    payment: null,
    answer,
  });

  it('counts attempts and keeps the first answer cached under the key', () => {
    const store = new PaymentStore(60_000);
    store.apply(entry(1, '2026-01-01T00:00:00Z'));
    store.apply(entry(2, '2026-01-01T00:00:01Z', { status: 201, body: {} }));
    store.apply(entry(3, '2026-01-01T00:00:02Z'));
    expect(store.key('k', new Date('2026-01-01T00:00:03Z'))).toEqual({
      fingerprint: 'f',
      attempts: 3,
      firstUsedAt: Date.parse('2026-01-01T00:00:00Z'),
      answer: { status: 201, body: {} },
    });
  });

  it('forgets a key once its retention is over, and starts it afresh when used again', () => {
    const store = new PaymentStore(60_000);
    store.apply(entry(1, '2026-01-01T00:00:00Z', { status: 201, body: {} }));
    expect(store.key('k', new Date('2026-01-01T00:00:59Z'))).toBeDefined();
    expect(store.key('k', new Date('2026-01-01T00:01:00Z'))).toBeUndefined();
    store.apply(entry(1, '2026-01-01T00:05:00Z'));
    expect(store.key('k', new Date('2026-01-01T00:05:01Z'))).toMatchObject({ attempts: 1, answer: null });
  });
});
