import pg from 'pg';
import { ServiceProcess } from '../testing/service-process.js';
import { WebhookReceiver } from '../testing/webhook-receiver.js';
import { sleep } from './cluster.js';
import { finish, prepare, type ScenarioResult, type Settings } from './scenarios.js';
import { ADMIN_TOKEN } from './service.js';

/** Delivery settings for the scenario: retries within seconds, never given up or disabled meanwhile. */
const WEBHOOK_ENV = {
  WEBHOOK_WORKER_ENABLED: 'on',
  WEBHOOK_ALLOW_HTTP_LOOPBACK: 'on',
  WEBHOOK_TIMEOUT_MS: '1000',
  WEBHOOK_POLL_INTERVAL_MS: '100',
  WEBHOOK_RETRY_SCHEDULE_MS: Array.from({ length: 40 }, (_, index) => Math.min(100 * 2 ** index, 2_000)).join(','),
  WEBHOOK_DISABLE_AFTER_SECONDS: '86400',
};

/** Each object's event of creation: exactly one per committed object, none for another. */
const CREATED_BY: { table: string; type: string; where: string }[] = [
  // The ledger's system accounts (the merchant's balance, its external account) are no API object.
  { table: 'accounts', type: 'account.created', where: "o.kind = 'customer'" },
  { table: 'deposits', type: 'deposit.created', where: 'true' },
  { table: 'refunds', type: 'charge.refunded', where: 'true' },
];

/**
 * 17. Webhooks under faults: two instances, each running the delivery worker, under the mixed
 * workload; meanwhile the receiver fails (500), hangs past the timeout, goes down and comes back,
 * an instance is SIGKILLed (its worker mid-delivery) and restarted, and PostgreSQL restarts.
 * Then, with the receiver healthy: every committed effect has exactly one event and no event
 * names an object that does not exist (a rolled-back effect); every event written after the
 * endpoint reaches it (delivered); the receiver, deduplicating by webhook-id, applied each once.
 */
export async function webhookDelivery(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const start = () => ServiceProcess.start({ databaseUrl: settings.cluster.url, adminToken: ADMIN_TOKEN, echo: true, env: WEBHOOK_ENV });
  const services = [await start(), await start()];
  const receiver = await WebhookReceiver.start([]);
  const parts = await prepare(settings, 'webhooks', services);
  const { random, history } = parts;
  const violations = history.violations;

  const created = await fetch(`${services[0]!.url}/v1/webhook_endpoints`, {
    method: 'POST',
    headers: { authorization: `Bearer ${parts.merchant.apiKey}`, 'idempotency-key': random.uuid(), 'content-type': 'application/json' },
    body: JSON.stringify({ url: receiver.url, events: ['*'] }),
  });
  const endpoint = (await created.json()) as { id: string; secret: string };
  receiver.secrets = [endpoint.secret];

  let running = true;
  const load = parts.workload.run(6, () => running);
  let faults = 0;
  let receiverNow = receiver;
  const rounds = settings.quick ? 2 : 5;
  for (let round = 0; round < rounds; round++) {
    await sleep(random.int(500, 1_000));
    receiverNow.behaviour = { kind: 'status', status: 500 };
    faults++;
    await sleep(random.int(300, 800));
    receiverNow.behaviour = { kind: 'hang' };
    faults++;
    await sleep(random.int(1_200, 2_000));
    const port = receiverNow.port;
    await receiverNow.stop();
    faults++;
    await sleep(random.int(300, 800));
    const back = await WebhookReceiver.start(receiverNow.secrets, port);
    // What the receiver applied before it went down stays applied: it keeps its webhook-ids.
    back.adopt(receiverNow);
    receiverNow = back;
    const victim = random.pick(services);
    await victim.kill('SIGKILL');
    await victim.restart();
    faults++;
    history.databaseFault = true;
    await settings.cluster.stopFast();
    await sleep(random.int(300, 800));
    await settings.cluster.start();
    faults++;
    for (const service of services) await waitReady(service.url);
    await sleep(500);
    history.databaseFault = false;
  }
  running = false;
  await load;

  // The receiver healthy from now on: everything pending must arrive.
  receiverNow.behaviour = { kind: 'receive' };
  const db = new pg.Client({ connectionString: settings.cluster.url });
  await db.connect();
  try {
    const pending = async () =>
      (
        await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM webhook_deliveries WHERE merchant_id = $1 AND status <> 'delivered'`,
          [parts.merchant.id],
        )
      ).rows[0]!.n;
    for (let i = 0; i < 600 && (await pending()) > 0; i++) await sleep(100);
    const left = await pending();
    if (left > 0) violations.push(`${left} deliveries not delivered 60 s after the faults ended`);

    for (const { table, type, where } of CREATED_BY) {
      const { rows } = await db.query<{ id: string; events: number }>(
        `SELECT o.id, (SELECT count(*) FROM events e WHERE e.merchant_id = o.merchant_id AND e.type = $2 AND e.data->>'id' = o.id)::int AS events
           FROM ${table} o WHERE o.merchant_id = $1 AND ${where}`,
        [parts.merchant.id, type],
      );
      for (const row of rows.filter((row) => row.events !== 1)) violations.push(`${table} ${row.id} has ${row.events} ${type} events`);
    }
    const { rows: charges } = await db.query<{ id: string; events: number }>(
      `SELECT c.id, (SELECT count(*) FROM events e WHERE e.merchant_id = c.merchant_id AND e.type IN ('charge.succeeded', 'charge.authorized')
                                                 AND e.data->>'id' = c.id)::int AS events
         FROM charges c WHERE c.merchant_id = $1`,
      [parts.merchant.id],
    );
    for (const row of charges.filter((row) => row.events !== 1)) violations.push(`charge ${row.id} has ${row.events} creation events`);
    const { rows: orphans } = await db.query<{ id: string; type: string }>(
      `SELECT e.id, e.type FROM events e WHERE e.merchant_id = $1 AND NOT (
          EXISTS (SELECT 1 FROM charges c WHERE c.merchant_id = e.merchant_id AND c.id = e.data->>'id')
          OR EXISTS (SELECT 1 FROM refunds r WHERE r.merchant_id = e.merchant_id AND r.id = e.data->>'id')
          OR EXISTS (SELECT 1 FROM deposits d WHERE d.merchant_id = e.merchant_id AND d.id = e.data->>'id')
          OR EXISTS (SELECT 1 FROM accounts a WHERE a.merchant_id = e.merchant_id AND a.id = e.data->>'id'))`,
      [parts.merchant.id],
    );
    for (const orphan of orphans) violations.push(`event ${orphan.id} (${orphan.type}) names an object that was never committed`);

    const { rows: owed } = await db.query<{ id: string }>(
      `SELECT e.id FROM events e JOIN webhook_endpoints w ON w.merchant_id = e.merchant_id AND w.id = $2
        WHERE e.merchant_id = $1 AND e.created_at >= w.created_at`,
      [parts.merchant.id, endpoint.id],
    );
    const applied = new Set(receiverNow.applied.map((webhook) => webhook.id));
    for (const event of owed.filter((event) => !applied.has(event.id))) violations.push(`event ${event.id} never reached the endpoint`);
    if (receiverNow.applied.length !== applied.size) violations.push('the receiver applied a webhook-id twice');
    if (owed.length === 0) violations.push('no event was written after the endpoint: the scenario checked nothing');
  } finally {
    await db.end();
  }
  await receiverNow.stop();
  const scenario = {
    name: '17. webhooks: receiver faults, worker SIGKILL, PostgreSQL restart',
    checks: 'one event per effect, none for a rolled-back one; every event delivered; applied once by webhook-id',
  };
  return finish(settings, scenario, started, services, parts, faults);
}

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const ready = await fetch(`${url}/health/ready`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return;
    await sleep(100);
  }
}
