import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeliveryWorkerService, type DeliveryRun } from '../src/webhooks/delivery-worker.service.js';
import { WebhookReceiver } from '../testing/webhook-receiver.js';
import { MerchantClient, TestApp } from './support/test-app.js';

// Delivery (webhooks/delivery-worker.service.ts) to real receivers over HTTP
// (testing/webhook-receiver.ts, which verifies with the client's verifyWebhook). The workers here
// are driven run by run (runOnce), so every step is a synchronisation point; retries are due at
// once (a schedule of zeros) unless a test says otherwise.

const FAST = {
  webhookAllowHttpLoopback: true,
  webhookRetryScheduleMs: [0, 0, 0, 0, 0],
  webhookDisableAfterSeconds: 3600,
  webhookTimeoutMs: 500,
  webhookConcurrency: 5,
};

/** Runs the worker until `done` holds (bounded: a lease or a retry has to come due). */
async function runUntil(worker: DeliveryWorkerService, done: () => Promise<boolean> | boolean): Promise<DeliveryRun[]> {
  const runs: DeliveryRun[] = [];
  for (let round = 0; round < 600; round++) {
    if (await done()) return runs;
    const run = await worker.runOnce();
    runs.push(run);
    if (run.claimed === 0) await sleep(50);
  }
  throw new Error(`not done after 600 runs: ${JSON.stringify(runs.slice(-3))}`);
}

describe('webhook delivery', () => {
  let app: TestApp;
  let worker: DeliveryWorkerService;

  beforeAll(async () => {
    app = await TestApp.start(FAST);
    worker = app.app.get(DeliveryWorkerService);
  });

  afterAll(async () => {
    await app.close();
  });

  /** A merchant with an endpoint at `receiver` for `events`; the receiver holds its secret. */
  async function subscribed(receiver: WebhookReceiver, events = ['*']): Promise<{ merchant: MerchantClient; endpoint: any }> {
    const merchant = await app.merchant('webhooks');
    const created = await merchant.post('/v1/webhook_endpoints', { url: receiver.url, events });
    expect(created.status).toBe(201);
    receiver.secrets = [created.body.secret];
    return { merchant, endpoint: created.body };
  }

  const deliveryOf = async (merchant: MerchantClient, eventId: string) =>
    (
      await app.dataSource.query(
        `SELECT status, attempts, last_status, last_error, claim_token FROM webhook_deliveries WHERE merchant_id = $1 AND event_id = $2`,
        [merchant.id, eventId],
      )
    )[0];

  it("delivers each subscribed event once, signed: the receiver verifies it with the client's verifyWebhook", async () => {
    const receiver = await WebhookReceiver.start([]);
    try {
      const { merchant } = await subscribed(receiver, ['charge.succeeded', 'deposit.created']);
      const source = await merchant.account(5_000); // account.created (not subscribed), deposit.created
      const charge = await merchant.post('/v1/charges', { amount: 1_000, currency: 'usd', source });
      await runUntil(worker, () => receiver.applied.length >= 2);
      const events = (await merchant.get('/v1/events')).body.data;
      const wanted = events.filter((event: { type: string }) => event.type !== 'account.created');
      expect(receiver.applied.map((applied) => applied.id).sort()).toEqual(wanted.map((event: { id: string }) => event.id).sort());
      // The body is the event exactly as GET /v1/events/{id} serves it.
      const succeeded = receiver.applied.find((applied) => (applied.event as { type: string }).type === 'charge.succeeded')!;
      expect(succeeded.event).toEqual((await merchant.get(`/v1/events/${succeeded.id}`)).body);
      expect((succeeded.event as { data: { object: unknown } }).data.object).toEqual(charge.body);
      expect(receiver.requests).toBe(2);
      expect(await deliveryOf(merchant, succeeded.id)).toMatchObject({
        status: 'delivered',
        attempts: 1,
        last_status: 204,
        claim_token: null,
      });
    } finally {
      await receiver.stop();
    }
  });

  it('retries a receiver that fails, times out, refuses the signature, or redirects, until it answers 2xx', async () => {
    const receiver = await WebhookReceiver.start([]);
    const elsewhere = await WebhookReceiver.start([]);
    try {
      const { merchant } = await subscribed(receiver, ['account.created']);
      await merchant.post('/v1/accounts', { currency: 'usd' });
      const [event] = (await merchant.get('/v1/events')).body.data;

      receiver.behaviour = { kind: 'status', status: 500 };
      expect(await worker.runOnce()).toMatchObject({ claimed: 1, failed: 1 });
      expect(await deliveryOf(merchant, event.id)).toMatchObject({
        status: 'pending',
        attempts: 1,
        last_status: 500,
        last_error: 'http_500',
      });

      receiver.behaviour = { kind: 'hang' };
      expect(await worker.runOnce()).toMatchObject({ claimed: 1, failed: 1 });
      expect(await deliveryOf(merchant, event.id)).toMatchObject({ attempts: 2, last_status: null, last_error: 'timeout' });

      receiver.behaviour = { kind: 'status', status: 301, location: elsewhere.url };
      expect(await worker.runOnce()).toMatchObject({ claimed: 1, failed: 1 });
      expect(elsewhere.requests).toBe(0);
      expect(await deliveryOf(merchant, event.id)).toMatchObject({ attempts: 3, last_status: 301, last_error: 'redirect_not_followed' });

      // A receiver holding another secret refuses the signature (400): a failure like any other.
      const secret = receiver.secrets;
      receiver.secrets = ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'];
      receiver.behaviour = { kind: 'receive' };
      expect(await worker.runOnce()).toMatchObject({ claimed: 1, failed: 1 });
      expect(receiver.applied).toEqual([]);

      receiver.secrets = secret;
      expect(await worker.runOnce()).toMatchObject({ claimed: 1, delivered: 1 });
      expect(receiver.applied.map((applied) => applied.id)).toEqual([event.id]);
      expect(receiver.requests).toBe(5);
      expect(await deliveryOf(merchant, event.id)).toMatchObject({ status: 'delivered', attempts: 5 });
    } finally {
      await receiver.stop();
      await elsewhere.stop();
    }
  });

  it('retries a receiver that is down, and delivers once it is back on its port', async () => {
    const receiver = await WebhookReceiver.start([]);
    const { merchant } = await subscribed(receiver, ['account.created']);
    const port = receiver.port;
    await receiver.stop();
    await merchant.post('/v1/accounts', { currency: 'usd' });
    const [event] = (await merchant.get('/v1/events')).body.data;
    expect(await worker.runOnce()).toMatchObject({ claimed: 1, failed: 1 });
    expect((await deliveryOf(merchant, event.id)).last_error).toMatch(/^network/);

    const back = await WebhookReceiver.start(receiver.secrets, port);
    try {
      await runUntil(worker, () => back.applied.length === 1);
      expect(back.applied[0]!.id).toBe(event.id);
    } finally {
      await back.stop();
    }
  });

  it('410 Gone disables the endpoint at once: nothing more is sent to it, and its new events get no delivery', async () => {
    const receiver = await WebhookReceiver.start([]);
    try {
      const { merchant, endpoint } = await subscribed(receiver, ['account.created']);
      await merchant.post('/v1/accounts', { currency: 'usd' });
      await merchant.post('/v1/accounts', { currency: 'usd' });
      receiver.behaviour = { kind: 'status', status: 410 };
      await runUntil(worker, () => receiver.requests >= 1);
      const got = await merchant.get(`/v1/webhook_endpoints/${endpoint.id}`);
      expect(got.body).toMatchObject({ status: 'disabled', disabled_reason: 'gone', version: 2 });
      const requests = receiver.requests;
      await merchant.post('/v1/accounts', { currency: 'usd' });
      expect(await worker.runOnce()).toMatchObject({ claimed: 0 });
      expect(receiver.requests).toBe(requests);
      const rows = await app.dataSource.query(
        `SELECT status, count(*)::int AS n FROM webhook_deliveries WHERE merchant_id = $1 GROUP BY status`,
        [merchant.id],
      );
      // What met 410 failed (one or both: a run claims several at once); the rest waits for the endpoint
      // to be enabled; the third event, written after, has no delivery.
      const count = (status: string) => rows.find((row: { status: string }) => row.status === status)?.n ?? 0;
      expect([count('failed'), count('pending'), count('delivered')]).toEqual([requests, 2 - requests, 0]);
    } finally {
      await receiver.stop();
    }
  });

  it('gives a delivery up when its schedule is spent, and disables an endpoint that failed that long', async () => {
    // The schedule's shortest span (two waits of 300 ms at 80 %): failing that long disables.
    const strict = await TestApp.start({ ...FAST, webhookRetryScheduleMs: [300, 300], webhookDisableAfterSeconds: 0.48 });
    const receiver = await WebhookReceiver.start([]);
    try {
      const merchant = await strict.merchant('webhooks-give-up');
      const created = await merchant.post('/v1/webhook_endpoints', { url: receiver.url, events: ['account.created'] });
      receiver.behaviour = { kind: 'status', status: 503 };
      await merchant.post('/v1/accounts', { currency: 'usd' });
      const [event] = (await merchant.get('/v1/events')).body.data;
      const state = async () =>
        (
          await strict.dataSource.query(`SELECT status, attempts FROM webhook_deliveries WHERE merchant_id = $1 AND event_id = $2`, [
            merchant.id,
            event.id,
          ])
        )[0];
      await runUntil(strict.app.get(DeliveryWorkerService), async () => (await state()).status !== 'pending');
      expect(await state()).toEqual({ status: 'failed', attempts: 3 });
      expect(receiver.requests).toBe(3);
      expect((await merchant.get(`/v1/webhook_endpoints/${created.body.id}`)).body).toMatchObject({
        status: 'disabled',
        disabled_reason: 'failing',
      });
    } finally {
      await receiver.stop();
      await strict.close();
    }
  });

  it('during a secret roll both secrets sign: a receiver with either one verifies; after the overlap only the new one', async () => {
    const receiver = await WebhookReceiver.start([]);
    try {
      const { merchant, endpoint } = await subscribed(receiver, ['account.created']);
      const old = endpoint.secret as string;
      const rolled = await merchant.post(`/v1/webhook_endpoints/${endpoint.id}/roll_secret`, { expires_in_seconds: 3600 });
      const fresh = rolled.body.secret as string;

      await merchant.post('/v1/accounts', { currency: 'usd' });
      receiver.secrets = [old];
      await runUntil(worker, () => receiver.applied.length === 1);
      expect(receiver.signatures.at(-1)!.split(' ')).toHaveLength(2);

      await merchant.post('/v1/accounts', { currency: 'usd' });
      receiver.secrets = [fresh];
      await runUntil(worker, () => receiver.applied.length === 2);

      await merchant.post(`/v1/webhook_endpoints/${endpoint.id}/roll_secret`, { expires_in_seconds: 0 });
      await merchant.post('/v1/accounts', { currency: 'usd' });
      receiver.secrets = [fresh]; // the secret before this last roll: no longer signs
      expect(await worker.runOnce()).toMatchObject({ claimed: 1, failed: 1 });
      expect(receiver.signatures.at(-1)!.split(' ')).toHaveLength(1);
    } finally {
      await receiver.stop();
    }
  });

  it('redelivers an event on request: the same webhook-id again, which the receiver applies once', async () => {
    const receiver = await WebhookReceiver.start([]);
    try {
      const { merchant, endpoint } = await subscribed(receiver, ['account.created']);
      await merchant.post('/v1/accounts', { currency: 'usd' });
      await runUntil(worker, () => receiver.applied.length === 1);
      const id = receiver.applied[0]!.id;
      const again = await merchant.post(`/v1/events/${id}/redeliver`, {});
      expect(again.body).toEqual({ object: 'redelivery', event: id, endpoints: [endpoint.id] });
      const only = await merchant.post(`/v1/events/${id}/redeliver`, { endpoint: endpoint.id });
      expect(only.body.endpoints).toEqual([endpoint.id]);
      await runUntil(worker, () => receiver.requests === 2);
      expect(receiver.applied).toHaveLength(1);
      expect((await merchant.post(`/v1/events/evt_nope/redeliver`, {})).status).toBe(404);
      expect((await merchant.post(`/v1/events/${id}/redeliver`, { endpoint: 'we_nope' })).status).toBe(404);
    } finally {
      await receiver.stop();
    }
  });

  it('two workers at once deliver each event once: no delivery is claimed twice', async () => {
    const other = await TestApp.start(FAST);
    const receiver = await WebhookReceiver.start([]);
    try {
      const { merchant } = await subscribed(receiver, ['account.created']);
      await Promise.all(Array.from({ length: 30 }, () => merchant.post('/v1/accounts', { currency: 'usd' })));
      const workers = [worker, other.app.get(DeliveryWorkerService)];
      for (let round = 0; round < 100 && receiver.applied.length < 30; round++) {
        await Promise.all(workers.flatMap((each) => [each.runOnce(), each.runOnce()]));
      }
      expect(receiver.applied).toHaveLength(30);
      expect(receiver.requests).toBe(30);
      // Every claim counts an attempt: one each, so no delivery was claimed twice.
      const [attempts] = await app.dataSource.query(
        `SELECT sum(attempts)::int AS attempts, count(*) FILTER (WHERE status = 'delivered')::int AS delivered
           FROM webhook_deliveries WHERE merchant_id = $1`,
        [merchant.id],
      );
      expect(attempts).toEqual({ attempts: 30, delivered: 30 });
    } finally {
      await receiver.stop();
      await other.close();
    }
  });

  it('a worker SIGKILLed mid-delivery: its claim lapses and another worker delivers the event', async () => {
    const receiver = await WebhookReceiver.start([]);
    try {
      const { merchant } = await subscribed(receiver, ['account.created']);
      await merchant.post('/v1/accounts', { currency: 'usd' });
      const [event] = (await merchant.get('/v1/events')).body.data;
      receiver.behaviour = { kind: 'hang' };
      const child = spawn(process.execPath, ['dist/src/worker-cli.js'], {
        env: {
          PATH: process.env.PATH ?? '',
          DATABASE_URL: process.env.TEST_DATABASE_URL!,
          LOG_LEVEL: 'error',
          WEBHOOK_TIMEOUT_MS: '1000',
          WEBHOOK_POLL_INTERVAL_MS: '50',
          WEBHOOK_ALLOW_HTTP_LOOPBACK: 'on',
        },
        stdio: 'ignore',
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await receiver.reached(1);
      child.kill('SIGKILL');
      await exited;
      // Killed before it could record anything: the claim is still out, the attempt counted.
      expect(await deliveryOf(merchant, event.id)).toMatchObject({ status: 'pending', attempts: 1, claim_token: expect.any(String) });

      receiver.behaviour = { kind: 'receive' };
      await runUntil(worker, () => receiver.applied.length === 1);
      expect(receiver.applied[0]!.id).toBe(event.id);
      expect(await deliveryOf(merchant, event.id)).toMatchObject({ status: 'delivered', attempts: 2 });
    } finally {
      await receiver.stop();
    }
  });

  it('counts deliveries by outcome, the queue depth and the age of the oldest undelivered event in /metrics', async () => {
    const receiver = await WebhookReceiver.start([]);
    try {
      const { merchant } = await subscribed(receiver, ['account.created']);
      receiver.behaviour = { kind: 'status', status: 500 };
      await merchant.post('/v1/accounts', { currency: 'usd' });
      await worker.runOnce();
      const metrics = (await app.request('GET', '/metrics')).text;
      expect(metrics).toMatch(/webhook_deliveries_total\{outcome="retry"\} [1-9]/);
      expect(metrics).toMatch(/^webhook_delivery_queue_depth [1-9]/m);
      expect(metrics).toMatch(/^webhook_oldest_undelivered_event_age_seconds \d/m);
    } finally {
      await receiver.stop();
    }
  });
});
