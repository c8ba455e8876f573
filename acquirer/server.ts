import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { drawFault, isTestCard, testCardFault, type Fault, type FaultConfig } from './faults.js';
import type { Journal } from './journal.js';
import {
  decide,
  error,
  fingerprint,
  isText,
  parsePaymentRequest,
  type Delivery,
  type JournalEntry,
  type PaymentStore,
} from './payments.js';

// The acquirer's HTTP API on node:http, which leaves the socket in our hands: a lost answer is a
// reset after the effect, a timeout a connection held with no answer.

export interface AcquirerOptions {
  store: PaymentStore;
  journal: Journal<JournalEntry>;
  faults: FaultConfig;
  /** Called when the journal cannot be written: the acquirer must stop rather than answer. */
  onFatal: (error: unknown) => void;
}

const MAX_BODY_BYTES = 16 * 1024;

export function createAcquirer({ store, journal, faults, onFatal }: AcquirerOptions): Server {
  /** Keys whose request is being handled now: another request with one of them is a 409. */
  const inFlight = new Set<string>();
  /** Requests without a key draw their faults as keys of their own, in the order they come. */
  let keylessRequests = 0;

  /** Writes the entry to disk, then to memory: what was answered is always in the journal. */
  async function record(entry: JournalEntry): Promise<void> {
    try {
      await journal.append(entry);
    } catch (failure) {
      onFatal(failure); // what the journal holds may now differ from memory
      throw failure;
    }
    store.apply(entry);
  }

  async function createPayment(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readJson(request);
    if ('problem' in body)
      return reply(response, body.problem === 'too large' ? 413 : 400, error('invalid_request', `the body is ${body.problem}`));
    const payment = parsePaymentRequest(body.json);
    if (typeof payment === 'string') return reply(response, 400, error('invalid_request', payment));
    const key = request.headers['idempotency-key'];
    if (key !== undefined && !isText(key))
      return reply(response, 400, error('invalid_request', 'Idempotency-Key must have 1 to 255 characters'));
    if (isTestCard(payment.payment_method) && !testCardFault(payment.payment_method, 1))
      return reply(response, 400, error('invalid_request', `unknown test card ${payment.payment_method}`));

    const now = new Date();
    const faultFor = (drawKey: string, attempt: number): Fault =>
      testCardFault(payment.payment_method, attempt) ?? drawFault(faults, drawKey, attempt);

    if (key === undefined) {
      const fault = faultFor(`keyless-${++keylessRequests}`, 1);
      if (fault.kind !== 'timeout') await sleep(fault.latencyMs);
      const outcome = decide(payment, fault, null, null, now);
      if (outcome.payment) await record({ at: now.toISOString(), key: null, payment: outcome.payment, answer: null });
      return deliver(request, response, outcome.delivery);
    }

    const bodyFingerprint = fingerprint(payment);
    const known = store.key(key, now);
    if (known && known.fingerprint !== bodyFingerprint)
      return reply(response, 422, error('idempotency_key_reused', 'This Idempotency-Key was used with another request body.'));
    if (inFlight.has(key))
      return reply(response, 409, error('idempotency_key_in_use', 'A request with this Idempotency-Key is being handled.'));
    inFlight.add(key);
    let delivery: Delivery;
    try {
      const attempt = (known?.attempts ?? 0) + 1;
      const fault = faultFor(key, attempt);
      if (fault.kind !== 'timeout') await sleep(fault.latencyMs);
      const outcome = decide(payment, fault, known?.answer ?? null, key, now);
      const entry: JournalEntry = {
        at: now.toISOString(),
        key: { value: key, fingerprint: bodyFingerprint, attempt },
        payment: outcome.payment,
        answer: outcome.answer,
      };
      await record(entry);
      delivery = outcome.delivery;
    } finally {
      inFlight.delete(key);
    }
    deliver(request, response, delivery);
  }

  function deliver(request: IncomingMessage, response: ServerResponse, delivery: Delivery): void {
    switch (delivery.kind) {
      case 'send':
        return reply(response, delivery.status, delivery.body, delivery.headers);
      case 'reset':
        request.socket.resetAndDestroy();
        return;
      case 'hold': {
        const timer = setTimeout(() => request.socket.destroy(), faults.timeoutMs);
        request.socket.once('close', () => clearTimeout(timer));
        return;
      }
    }
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://acquirer');
    const paymentId = /^\/v1\/payments\/([^/]+)$/.exec(url.pathname)?.[1];
    if (request.method === 'POST' && url.pathname === '/v1/payments') return createPayment(request, response);
    if (request.method !== 'GET') return reply(response, 404, error('not_found', `no route ${request.method} ${url.pathname}`));
    if (url.pathname === '/health') return reply(response, 200, { status: 'ok' });
    if (url.pathname === '/_captures') return reply(response, 200, { data: store.captures() });
    if (url.pathname === '/v1/payments') {
      const reference = url.searchParams.get('reference');
      if (!isText(reference)) return reply(response, 400, error('invalid_request', 'give ?reference= to look payments up'));
      return reply(response, 200, { data: store.withReference(reference) });
    }
    if (paymentId) {
      const payment = store.payment(paymentId);
      return payment ? reply(response, 200, { ...payment }) : reply(response, 404, error('not_found', 'no such payment'));
    }
    return reply(response, 404, error('not_found', `no route GET ${url.pathname}`));
  }

  return createServer((request, response) => {
    // A client that went away mid-body, or a journal that failed (see record): no answer.
    route(request, response).catch(() => request.socket.destroy());
  });
}

function reply(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

async function readJson(request: IncomingMessage): Promise<{ json: unknown } | { problem: 'too large' | 'not JSON' }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return { problem: 'too large' };
    chunks.push(chunk);
  }
  try {
    return { json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch {
    return { problem: 'not JSON' };
  }
}
