import {
  ChargePendingError,
  CircuitOpenError,
  IdempotencyKeyReusedError,
  OutcomeUnknownError,
  PaymentsClient,
  ProblemError,
} from '@payments/client';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PAYMENT_KEY_PATTERN, PAYMENT_METHOD_PATTERN, type OrderView, type PayAnswer, type PayRequest } from '../shared/checkout-api.js';
import { amountOf, type OrderBook } from './orders.js';
import type { WebhookInbox } from './webhook-inbox.js';

export interface CheckoutServerOptions {
  /** The payments API, with the merchant's secret API key: it stays on this server. */
  payments: PaymentsClient;
  orders: OrderBook;
  /** The built page (vite build's output). */
  pageDir: string;
  shopName: string;
  log?: (line: string) => void;
  /** The payments service's webhooks, at POST /webhooks; without it the route is 404. */
  webhooks?: WebhookInbox;
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const MAX_BODY_BYTES = 4096;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

// The page loads only its own files and talks only to this server.
const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/**
 * The merchant's checkout server: it serves the page, shows orders, and turns the page's
 * POST /api/pay {orderId, key} into one charge at the payments API, with the page's key as the
 * Idempotency-Key. However often the page sends a key (double clicks, retries, reloads, tabs),
 * the payments API runs the charge once and answers every repeat with the recorded outcome.
 */
export function createCheckoutServer(options: CheckoutServerOptions): Server {
  const { payments, orders, shopName } = options;
  const pageDir = path.resolve(options.pageDir);
  const log = options.log ?? ((line: string) => console.log(line));

  async function pay(request: PayRequest): Promise<Reply> {
    const order = orders.get(request.orderId);
    if (!order) return answer(404, { status: 'failed', detail: `There is no order ${request.orderId}.` });
    // Once the order is paid its own record answers: the payments API forgets a key after 24 hours
    // (a request with it would then charge again), the shop's order does not.
    const paid = orders.paymentOf(order.id);
    if (paid) return answer(200, { status: 'paid', orderId: order.id, ...paid, replayed: true });
    // The order's open attempt decides the key and the way to pay: a request that chose otherwise
    // (another tab, a method changed while the payment was undecided) joins that attempt.
    const attempt = orders.attemptFor(order.id, { key: request.key, paymentMethod: request.paymentMethod });
    const idempotencyKey = attempt.key;
    try {
      const charge = await payments.createCharge(
        {
          amount: amountOf(order),
          currency: order.currency,
          ...(attempt.paymentMethod === undefined ? { source: order.customerAccount } : { payment_method: attempt.paymentMethod }),
          description: `Order ${order.id}`,
          metadata: { order_id: order.id },
        },
        // A card charge the acquirer has not decided yet (the payments API waited for it already)
        // goes back to the page at once, which asks again with the key: no shopper's request is
        // held here waiting on an acquirer.
        { idempotencyKey, pendingWaitMs: 0 },
      );
      const payment = { chargeId: charge.data.id, amount: charge.data.amount, currency: charge.data.currency };
      orders.markPaid(order.id, payment);
      log(`order ${order.id}: paid by ${payment.chargeId}${charge.replayed ? ' (the recorded answer, replayed)' : ''}`);
      return answer(200, { status: 'paid', orderId: order.id, ...payment, replayed: charge.replayed });
    } catch (error) {
      if (error instanceof ChargePendingError) {
        log(`order ${order.id}: card charge ${error.charge.id} pending at the acquirer`);
        return answer(
          202,
          {
            status: 'pending',
            chargeId: error.charge.id,
            detail: 'The card payment waits for the card issuer: ask again with the same key.',
          },
          { 'Retry-After': String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))) },
        );
      }
      if (error instanceof ProblemError) {
        // The payments API itself decided (its own problem+json with a decided code): nothing was
        // charged, and the next attempt is a new payment with a new key. The client throws a
        // ProblemError for nothing else: a gateway's 502 or 504, a reset, a 500 or a 503 is retried,
        // and when retries run out it is an OutcomeUnknownError, handled below.
        orders.closeAttempt(order.id, idempotencyKey);
        if (error.code === 'insufficient_funds') {
          log(`order ${order.id}: declined, insufficient funds${error.replayed ? ' (the recorded answer, replayed)' : ''}`);
          return answer(402, {
            status: 'declined',
            reason: 'insufficient_funds',
            detail: 'Your wallet balance is too low to pay for this order. Nothing was charged.',
          });
        }
        if (error.code === 'card_declined') {
          const declineCode = error.declineCode ?? 'generic_decline';
          log(`order ${order.id}: card declined (${declineCode})${error.replayed ? ' (the recorded answer, replayed)' : ''}`);
          return answer(402, {
            status: 'declined',
            reason: 'card_declined',
            detail: `Your card was declined (${declineCode.replaceAll('_', ' ')}). Nothing was charged.`,
          });
        }
        // A key reused for another request is a bug in this shop's keys; anything else (401, 404
        // of the account, 422 currency_mismatch) is its configuration. The shopper gets no details.
        log(`order ${order.id}: refused by the payments API: ${error instanceof IdempotencyKeyReusedError ? error.code : error.message}`);
        return answer(422, { status: 'failed', detail: 'The payment could not be made. Nothing was charged.' });
      }
      // Anything else is undecided (OutcomeUnknownError: retries, the retry budget or the circuit
      // ran out; an abort; an unexpected exception): the charge may exist, so the attempt stays open
      // under its key and the page asks again with it. Never "nothing was charged" here.
      const retryAfterMs = retryAfterOf(error);
      log(`order ${order.id}: not confirmed yet (${error instanceof Error ? error.message : String(error)})`);
      return answer(
        503,
        { status: 'pending', detail: 'The payment is not confirmed yet: ask again with the same key.' },
        { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
      );
    }
  }

  function orderView(id: string): Reply {
    const order = orders.get(id);
    if (!order) return { status: 404, body: { detail: `There is no order ${id}.` } };
    const view: OrderView = {
      id: order.id,
      shopName,
      lines: order.lines,
      amount: amountOf(order),
      currency: order.currency,
      payment: orders.paymentOf(order.id) ?? null,
    };
    return { status: 200, body: view };
  }

  async function route(request: IncomingMessage): Promise<Reply | { file: string }> {
    const url = new URL(request.url ?? '/', 'http://checkout.invalid');
    if (url.pathname === '/api/pay') {
      if (request.method !== 'POST') return { status: 405, body: { detail: 'POST only' }, headers: { Allow: 'POST' } };
      const parsed = await readPayRequest(request);
      return 'request' in parsed ? pay(parsed.request) : parsed;
    }
    if (url.pathname === '/webhooks' && options.webhooks) {
      if (request.method !== 'POST') return { status: 405, body: { detail: 'POST only' }, headers: { Allow: 'POST' } };
      const received = await options.webhooks.receive(request);
      return { status: received.status, body: received.body };
    }
    const orderPath = /^\/api\/orders\/([A-Za-z0-9_-]{1,64})$/.exec(url.pathname);
    if (orderPath && request.method === 'GET') return orderView(orderPath[1]!);
    if (url.pathname.startsWith('/api/')) return { status: 404, body: { detail: 'No such route.' } };
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return { status: 405, body: { detail: 'GET only' }, headers: { Allow: 'GET, HEAD' } };
    return { file: url.pathname === '/' ? '/index.html' : url.pathname };
  }

  async function serveFile(urlPath: string, response: ServerResponse): Promise<void> {
    let file: string;
    try {
      file = path.resolve(pageDir, '.' + decodeURIComponent(urlPath));
    } catch {
      return send(response, { status: 400, body: { detail: 'Bad path.' } });
    }
    const type = CONTENT_TYPES[path.extname(file)];
    if (!file.startsWith(pageDir + path.sep) || !type) return send(response, { status: 404, body: { detail: 'Not found.' } });
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch {
      return send(response, { status: 404, body: { detail: 'Not found.' } });
    }
    // Vite names built assets by their content, so they never change; the page itself may.
    const cache = urlPath.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    response.writeHead(200, { 'Content-Type': type, 'Cache-Control': cache, ...PAGE_HEADERS }).end(content);
  }

  return createServer((request, response) => {
    route(request)
      .then((routed) => ('file' in routed ? serveFile(routed.file, response) : send(response, routed)))
      .catch((error: unknown) => {
        log(`${request.method} ${request.url}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        // An unexpected failure says nothing about the charge: the page keeps its key, so checking again is safe.
        if (!response.headersSent) send(response, { status: 500, body: { detail: 'Something went wrong on our side.' } });
        else response.destroy();
      });
  });
}

/** When to ask again: what the last undecided answer asked for, else a second. */
function retryAfterOf(error: unknown): number {
  if (error instanceof OutcomeUnknownError) {
    const last = error.lastError;
    if (last && 'retryAfterMs' in last && last.retryAfterMs !== undefined) return last.retryAfterMs;
    if (error instanceof CircuitOpenError) return Math.max(1000, error.retryAt.getTime() - Date.now());
  }
  return 1000;
}

function answer(status: number, body: PayAnswer, headers?: Record<string, string>): Reply {
  return { status, body, headers };
}

function send(response: ServerResponse, reply: Reply): void {
  const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
  response
    .writeHead(reply.status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      ...reply.headers,
    })
    .end(text);
}

/** The body of POST /api/pay, or the reply that refuses it. */
async function readPayRequest(request: IncomingMessage): Promise<{ request: PayRequest } | Reply> {
  const refuse = (status: number, detail: string): Reply => ({ status, body: { status: 'failed', detail } satisfies PayAnswer });
  if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) return refuse(415, 'Send JSON.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return refuse(413, 'The request is too large.');
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return refuse(400, 'The request is not valid JSON.');
  }
  if (!isPayRequest(body)) return refuse(400, 'Send {orderId, key, paymentMethod?}, where key is a UUID and paymentMethod a pm_… token.');
  return { request: body };
}

function isPayRequest(body: unknown): body is PayRequest {
  if (typeof body !== 'object' || body === null) return false;
  const { orderId, key, paymentMethod } = body as Record<string, unknown>;
  if (paymentMethod !== undefined && (typeof paymentMethod !== 'string' || !PAYMENT_METHOD_PATTERN.test(paymentMethod))) return false;
  return typeof orderId === 'string' && typeof key === 'string' && PAYMENT_KEY_PATTERN.test(key);
}

/** Starts listening; resolves with the server's address. */
export async function listen(server: Server, port: number, host = '127.0.0.1'): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  return `http://${host}:${bound}`;
}

/** Stops the server, ending idle keep-alive connections at once. */
export async function close(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  server.closeIdleConnections();
  await closed;
}
