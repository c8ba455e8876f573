import { MerchantClient, TestApp } from './support/test-app.js';

/**
 * A process whose clock runs apart from PostgreSQL's decides no replay by it: an answer it
 * remembers is kept for the time the database said the record had left, counted on the process's
 * monotonic clock (committed-responses.ts). Here one instance's wall clock is set an hour back
 * while a key expires in the database and another instance accepts the key as new.
 */
describe('replays decided by the database’s clock', () => {
  const ttlSeconds = 3;
  let behind: TestApp;
  let other: TestApp;
  let merchant: MerchantClient;

  beforeAll(async () => {
    behind = await TestApp.start({ idempotencyTtlSeconds: ttlSeconds });
    other = await TestApp.start({ idempotencyTtlSeconds: ttlSeconds });
    merchant = await behind.merchant('clock-skew');
  });

  afterAll(async () => {
    await behind.close();
    await other.close();
  });

  it('an instance whose clock is an hour behind neither replays a key that expired nor refuses it (422) once another instance took it', async () => {
    const source = await merchant.account(10_000);
    const first = { amount: 100, currency: 'usd', source };
    const second = { amount: 200, currency: 'usd', source };
    const onOther = new MerchantClient(other, merchant.id, merchant.apiKey);

    expect((await merchant.post('/v1/charges', first, 'skewed')).status).toBe(201);
    const realNow = Date.now;
    Date.now = () => realNow() - 3_600_000;
    try {
      // The synchronisation point: the database itself says the record has expired.
      await untilExpired(behind, merchant.id, 'skewed');
      const taken = await onOther.post('/v1/charges', second, 'skewed');
      expect(taken.status).toBe(201);
      expect(taken.headers.get('idempotent-replayed')).toBeNull();

      const retried = await merchant.post('/v1/charges', second, 'skewed');
      expect(retried.status).toBe(201);
      expect(retried.headers.get('idempotent-replayed')).toBe('true');
      expect(retried.text).toBe(taken.text);
      const stale = await merchant.post('/v1/charges', first, 'skewed');
      expect(stale.status).toBe(422);
    } finally {
      Date.now = realNow;
    }
    expect(await merchant.balanceOf(source)).toEqual({ balance: 10_000 - 100 - 200, held: 0 });
  });
});

async function untilExpired(app: TestApp, merchantId: string, key: string): Promise<void> {
  for (;;) {
    const [row] = await app.dataSource.query<{ expired: boolean }[]>(
      'SELECT expires_at <= now() AS expired FROM idempotency_keys WHERE merchant_id = $1 AND key = $2',
      [merchantId, key],
    );
    if (row?.expired) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
