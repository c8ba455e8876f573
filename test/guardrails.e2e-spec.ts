import { MerchantClient, TestApp } from './support/test-app.js';

describe('guardrails', () => {
  describe('rate limiting per API key', () => {
    let app: TestApp;

    beforeAll(async () => {
      app = await TestApp.start({ rateLimitPerSecond: 5 });
    });
    afterAll(() => app.close());

    it('answers 429 rate_limited with Retry-After past the rate, leaves other merchants alone, and records nothing', async () => {
      const busy = await app.merchant('busy');
      const calm = await app.merchant('calm');
      const source = await busy.account(1_000);
      // The buckets read Date.now(): the test sets it, so that no token comes back while the
      // burst is served, however slowly (a head start in real time failed under load).
      const realNow = Date.now;
      const at = realNow() + 10_000; // every bucket full again after the set-up's requests
      Date.now = () => at;
      try {
        const burst = await Promise.all(Array.from({ length: 15 }, () => busy.get('/v1/accounts')));
        const limited = burst.filter((reply) => reply.status === 429);
        expect(burst.filter((reply) => reply.status === 200).length).toBe(5);
        expect(limited.length).toBe(10);
        for (const reply of limited) {
          expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
          expect(reply.body.code).toBe('rate_limited');
          expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        }
        expect((await calm.get('/v1/accounts')).status).toBe(200);

        const charge = { amount: 100, currency: 'usd', source };
        const refused = await busy.post('/v1/charges', charge, 'limited-key');
        expect(refused.status).toBe(429);
        const retryAt = at + Number(refused.headers.get('retry-after')) * 1_000;
        Date.now = () => retryAt;
        const retried = await busy.post('/v1/charges', charge, 'limited-key');
        expect(retried.status).toBe(201);
        expect(retried.headers.get('idempotent-replayed')).toBeNull();
        Date.now = () => retryAt + 1_000;
        expect(await busy.balanceOf(source)).toEqual({ balance: 900, held: 0 });
      } finally {
        // The buckets were last filled at the test's time, ahead of the real one: what follows
        // must not depend on this merchant's bucket.
        Date.now = realNow;
      }
      expect((await app.request('GET', '/health/live')).status).toBe(200);
    });
  });

  describe('input limits and card data', () => {
    let app: TestApp;
    let merchant: MerchantClient;

    beforeAll(async () => {
      app = await TestApp.start();
      merchant = await app.merchant('guardrails');
    });
    afterAll(() => app.close());

    it.each([
      ['an account name', { currency: 'usd', name: '4242 4242 4242 4242' }],
      ['a metadata value', { currency: 'usd', metadata: { note: 'card 4000056655665556' } }],
      ['a metadata key', { currency: 'usd', metadata: { '5555555555554444': 'x' } }],
      ['a long name', { currency: 'usd', name: 'x'.repeat(201) }],
      ['21 metadata keys', { currency: 'usd', metadata: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])) }],
      ['a long metadata key', { currency: 'usd', metadata: { ['k'.repeat(41)]: 'v' } }],
      ['a long metadata value', { currency: 'usd', metadata: { k: 'v'.repeat(501) } }],
    ])('rejects %s', async (_what, body) => {
      const reply = await merchant.post('/v1/accounts', body);
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe('validation_failed');
      expect(reply.text).not.toMatch(/4242 4242|4000056655665556|5555555555554444/);
    });

    it('rejects a card number as an account id, a charge source or a description, and stores none', async () => {
      expect((await merchant.request('PUT', '/v1/accounts/4242424242424242', { body: { currency: 'usd' } })).status).toBe(400);
      expect((await merchant.post('/v1/charges', { amount: 1, currency: 'usd', source: '4242424242424242' })).status).toBe(400);
      const account = await merchant.account(100);
      expect((await merchant.post(`/v1/accounts/${account}/deposits`, { amount: 1, description: '4242-4242-4242-4242' })).status).toBe(400);
      const [found] = await app.dataSource.query(
        `SELECT count(*)::int AS n FROM accounts WHERE id ~ '\\d{13}' OR name ~ '\\d{13}' OR metadata::text ~ '\\d{13}'`,
      );
      expect(found.n).toBe(0);
    });
  });
});
