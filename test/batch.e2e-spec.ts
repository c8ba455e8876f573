import { itemLockId } from '../src/idempotency/key-rules.js';
import { MerchantClient, TestApp, type Reply } from './support/test-app.js';

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

  describe('one key, one request, whatever the route', () => {
    const count = async (source: string) => {
      const page = await merchant.get(`/v1/charges?source=${source}&limit=100`);
      return page.body.data.length as number;
    };

    it('a charge sent with the key of a running batch takes no effect, and the batch replays its own items', async () => {
      const source = await merchant.account(1_000_000);
      const key = 'batch-then-charge';
      const charges = Array.from({ length: 100 }, () => ({ amount: 1, currency: 'usd', source }));
      // The synchronisation point: item 50's lock, held by another session, stops the batch there,
      // after its first item claimed the key and before it ends; the charge is sent once the
      // database shows the claim, and the batch goes on when the lock is let go.
      const holder = app.dataSource.createQueryRunner();
      await holder.connect();
      let first: Reply;
      let single: Reply;
      try {
        await holder.query(`SELECT pg_advisory_lock(${itemLockId('$1', '$2', '$3')})`, [merchant.id, key, 50]);
        const batch = merchant.post('/v1/charges/batch', { charges }, key);
        await until(async () => {
          const claims = await app.dataSource.query<unknown[]>(`SELECT 1 FROM idempotency_keys WHERE merchant_id = $1 AND key = $2`, [
            merchant.id,
            key,
          ]);
          return claims.length > 0;
        });
        single = await merchant.post('/v1/charges', { amount: 7, currency: 'usd', source }, key);
        await holder.query('SELECT pg_advisory_unlock_all()');
        first = await batch;
      } finally {
        await holder.query('SELECT pg_advisory_unlock_all()');
        await holder.release();
      }

      expect(first.status).toBe(200);
      expect(single.status).toBe(422);
      expect(single.body.code).toBe('idempotency_key_reused');
      expect(await count(source)).toBe(100);
      // The batch's retries replay it: its charges committed, so it never answers "key reused".
      const again = await merchant.post('/v1/charges/batch', { charges }, key);
      expect(again.status).toBe(200);
      expect(again.text).toBe(first.text);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await merchant.balanceOf(source)).toEqual({ balance: 1_000_000 - 100, held: 0 });
    });

    it('batch, charge and deposit sent at once with one key: exactly one takes effect, and keeps answering', async () => {
      const keys = Array.from({ length: 8 }, (_, i) => `three-routes-${i}`);
      const sources = await Promise.all(keys.map(() => merchant.account(10_000)));
      const requests = (i: number): [string, unknown][] => [
        ['/v1/charges/batch', { charges: Array.from({ length: 5 }, () => ({ amount: 10, currency: 'usd', source: sources[i] })) }],
        ['/v1/charges', { amount: 3, currency: 'usd', source: sources[i] }],
        [`/v1/accounts/${sources[i]}/deposits`, { amount: 1_000 }],
      ];
      const answers = await Promise.all(
        keys.map((key, i) => Promise.all(requests(i).map(([path, body]) => merchant.post(path, body, key)))),
      );
      for (const [i, key] of keys.entries()) {
        const [batch, single, deposit] = answers[i]!;
        const balance = (await merchant.balanceOf(sources[i]!)).balance;
        const effects = [balance === 10_000 - 50, balance === 10_000 - 3, balance === 11_000];
        expect(effects.filter(Boolean)).toHaveLength(1);
        const charged = await count(sources[i]!);
        expect(charged).toBe(effects[0] ? 5 : effects[1] ? 1 : 0);
        // The others were refused (422), or told to retry (409) — and a retry of each now gets
        // the winner's recorded answer or 422, never a second effect.
        for (const [route, answer] of [batch, single, deposit].entries()) {
          expect([200, 201, 409, 422]).toContain(answer!.status);
          const [path, body] = requests(i)[route]!;
          const retry = await merchant.post(path, body, key);
          if (effects[route]) {
            expect(retry.status).toBe(route === 0 ? 200 : 201);
            expect(retry.headers.get('idempotent-replayed')).toBe('true');
          } else {
            expect(retry.status).toBe(422);
          }
        }
        expect((await merchant.balanceOf(sources[i]!)).balance).toBe(balance);
      }
    });
  });
});

/** Polls what the test waits for in the database (the limit only stops a broken run from hanging). */
async function until(condition: () => Promise<boolean>, limitMs = 20_000): Promise<void> {
  const giveUpAt = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > giveUpAt) throw new Error('the condition never came true');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
