import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebhookReceiver } from '../testing/webhook-receiver.js';
import { log, serviceMetrics } from './tools.js';
import { post } from './workloads.js';

// The bench's webhook phases (npm run bench, phase 3c): what delivering events costs the charges
// that write them, and how fast one worker sends them to a receiver on this machine.

/** A receiver subscribed to charge.succeeded, verifying every signature as a merchant's should. */
export async function subscribeReceiver(serviceUrl: string, apiKey: string): Promise<WebhookReceiver> {
  const receiver = await WebhookReceiver.start([]);
  const endpoint = await post(serviceUrl, apiKey, '/v1/webhook_endpoints', { url: receiver.url, events: ['charge.succeeded'] });
  receiver.secrets = [String(endpoint.secret)];
  return receiver;
}

/** `npm run worker` as its own process, against the service's database. */
export function startWorker(databaseUrl: string): { stop: () => Promise<void> } {
  const child = spawn(process.execPath, ['dist/src/worker-cli.js'], {
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'error',
      WEBHOOK_ALLOW_HTTP_LOOPBACK: 'on',
      WEBHOOK_POLL_INTERVAL_MS: '50',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Deliveries still pending, from the service's /metrics (webhook_delivery_queue_depth). */
async function queueDepth(serviceUrl: string): Promise<number> {
  const depth = /^webhook_delivery_queue_depth (\d+)/m.exec(await serviceMetrics(serviceUrl))?.[1];
  if (depth === undefined) throw new Error('the service exports no webhook_delivery_queue_depth');
  return Number(depth);
}

/**
 * Deliveries a second while a worker drains the backlog: counted from the first delivery that
 * reaches the receiver (the worker's start left out) to the last, once the queue is empty.
 */
export async function drainRate(
  serviceUrl: string,
  receiver: WebhookReceiver,
  timeoutMs = 180_000,
): Promise<{ delivered: number; perSecond: number }> {
  const before = receiver.requests;
  const first = await Promise.race([receiver.reached(before + 1).then(() => true), sleep(timeoutMs).then(() => false)]);
  if (!first) throw new Error(`no webhook reached the receiver within ${timeoutMs / 1000} s of the worker's start`);
  const start = performance.now();
  const giveUpAt = Date.now() + timeoutMs;
  while ((await queueDepth(serviceUrl)) > 0) {
    if (Date.now() > giveUpAt) {
      log(`  the worker did not drain the queue within ${timeoutMs / 1000} s`);
      break;
    }
    await sleep(100);
  }
  const delivered = receiver.requests - before;
  return { delivered, perSecond: delivered / ((performance.now() - start) / 1000) };
}
