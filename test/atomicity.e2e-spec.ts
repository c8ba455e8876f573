import { MerchantClient, TestApp } from './support/test-app.js';

/**
 * The effect and its idempotency record commit in one transaction. A test-only constraint trigger
 * makes COMMIT itself fail for one key — after the charge, its ledger entries, the balance change,
 * its event (the outbox, events/) and the record were all written — and the test shows that none of
 * them remain, and that the retry writes exactly one event.
 */
describe('atomicity: the charge and its idempotency record commit together or not at all', () => {
  let app: TestApp;
  let merchant: MerchantClient;
  const key = `explode-on-commit-${Date.now()}`;

  beforeAll(async () => {
    app = await TestApp.start();
    merchant = await app.merchant('atomicity');
    await app.dataSource.query(`
      CREATE OR REPLACE FUNCTION test_fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'forced failure at commit for key %', NEW.key;
      END $$`);
    // DEFERRABLE INITIALLY DEFERRED: fires at COMMIT, after every statement of the request ran.
    await app.dataSource.query(`
      CREATE CONSTRAINT TRIGGER test_fail_commit AFTER INSERT ON idempotency_keys
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
      WHEN (NEW.key = '${key}') EXECUTE FUNCTION test_fail_commit()`);
  });

  afterAll(async () => {
    await app.dataSource.query('DROP TRIGGER IF EXISTS test_fail_commit ON idempotency_keys');
    await app.dataSource.query('DROP FUNCTION IF EXISTS test_fail_commit()');
    await app.close();
  });

  it('leaves no charge, no entries, no key and an unchanged balance; a retry then succeeds exactly once', async () => {
    const source = await merchant.account(5_000);
    const body = { amount: 1_200, currency: 'usd', source };

    const failed = await merchant.post('/v1/charges', body, key);
    expect(failed.status).toBe(500);
    expect(failed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(failed.text).not.toContain('forced failure');
    // The handler had set Location before COMMIT failed: it must not point at the rolled-back charge.
    expect(failed.headers.get('location')).toBeNull();

    const counts = async () => {
      const [row] = await app.dataSource.query(
        `SELECT (SELECT count(*) FROM charges WHERE merchant_id = $1)::int AS charges,
                (SELECT count(*) FROM ledger_entries WHERE merchant_id = $1 AND type = 'charge')::int AS entries,
                (SELECT count(*) FROM idempotency_keys WHERE merchant_id = $1 AND key = $2)::int AS keys,
                (SELECT count(*) FROM events WHERE merchant_id = $1 AND type = 'charge.succeeded')::int AS events,
                (SELECT sum(amount) FROM ledger_entries WHERE merchant_id = $1 AND account_id = 'balance:usd')::text AS merchant_balance`,
        [merchant.id, key],
      );
      return row;
    };
    expect(await counts()).toEqual({ charges: 0, entries: 0, keys: 0, events: 0, merchant_balance: null });
    expect(await merchant.balanceOf(source)).toEqual({ balance: 5_000, held: 0 });

    await app.dataSource.query('DROP TRIGGER test_fail_commit ON idempotency_keys');
    const retries = await Promise.all([1, 2, 3].map(() => merchant.post('/v1/charges', body, key)));
    const created = retries.filter((reply) => reply.status === 201);
    expect(new Set(created.map((reply) => reply.body.id)).size).toBe(1);
    expect(await counts()).toEqual({ charges: 1, entries: 2, keys: 1, events: 1, merchant_balance: '1200' });
    expect(await merchant.balanceOf(source)).toEqual({ balance: 3_800, held: 0 });
  });
});
