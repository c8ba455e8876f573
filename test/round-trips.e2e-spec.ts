import { Sql, type SqlTraffic } from '../src/database/sql.js';
import { MerchantClient, TestApp } from './support/test-app.js';

/**
 * Round trips and statements per request, counted (never timed) by the request path's own pool
 * (Sql.traffic: a statement sent after an answer reached the code that sent it starts a round
 * trip; statements sent without waiting share one). A count that grows fails here: a change to the
 * request path's round trips is decided on purpose, measured side by side (npm run bench), and
 * written down here and in docs/architecture.md.
 */
describe('round trips and statements per request', () => {
  let app: TestApp;
  let merchant: MerchantClient;
  let sql: Sql;

  // An API key is checked against the database again once its cached check is API_KEY_CACHE_MS
  // old (1 s by default): on a loaded machine that second can pass between a test's set-up and its
  // counted request, and the check's round trip would be counted as the request's. The counts are
  // the request path's; the key's check is counted once per process, where a test says so.
  const KEY_CHECKS_KEPT = { apiKeyCacheMs: 60_000 };

  beforeAll(async () => {
    app = await TestApp.start(KEY_CHECKS_KEPT);
    merchant = await app.merchant('round-trips');
    sql = app.app.get(Sql);
  });

  afterAll(() => app.close());

  /** What `request` sent, once the connections it used are back in the pool. */
  async function counted(on: Sql, request: () => Promise<unknown>): Promise<SqlTraffic> {
    const before = { ...on.traffic };
    await request();
    await on.idle();
    return { roundTrips: on.traffic.roundTrips - before.roundTrips, statements: on.traffic.statements - before.statements };
  }

  it('a new key: two round trips (lookup, BEGIN, claim and the charge; then the event and the record with COMMIT)', async () => {
    const source = await merchant.account(10_000);
    const traffic = await counted(sql, async () => {
      const reply = await merchant.post('/v1/charges', { amount: 100, currency: 'usd', source }, 'rt-new');
      expect(reply.status).toBe(201);
    });
    // The charge's event (events/) is one more statement, sent with COMMIT: no round trip more.
    expect(traffic).toEqual({ roundTrips: 2, statements: 7 });
  });

  it('a replay this process remembers: none', async () => {
    const source = await merchant.account(10_000);
    await merchant.post('/v1/charges', { amount: 100, currency: 'usd', source }, 'rt-memory');
    const traffic = await counted(sql, async () => {
      const reply = await merchant.post('/v1/charges', { amount: 100, currency: 'usd', source }, 'rt-memory');
      expect(reply.headers.get('idempotent-replayed')).toBe('true');
    });
    expect(traffic).toEqual({ roundTrips: 0, statements: 0 });
  });

  it('a replay from the database, of a key another process answered: answered after one round trip; its ROLLBACK follows', async () => {
    const source = await merchant.account(10_000);
    await merchant.post('/v1/charges', { amount: 100, currency: 'usd', source }, 'rt-database');
    const fresh = await TestApp.start(KEY_CHECKS_KEPT);
    try {
      const other = fresh.app.get(Sql);
      // The API key's check, once per process, is not the replay's.
      expect((await fresh.request('GET', '/v1/balance', { token: merchant.apiKey })).status).toBe(200);
      const traffic = await counted(other, async () => {
        const reply = await fresh.request('POST', '/v1/charges', {
          token: merchant.apiKey,
          body: { amount: 100, currency: 'usd', source },
          key: 'rt-database',
        });
        expect(reply.headers.get('idempotent-replayed')).toBe('true');
      });
      // lookup, BEGIN, claim (refused), the charge (skipped); then ROLLBACK
      expect(traffic).toEqual({ roundTrips: 2, statements: 5 });
    } finally {
      await fresh.close();
    }
  });

  it('a replay of a key this process answered, whose answer has left its memory: one round trip, one statement', async () => {
    const source = await merchant.account(10_000);
    const forgetful = await TestApp.start({ ...KEY_CHECKS_KEPT, replayMemoryEntries: 0 });
    try {
      const other = forgetful.app.get(Sql);
      const charge = () =>
        forgetful.request('POST', '/v1/charges', {
          token: merchant.apiKey,
          body: { amount: 100, currency: 'usd', source },
          key: 'rt-forgotten',
        });
      expect((await charge()).status).toBe(201);
      const traffic = await counted(other, async () => {
        const reply = await charge();
        expect(reply.headers.get('idempotent-replayed')).toBe('true');
      });
      // the record's lookup, outside any transaction; the handler never runs
      expect(traffic).toEqual({ roundTrips: 1, statements: 1 });
    } finally {
      await forgetful.close();
    }
  });

  it('a batch of one item', async () => {
    const source = await merchant.account(10_000);
    const traffic = await counted(sql, async () => {
      const reply = await merchant.post('/v1/charges/batch', { charges: [{ amount: 1, currency: 'usd', source }] }, 'rt-batch');
      expect(reply.status).toBe(200);
    });
    // lookup; BEGIN and the key's lock, the claim, the item's lock, its record, the charge, the
    // item's record, the charge's event with COMMIT; the response on the claim
    expect(traffic).toEqual({ roundTrips: 9, statements: 11 });
  });

  it('a PUT with If-Match and no key', async () => {
    const created = await merchant.request('PUT', '/v1/accounts/rt-wallet', { body: { currency: 'usd', name: 'a' } });
    expect(created.status).toBe(201);
    const traffic = await counted(sql, async () => {
      const reply = await merchant.request('PUT', '/v1/accounts/rt-wallet', {
        body: { currency: 'usd', name: 'b' },
        headers: { 'if-match': created.headers.get('etag')! },
      });
      expect(reply.status).toBe(200);
    });
    // BEGIN with the read of the account, the versioned update, account.updated's event with COMMIT
    expect(traffic).toEqual({ roundTrips: 3, statements: 5 });
  });
});
