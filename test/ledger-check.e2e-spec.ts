import pg from 'pg';
import { migrate } from '../src/database/migrate.js';
import { IdempotencyPurgeService } from '../src/idempotency/idempotency-purge.service.js';
import { LedgerCheckService, type LedgerCheckRun } from '../src/ledger/ledger-check.service.js';
import { ledgerInvariantViolations } from './support/ledger-invariants.js';
import { MerchantClient, TestApp } from './support/test-app.js';

// The periodic ledger check (src/ledger/ledger-check.service.ts): it reads only the entries added
// since its sums, so these tests hold it to the full check (testing/ledger-invariants.ts, run over
// the whole database) — through a transaction that stays open across runs, and with each invariant
// broken on purpose. A database of its own: breaking the ledger here touches no other suite's.

const NONE = {
  unbalanced_currencies: 0,
  balances_off_their_entries: 0,
  negative_available: 0,
  held_off_authorisations: 0,
  balance_totals_off_the_ledger: 0,
};

describe('the ledger check', () => {
  let url: string;
  let app: TestApp;
  let merchant: MerchantClient;
  let admin: pg.Client;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    const database = `${new URL(process.env.TEST_DATABASE_URL!).pathname.slice(1)}_ledger_check`;
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}"`);
    const address = new URL(process.env.TEST_DATABASE_URL!);
    address.pathname = `/${database}`;
    url = address.toString();
    await migrate(url);
    app = await TestApp.start({}, url);
    merchant = await app.merchant('ledger check');
  });

  afterAll(async () => {
    await app.close();
    await admin.end();
  });

  const check = async (): Promise<LedgerCheckRun> => {
    const run = await app.app.get(LedgerCheckService).runOnce();
    if (run === undefined) throw new Error('another run held the check: nothing else runs it in this database');
    return run;
  };
  const sql = (text: string, values: unknown[] = []) => app.dataSource.query<Record<string, string>[]>(text, values);
  /** The full check's invariants that fail, in the check's names. */
  const brokenByTheFullCheck = async () => {
    const full = await ledgerInvariantViolations(app.dataSource);
    const names: Record<keyof typeof full, keyof typeof NONE> = {
      unbalancedCurrencies: 'unbalanced_currencies',
      balancesOffTheirEntries: 'balances_off_their_entries',
      negativeAvailable: 'negative_available',
      heldOffAuthorisations: 'held_off_authorisations',
      balanceTotalsOffTheLedger: 'balance_totals_off_the_ledger',
    };
    return Object.fromEntries(Object.entries(full).map(([name, rows]) => [names[name as keyof typeof full], (rows as unknown[]).length]));
  };
  /** Movements of every kind: deposits, charges, an authorisation, a capture, a refund. */
  const business = async () => {
    const source = await merchant.account(10_000);
    for (const amount of [100, 250, 7]) expect((await merchant.post('/v1/charges', { amount, currency: 'usd', source })).status).toBe(201);
    const held = await merchant.post('/v1/charges', { amount: 300, currency: 'usd', source, capture: false });
    expect(held.status).toBe(201);
    const captured = await merchant.post('/v1/charges', { amount: 500, currency: 'usd', source, capture: false });
    expect((await merchant.post(`/v1/charges/${captured.body.id}/capture`, {})).status).toBe(200);
    expect((await merchant.post(`/v1/charges/${captured.body.id}/refunds`, { amount: 50 })).status).toBe(201);
    return source;
  };

  it('finds nothing wrong with a ledger that is right, run after run, reading only what is new, and /metrics says so', async () => {
    await business();
    const first = await check();
    expect(first.violations).toEqual(NONE);
    await business();
    const second = await check();
    expect(second.violations).toEqual(NONE);
    // The second run folded what the first had seen: it read only the entries since.
    expect(second.foldedThrough).toBeGreaterThan(0);
    const [counts] = await sql(`SELECT count(*)::int AS total, count(*) FILTER (WHERE seq > $1)::int AS since FROM ledger_entries`, [
      second.foldedThrough,
    ]);
    expect(second.entriesRead).toBe(Number(counts!.since));
    expect(Number(counts!.since)).toBeLessThan(Number(counts!.total));
    expect(first.entriesRead).toBe(Number(counts!.total) - Number(counts!.since));
    const third = await check();
    expect(third.violations).toEqual(NONE);

    const metrics = (await app.request('GET', '/metrics')).text;
    for (const invariant of Object.keys(NONE)) expect(metrics).toContain(`ledger_invariant_violations{invariant="${invariant}"} 0`);
    expect(metrics).toMatch(/ledger_invariant_check_last_run_timestamp_seconds [1-9]/);
  });

  it('never folds past a transaction still open: its entries count once it commits, the sums equal the whole ledger’s', async () => {
    const account = await merchant.account(1_000);
    // A deposit written by a session of its own, left open while charges commit after it.
    const open = new pg.Client({ connectionString: url });
    await open.connect();
    try {
      await open.query('BEGIN');
      await open.query(`UPDATE accounts SET balance = balance + 5 WHERE merchant_id = $1 AND id = $2`, [merchant.id, account]);
      await open.query(
        `INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference)
         VALUES ($1, 'le_open_1', $2, 5, 'usd', 'deposit', 'dep_open'), ($1, 'le_open_2', 'external:usd', -5, 'usd', 'deposit', 'dep_open')`,
        [merchant.id, account],
      );
      const openSeq = (
        (await open.query(`SELECT min(seq)::text AS seq FROM ledger_entries WHERE id LIKE 'le_open_%'`)).rows[0] as { seq: string }
      ).seq;
      await business();
      // A candidate past the open transaction's entries, then a run that must not fold it in.
      expect((await check()).violations).toEqual(NONE);
      const held = await check();
      expect(held.violations).toEqual(NONE);
      expect(held.foldedThrough).toBeLessThan(Number(openSeq));
      await open.query('COMMIT');
    } finally {
      await open.end();
    }
    const folded = await check();
    expect(folded.violations).toEqual(NONE);
    const last = await check();
    expect(last.violations).toEqual(NONE);
    const differing = await sql(
      `SELECT coalesce(s.account_id, e.account_id) AS account_id, s.total::text AS kept, e.total::text AS ledger
         FROM ledger_check_sums s
         FULL JOIN (SELECT merchant_id, account_id, sum(amount) AS total FROM ledger_entries WHERE seq <= $1 GROUP BY 1, 2) e
           ON e.merchant_id = s.merchant_id AND e.account_id = s.account_id
        WHERE s.total IS DISTINCT FROM e.total`,
      [last.foldedThrough],
    );
    expect(differing).toEqual([]);
    expect(await brokenByTheFullCheck()).toEqual(NONE);
  });

  // negative_available has no case: two CHECK constraints of accounts forbid the rows it counts.
  // Each case: the statement that breaks the invariant for one row, and the one that mends it.
  const breakages: [string, (merchantId: string, account: string) => [string, string]][] = [
    [
      'balances_off_their_entries',
      (merchantId, account) => [
        `UPDATE accounts SET balance = balance + 1 WHERE merchant_id = '${merchantId}' AND id = '${account}'`,
        `UPDATE accounts SET balance = balance - 1 WHERE merchant_id = '${merchantId}' AND id = '${account}'`,
      ],
    ],
    [
      'held_off_authorisations',
      (merchantId, account) => [
        `UPDATE accounts SET held = held + 1 WHERE merchant_id = '${merchantId}' AND id = '${account}'`,
        `UPDATE accounts SET held = held - 1 WHERE merchant_id = '${merchantId}' AND id = '${account}'`,
      ],
    ],
    [
      'unbalanced_currencies',
      (merchantId) => [
        `INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference)
         VALUES ('${merchantId}', 'le_stray', 'external:usd', 1, 'usd', 'deposit', 'stray')`,
        `DELETE FROM ledger_entries WHERE merchant_id = '${merchantId}' AND id = 'le_stray'`,
      ],
    ],
    [
      'balance_totals_off_the_ledger',
      (merchantId) => [
        `UPDATE balance_totals SET available = available + 1 WHERE merchant_id = '${merchantId}' AND slot = (SELECT min(slot) FROM balance_totals WHERE merchant_id = '${merchantId}')`,
        `UPDATE balance_totals SET available = available - 1 WHERE merchant_id = '${merchantId}' AND slot = (SELECT min(slot) FROM balance_totals WHERE merchant_id = '${merchantId}')`,
      ],
    ],
  ];

  it.each(breakages)('counts a row breaking %s, as the full check does, and exports it', async (invariant, breakage) => {
    // A merchant of its own, with one charge.
    const owner = await app.merchant(`breaks ${invariant}`);
    const account = await owner.account(1_000);
    expect((await owner.post('/v1/charges', { amount: 10, currency: 'usd', source: account })).status).toBe(201);
    expect((await check()).violations).toEqual(NONE);
    const [breakIt, mendIt] = breakage(owner.id, account);
    await sql(breakIt);
    const run = await check();
    expect(run.violations).toEqual({ ...NONE, [invariant]: 1 });
    expect(await brokenByTheFullCheck()).toEqual({ ...NONE, [invariant]: 1 });
    expect((await app.request('GET', '/metrics')).text).toContain(`ledger_invariant_violations{invariant="${invariant}"} 1`);
    // Mended, and the check's sums started over (an entry it had folded in is gone): right again.
    await sql(mendIt);
    await sql(`TRUNCATE ledger_check_sums`);
    await sql(`UPDATE ledger_check SET folded_through = 0, candidate_seq = NULL, candidate_at = NULL`);
    expect((await check()).violations).toEqual(NONE);
  });
});

// Not the ledger check, but the same database of its own, where a key can be left unfinished on
// purpose without the completer of another suite's app taking it.
describe('gauges read from the database when scraped', () => {
  let app: TestApp;

  beforeAll(async () => {
    const address = new URL(process.env.TEST_DATABASE_URL!);
    address.pathname = `${address.pathname}_ledger_check`;
    app = await TestApp.start({}, address.toString());
  });
  afterAll(() => app.close());

  it('export this scrape’s census, not the last one’s: the oldest unfinished card key on the first scrape', async () => {
    const merchant = await app.merchant('unfinished');
    await app.dataSource.query(
      `INSERT INTO idempotency_keys (merchant_id, key, fingerprint, created_at, expires_at, recovery_point, charge_id)
       VALUES ($1, 'unfinished', 'fp', now() - interval '1 hour', now() + interval '1 day', 'started', 'ch_unfinished')`,
      [merchant.id],
    );
    try {
      const metrics = (await app.request('GET', '/metrics')).text;
      const age = Number(/^card_charge_oldest_unfinished_key_age_seconds (\S+)$/m.exec(metrics)?.[1]);
      expect(age).toBeGreaterThanOrEqual(3600);
      expect(metrics).toMatch(/^card_charge_keys\{recovery_point="started"\} [1-9]/m);
    } finally {
      await app.dataSource.query(`DELETE FROM idempotency_keys WHERE merchant_id = $1`, [merchant.id]);
    }
  });

  it('export the purge’s lag: how long ago the oldest expired record not yet purged expired', async () => {
    const merchant = await app.merchant('expired');
    const lag = async () =>
      Number(/^idempotency_oldest_expired_key_age_seconds (\S+)$/m.exec((await app.request('GET', '/metrics')).text)?.[1]);
    await app.dataSource.query(
      `INSERT INTO idempotency_keys (merchant_id, key, fingerprint, status, body, created_at, expires_at)
       VALUES ($1, 'expired', 'fp', 201, '{}', now() - interval '3 hours', now() - interval '2 hours')`,
      [merchant.id],
    );
    expect(await lag()).toBeGreaterThanOrEqual(7200);
    await app.app.get(IdempotencyPurgeService).purgeOnce();
    expect(await lag()).toBe(0);
  });

  it('export the pool of the request path: its bound, and its connections in use or idle', async () => {
    const metrics = (await app.request('GET', '/metrics')).text;
    const gauge = (line: RegExp) => Number(line.exec(metrics)?.[1]);
    expect(gauge(/^database_pool_connections\{state="max"\} (\S+)$/m)).toBe(20);
    // The scrape's own reads (the census, the purge's lag, the ledger check's row) use the pool.
    const open =
      gauge(/^database_pool_connections\{state="in_use"\} (\S+)$/m) + gauge(/^database_pool_connections\{state="idle"\} (\S+)$/m);
    expect(open).toBeGreaterThanOrEqual(1);
    expect(open).toBeLessThanOrEqual(20);
    expect(gauge(/^database_pool_waiting_requests (\S+)$/m)).toBeGreaterThanOrEqual(0);
  });
});
