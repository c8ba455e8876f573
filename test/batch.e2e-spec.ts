import { MerchantClient, TestApp } from './support/test-app.js';

describe('batch charges', () => {
  let app: TestApp;
  let merchant: MerchantClient;

  beforeAll(async () => {
    app = await TestApp.start();
    merchant = await app.merchant('batch');
  });
  afterAll(() => app.close());

  /** Ten items, each from its own account holding 1000; the accounts of `poor` items hold 10. */
  async function tenItems(poor: number[] = []) {
    const sources = await Promise.all(Array.from({ length: 10 }, (_, i) => merchant.account(poor.includes(i) ? 10 : 1_000)));
    return { sources, charges: sources.map((source, i) => ({ amount: 100 + i, currency: 'usd', source })) };
  }

  const chargesFrom = async (source: string) => (await merchant.get(`/v1/charges?source=${source}`)).body.data.length;

  it('commits each item on its own: items 3 and 7 lack funds and get 402, the rest succeed', async () => {
    const { sources, charges } = await tenItems([3, 7]);
    const reply = await merchant.post('/v1/charges/batch', { charges }, 'batch-funds');
    expect(reply.status).toBe(200);
    expect(reply.body.object).toBe('batch');
    expect(reply.body.results.map((r: { index: number }) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(reply.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 201, 402, 201, 201, 201, 402, 201, 201]);
    expect(reply.body.results[3].error).toMatchObject({ status: 402, code: 'insufficient_funds' });
    expect(reply.body.results[3].charge).toBeUndefined();
    expect(reply.body.results[0].charge).toMatchObject({ object: 'charge', amount: 100, status: 'succeeded', source: sources[0] });
    for (const [i, source] of sources.entries()) {
      expect(await merchant.balanceOf(source)).toEqual({ balance: [3, 7].includes(i) ? 10 : 1_000 - (100 + i), held: 0 });
    }

    const replay = await merchant.post('/v1/charges/batch', { charges }, 'batch-funds');
    expect(replay.status).toBe(200);
    expect(replay.text).toBe(reply.text);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    for (const source of sources) expect(await chargesFrom(source)).toBeLessThanOrEqual(1);
  });

  it('a batch cut off part-way and retried with the same key runs each item exactly once', async () => {
    const { sources, charges } = await tenItems([8]);
    const key = `batch-cut-${Date.now()}`;
    // Test-only: COMMIT of item 5's transaction fails, as if the connection were lost there.
    await app.dataSource.query(`
      CREATE OR REPLACE FUNCTION test_fail_batch_item() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'forced failure at commit of batch item %', NEW.item_index; END $$`);
    await app.dataSource.query(`
      CREATE CONSTRAINT TRIGGER test_fail_batch_item AFTER INSERT ON batch_items
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
      WHEN (NEW.batch_key = '${key}' AND NEW.item_index = 5) EXECUTE FUNCTION test_fail_batch_item()`);
    try {
      const cut = await merchant.post('/v1/charges/batch', { charges }, key);
      expect(cut.status).toBe(500);
      const ran = await Promise.all(sources.map(chargesFrom));
      expect(ran).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
    } finally {
      await app.dataSource.query('DROP TRIGGER test_fail_batch_item ON batch_items');
      await app.dataSource.query('DROP FUNCTION test_fail_batch_item()');
    }

    const retries = await Promise.all([1, 2].map(() => merchant.post('/v1/charges/batch', { charges }, key)));
    for (const retry of retries) {
      expect(retry.status).toBe(200);
      expect(retry.body.results.map((r: { status: number }) => r.status)).toEqual([201, 201, 201, 201, 201, 201, 201, 201, 402, 201]);
    }
    expect(retries[1]!.body).toEqual(retries[0]!.body);
    expect(await Promise.all(sources.map(chargesFrom))).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 0, 1]);
    for (const [i, source] of sources.entries()) {
      expect(await merchant.balanceOf(source)).toEqual({ balance: i === 8 ? 10 : 1_000 - (100 + i), held: 0 });
    }
  });

  it('rejects an invalid batch whole, running nothing', async () => {
    const { sources, charges } = await tenItems();
    const invalid = charges.map((charge, i) => (i === 2 ? { ...charge, amount: -1 } : charge));
    const reply = await merchant.post('/v1/charges/batch', { charges: invalid });
    expect(reply.status).toBe(400);
    expect(reply.body.errors[0].field).toBe('charges.2.amount');
    for (const source of sources) expect(await chargesFrom(source)).toBe(0);

    expect((await merchant.post('/v1/charges/batch', { charges: [] })).status).toBe(400);
    const tooMany = Array.from({ length: 101 }, () => charges[0]);
    expect((await merchant.post('/v1/charges/batch', { charges: tooMany })).status).toBe(400);
    expect((await merchant.post('/v1/charges/batch', { charges: charges[0] })).status).toBe(400);
    expect((await merchant.post('/v1/charges/batch', {})).status).toBe(400);
  });

  it('answers 422 for the key of a batch reused with another batch, part-way or finished', async () => {
    const { charges } = await tenItems();
    await merchant.post('/v1/charges/batch', { charges: charges.slice(0, 2) }, 'batch-reuse');
    const reused = await merchant.post('/v1/charges/batch', { charges: charges.slice(0, 3) }, 'batch-reuse');
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('idempotency_key_reused');
    const asCharge = await merchant.post('/v1/charges', charges[0], 'batch-reuse');
    expect(asCharge.status).toBe(422);
  });
});
