import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { CRASH_POINTS, type CrashPoint } from '../src/card-charges/crash-points.js';
import { freePort } from '../src/common/free-port.js';
import { AcquirerProcess } from '../testing/acquirer-process.js';
import { acquirerCaptures, cardInvariantViolations } from '../testing/card-invariants.js';
import { ServiceProcess, spawnService, waitUntilReady } from '../testing/service-process.js';

// The test-only kill hook (CARD_CHARGE_CRASH_AT, src/card-charges/card-charge-test-hooks.ts) at each
// boundary of a card charge's phases: a service started with it dies by SIGKILL exactly there,
// leaves the key where that boundary says, and a retry or the completer finishes the key with
// exactly one capture. The real acquirer process, compiled service processes, and a database of
// this file's own (its completer runs over every merchant's keys).

const ADMIN = 'card-crash-admin-token-0123456789';
const BODY = { amount: 4_321, currency: 'usd', payment_method: 'pm_test_ok' };

/** Where each boundary leaves the key, and whether the acquirer holds the payment by then. */
const LEFT_AT: Record<CrashPoint, { recoveryPoint: string; captured: boolean }> = {
  after_tx1: { recoveryPoint: 'started', captured: false },
  after_tx2: { recoveryPoint: 'acquirer_called', captured: false },
  in_call: { recoveryPoint: 'acquirer_called', captured: true },
  after_answer: { recoveryPoint: 'acquirer_called', captured: true },
  after_tx3: { recoveryPoint: 'finished', captured: true },
};

describe('card charges: a SIGKILL at each boundary of the phases', () => {
  let admin: pg.Client;
  let database: string;
  let databaseUrl: string;
  let db: pg.Client;
  let acquirer: AcquirerProcess;
  let service: ServiceProcess;
  let apiKey: string;
  let merchantId: string;
  let cardEnv: Record<string, string>;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    database = `${new URL(process.env.TEST_DATABASE_URL!).pathname.slice(1)}_card_crash`;
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}"`);
    const url = new URL(process.env.TEST_DATABASE_URL!);
    url.pathname = `/${database}`;
    databaseUrl = url.toString();
    acquirer = await AcquirerProcess.start();
    cardEnv = { ACQUIRER_URL: acquirer.url, ACQUIRER_TIMEOUT_MS: '2000', IDEMPOTENCY_LEASE_SECONDS: '30', CHARGE_WAIT_MS: '2000' };
    // The instance that survives: no hook, no completer (the completer's test starts its own).
    service = await ServiceProcess.start({ databaseUrl, adminToken: ADMIN, env: cardEnv });
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const merchant = await post(service.url, ADMIN, '/v1/merchants', { name: 'card-crash' }, randomUUID());
    expect(merchant?.status).toBe(201);
    apiKey = String(merchant!.body.api_key);
    merchantId = String(merchant!.body.id);
  }, 120_000);

  afterAll(async () => {
    const violations = await cardInvariantViolations(
      async (sql, parameters) => (await db.query<Record<string, unknown>>(sql, parameters)).rows,
      await acquirerCaptures(acquirer.url),
      [merchantId],
      { drained: true },
    );
    await db.end();
    await service.kill('SIGTERM');
    await acquirer.close();
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.end();
    expect(violations).toEqual({ doubleCaptures: [], capturesOffTheLedger: [], effectsWithoutCapture: [], unfinishedKeys: [] });
  });

  const keyRow = async (key: string) =>
    (
      await db.query<{ recovery_point: string; attempts: number; charge_id: string; lease_until: Date | null }>(
        `SELECT recovery_point, attempts, charge_id, lease_until FROM idempotency_keys WHERE merchant_id = $1 AND key = $2`,
        [merchantId, key],
      )
    ).rows[0];
  const paymentsFor = async (chargeId: string) =>
    ((await (await fetch(`${acquirer.url}/v1/payments?reference=${chargeId}`)).json()) as { data: { status: string }[] }).data;
  const capturesFor = async (chargeId: string) =>
    (await acquirerCaptures(acquirer.url)).filter((capture) => capture.reference === chargeId);
  /** The dead worker's lease lapses (as it would after IDEMPOTENCY_LEASE_SECONDS). */
  const leaseLapses = (key: string) =>
    db.query(`UPDATE idempotency_keys SET lease_until = now() - interval '1 second' WHERE merchant_id = $1 AND key = $2`, [
      merchantId,
      key,
    ]);

  /** A service armed at `point`, sent one card charge: it must die by SIGKILL there, the client left without an answer. */
  async function crashAt(point: CrashPoint, key: string): Promise<string> {
    const port = await freePort();
    const armed = spawnService({
      ...cardEnv,
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      ADMIN_TOKEN: ADMIN,
      RATE_LIMIT_PER_SECOND: '0',
      LOG_LEVEL: 'error',
      NODE_ENV: 'test',
      CARD_CHARGE_CRASH_AT: point,
    });
    const url = `http://127.0.0.1:${port}`;
    if (!(await waitUntilReady(url, armed.child))) throw new Error(`the armed service did not start: ${armed.output()}`);
    const answer = await post(url, apiKey, '/v1/charges', BODY, key);
    await armed.exited;
    expect(answer).toBeUndefined();
    expect(armed.child.signalCode).toBe('SIGKILL');
    const row = await keyRow(key);
    expect(row?.recovery_point).toBe(LEFT_AT[point].recoveryPoint);
    const chargeId = row!.charge_id;
    if (LEFT_AT[point].captured) {
      // In the call, the request has left: the acquirer makes the payment though nobody waits for it.
      while ((await capturesFor(chargeId)).length === 0) await sleep(20);
    } else {
      // Nothing went out before tx2, or between tx2 and the call.
      expect(await paymentsFor(chargeId)).toEqual([]);
    }
    return chargeId;
  }

  /** Repeats the POST, as a client does after no answer, a 202 or a 409, until it gets a definitive one. */
  async function retryUntilDefinitive(key: string) {
    for (;;) {
      const answer = await post(service.url, apiKey, '/v1/charges', BODY, key);
      if (answer && ![202, 409].includes(answer.status)) return answer;
      await sleep(100);
    }
  }

  async function expectOneCapture(chargeId: string, key: string) {
    expect(await capturesFor(chargeId)).toHaveLength(1);
    expect(await keyRow(key)).toMatchObject({ recovery_point: 'finished', charge_id: chargeId });
    const entries = await db.query(`SELECT amount::int FROM ledger_entries WHERE merchant_id = $1 AND reference = $2 ORDER BY amount`, [
      merchantId,
      chargeId,
    ]);
    expect(entries.rows).toEqual([{ amount: -BODY.amount }, { amount: BODY.amount }]);
  }

  it.each(CRASH_POINTS)(
    '%s: the service dies there; a retry finishes the key with exactly one capture',
    async (point) => {
      const key = randomUUID();
      const chargeId = await crashAt(point, key);
      await leaseLapses(key);
      const retried = await retryUntilDefinitive(key);
      expect(retried.status).toBe(201);
      expect(retried.body).toMatchObject({ id: chargeId, status: 'succeeded', amount_captured: BODY.amount });
      expect(retried.replayed).toBe(point === 'after_tx3');
      await expectOneCapture(chargeId, key);
    },
    120_000,
  );

  it('the completer finishes the keys of every boundary nobody retries: one capture each, the retries replay', async () => {
    const keys = new Map<CrashPoint, { key: string; chargeId: string }>();
    for (const point of CRASH_POINTS) {
      const key = randomUUID();
      keys.set(point, { key, chargeId: await crashAt(point, key) });
      await leaseLapses(key);
    }
    const completer = spawn(process.execPath, ['dist/src/completer-cli.js'], {
      env: {
        PATH: process.env.PATH ?? '',
        ...cardEnv,
        DATABASE_URL: databaseUrl,
        LOG_LEVEL: 'error',
        COMPLETER_GRACE_SECONDS: '0',
        COMPLETER_INTERVAL_MS: '100',
      },
      stdio: 'ignore',
    });
    try {
      // Drained: at `started` the key is rolled back (its request never left), the others finished.
      for (;;) {
        const left = await db.query(
          `SELECT 1 FROM idempotency_keys WHERE merchant_id = $1 AND recovery_point IN ('started', 'acquirer_called')`,
          [merchantId],
        );
        if (left.rows.length === 0) break;
        await sleep(100);
      }
    } finally {
      completer.kill('SIGTERM');
    }
    const rolledBack = keys.get('after_tx1')!;
    expect(await keyRow(rolledBack.key)).toBeUndefined();
    expect((await db.query(`SELECT 1 FROM charges WHERE merchant_id = $1 AND id = $2`, [merchantId, rolledBack.chargeId])).rows).toEqual(
      [],
    );
    const fresh = await retryUntilDefinitive(rolledBack.key);
    expect(fresh.status).toBe(201);
    expect(fresh.replayed).toBe(false);
    expect(fresh.body.id).not.toBe(rolledBack.chargeId);
    await expectOneCapture(String(fresh.body.id), rolledBack.key);
    for (const point of CRASH_POINTS.filter((point) => point !== 'after_tx1')) {
      const { key, chargeId } = keys.get(point)!;
      await expectOneCapture(chargeId, key);
      const replay = await retryUntilDefinitive(key);
      expect(replay).toMatchObject({ status: 201, replayed: true });
      expect(replay.body).toMatchObject({ id: chargeId, status: 'succeeded' });
    }
  }, 240_000);

  it('a service with CARD_CHARGE_CRASH_AT or CARD_CHARGE_STRIP_ACQUIRER_KEY refuses to start unless NODE_ENV=test', async () => {
    const hooks: Record<string, string>[] = [{ CARD_CHARGE_CRASH_AT: 'after_tx2' }, { CARD_CHARGE_STRIP_ACQUIRER_KEY: 'on' }];
    for (const hook of hooks) {
      const refused = spawnService({
        ...cardEnv,
        ...hook,
        PORT: String(await freePort()),
        DATABASE_URL: databaseUrl,
        ADMIN_TOKEN: ADMIN,
        NODE_ENV: 'production',
      });
      expect(await refused.exited).not.toBe(0);
      expect(refused.output()).toContain('test-only hooks, refused unless NODE_ENV=test');
    }
  });
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
  replayed: boolean;
}

/** One POST; undefined when no answer came (the service died under it). */
async function post(base: string, token: string, path: string, body: unknown, key: string): Promise<Answer | undefined> {
  try {
    const response = await fetch(base + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'idempotency-key': key, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return {
      status: response.status,
      body: (await response.json()) as Record<string, unknown>,
      replayed: response.headers.get('idempotent-replayed') === 'true',
    };
  } catch {
    return undefined;
  }
}
