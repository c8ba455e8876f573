import { randomUUID } from 'node:crypto';
import { IdempotencyPurgeService } from '../src/idempotency/idempotency-purge.service.js';
import { MerchantClient, TestApp } from './support/test-app.js';

describe('idempotency', () => {
  let app: TestApp;
  let merchant: MerchantClient;

  beforeAll(async () => {
    app = await TestApp.start();
    merchant = await app.merchant('idempotency');
  });
  afterAll(() => app.close());

  const chargeCount = async (client: MerchantClient, source: string) =>
    (await client.get(`/v1/charges?source=${source}&limit=100`)).body.data.length;

  it('requires a key on every POST: missing or invalid is 400 and nothing happens', async () => {
    const source = await merchant.account(1000);
    const body = { amount: 100, currency: 'usd', source };
    const missing = await merchant.post('/v1/charges', body, null);
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe('idempotency_key_missing');
    for (const key of ['x'.repeat(256), 'has space', 'tab\tkey']) {
      const invalid = await merchant.post('/v1/charges', body, key);
      expect(invalid.status).toBe(400);
      expect(invalid.body.code).toBe('idempotency_key_invalid');
    }
    expect((await merchant.post('/v1/accounts', { currency: 'usd' }, null)).body.code).toBe('idempotency_key_missing');
    expect((await merchant.post(`/v1/accounts/${source}/deposits`, { amount: 1 }, null)).body.code).toBe('idempotency_key_missing');
    expect(await chargeCount(merchant, source)).toBe(0);
    expect(await merchant.balanceOf(source)).toEqual({ balance: 1000, held: 0 });
  });

  it('replays status, body, Location and headers; the first response is not marked replayed', async () => {
    const source = await merchant.account(1000);
    const body = { amount: 250, currency: 'usd', source, metadata: { order: '42' } };
    const first = await merchant.post('/v1/charges', body, 'replay-1');
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const expires = first.headers.get('idempotency-expires');
    expect(expires).toBeTruthy();
    expect(new Date(expires!).getTime()).toBeGreaterThan(Date.now() + 86_000_000);

    // Key order and whitespace do not matter.
    const again = await merchant.request('POST', '/v1/charges', {
      raw: `{ "metadata": {"order":"42"}, "source": "${source}",   "currency": "usd", "amount": 250 }`,
      key: 'replay-1',
    });
    expect(again.status).toBe(201);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('idempotency-expires')).toBe(expires);
    expect(await merchant.balanceOf(source)).toEqual({ balance: 750, held: 0 });
  });

  it('422 idempotency_key_reused for another body or another path, never retried into an effect', async () => {
    const source = await merchant.account(1000);
    await merchant.post('/v1/charges', { amount: 100, currency: 'usd', source }, 'reuse-1');
    const otherBody = await merchant.post('/v1/charges', { amount: 101, currency: 'usd', source }, 'reuse-1');
    expect(otherBody.status).toBe(422);
    expect(otherBody.body.code).toBe('idempotency_key_reused');
    const otherPath = await merchant.post('/v1/accounts', { currency: 'usd' }, 'reuse-1');
    expect(otherPath.status).toBe(422);
    expect(otherPath.body.code).toBe('idempotency_key_reused');
    expect(await merchant.balanceOf(source)).toEqual({ balance: 900, held: 0 });
    expect(await chargeCount(merchant, source)).toBe(1);
  });

  it('scopes keys to the merchant: the same key gives two independent charges', async () => {
    const other = await app.merchant('other');
    const mine = await merchant.account(1000);
    const theirs = await other.account(1000);
    const a = await merchant.post('/v1/charges', { amount: 300, currency: 'usd', source: mine }, 'shared-key');
    const b = await other.post('/v1/charges', { amount: 300, currency: 'usd', source: theirs }, 'shared-key');
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.headers.get('idempotent-replayed')).toBeNull();
    expect(a.body.id).not.toBe(b.body.id);
    expect(await merchant.balanceOf(mine)).toEqual({ balance: 700, held: 0 });
    expect(await other.balanceOf(theirs)).toEqual({ balance: 700, held: 0 });
  });

  it('does not record validation failures: a corrected request with the same key runs', async () => {
    const source = await merchant.account(1000);
    const bad = await merchant.post('/v1/charges', { amount: 0, currency: 'usd', source }, 'fix-me');
    expect(bad.status).toBe(400);
    const fixed = await merchant.post('/v1/charges', { amount: 10, currency: 'usd', source }, 'fix-me');
    expect(fixed.status).toBe(201);
    expect(fixed.headers.get('idempotent-replayed')).toBeNull();
    expect(await merchant.balanceOf(source)).toEqual({ balance: 990, held: 0 });
  });

  it('records a 402 and replays it even after the account was topped up', async () => {
    const source = await merchant.account(100);
    const body = { amount: 500, currency: 'usd', source };
    const first = await merchant.post('/v1/charges', body, 'poor');
    expect(first.status).toBe(402);
    expect(first.body.code).toBe('insufficient_funds');
    expect(first.headers.get('idempotency-expires')).toBeTruthy();
    await merchant.post(`/v1/accounts/${source}/deposits`, { amount: 1000 });
    const replay = await merchant.post('/v1/charges', body, 'poor');
    expect(replay.status).toBe(402);
    expect(replay.text).toBe(first.text);
    expect(replay.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await merchant.balanceOf(source)).toEqual({ balance: 1100, held: 0 });
    // A new key is a new attempt, and now there is money.
    expect((await merchant.post('/v1/charges', body)).status).toBe(201);
  });

  it('records a 404 for a source that is not the merchant’s', async () => {
    const other = await app.merchant('stranger');
    const theirs = await other.account(1000);
    const body = { amount: 5, currency: 'usd', source: theirs };
    const first = await merchant.post('/v1/charges', body, 'not-mine');
    expect(first.status).toBe(404);
    expect((await merchant.post('/v1/charges', body, 'not-mine')).headers.get('idempotent-replayed')).toBe('true');
    expect(await other.balanceOf(theirs)).toEqual({ balance: 1000, held: 0 });
  });

  it('50 concurrent identical requests with one key: exactly one charge, every 201 the same, the rest 409 with Retry-After', async () => {
    const source = await merchant.account(100_000);
    const body = { amount: 700, currency: 'usd', source };
    const replies = await Promise.all(Array.from({ length: 50 }, () => merchant.post('/v1/charges', body, 'storm')));

    const created = replies.filter((reply) => reply.status === 201);
    const busy = replies.filter((reply) => reply.status === 409);
    expect(created.length + busy.length).toBe(50);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((reply) => reply.body.id)).size).toBe(1);
    expect(created.filter((reply) => reply.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    for (const reply of busy) {
      expect(reply.body.code).toBe('idempotency_request_in_progress');
      expect(reply.headers.get('retry-after')).toBe('1');
    }
    expect(await chargeCount(merchant, source)).toBe(1);
    expect(await merchant.balanceOf(source)).toEqual({ balance: 100_000 - 700, held: 0 });

    const later = await merchant.post('/v1/charges', body, 'storm');
    expect(later.status).toBe(201);
    expect(later.text).toBe(created[0]!.text);
    expect(later.headers.get('idempotent-replayed')).toBe('true');
  });

  it('200 concurrent charges of 300 with distinct keys on 10000: exactly 33 succeed, and repeating them changes nothing', async () => {
    const source = await merchant.account(10_000);
    const keys = Array.from({ length: 200 }, () => randomUUID());
    const body = { amount: 300, currency: 'usd', source };
    const first = await Promise.all(keys.map((key) => merchant.post('/v1/charges', body, key)));
    expect(first.filter((reply) => reply.status === 201)).toHaveLength(33);
    expect(first.filter((reply) => reply.status === 402)).toHaveLength(167);
    expect(await merchant.balanceOf(source)).toEqual({ balance: 100, held: 0 });

    const repeat = await Promise.all(keys.map((key) => merchant.post('/v1/charges', body, key)));
    expect(repeat.map((reply) => reply.status)).toEqual(first.map((reply) => reply.status));
    expect(repeat.map((reply) => reply.text)).toEqual(first.map((reply) => reply.text));
    expect(repeat.every((reply) => reply.headers.get('idempotent-replayed') === 'true')).toBe(true);
    expect(await merchant.balanceOf(source)).toEqual({ balance: 100, held: 0 });
    expect(await chargeCount(merchant, source)).toBe(33);
  });

  it('makes every POST idempotent: accounts, deposits and merchants', async () => {
    const account = await merchant.post('/v1/accounts', { currency: 'usd' }, 'acct-key');
    const accountAgain = await merchant.post('/v1/accounts', { currency: 'usd' }, 'acct-key');
    expect(accountAgain.body.id).toBe(account.body.id);
    expect(accountAgain.headers.get('etag')).toBe('"1"');
    expect(accountAgain.headers.get('location')).toBe(account.headers.get('location'));

    const deposits = await Promise.all(
      Array.from({ length: 10 }, () => merchant.post(`/v1/accounts/${account.body.id}/deposits`, { amount: 500 }, 'dep-key')),
    );
    expect(new Set(deposits.filter((d) => d.status === 201).map((d) => d.body.id)).size).toBe(1);
    expect(await merchant.balanceOf(account.body.id)).toEqual({ balance: 500, held: 0 });
  });

  it('keeps a key for IDEMPOTENCY_TTL_SECONDS, then purges it and treats it as new', async () => {
    const shortLived = await TestApp.start({ idempotencyTtlSeconds: 1 });
    try {
      const client = new MerchantClient(shortLived, merchant.id, merchant.apiKey);
      const source = await merchant.account(1000);
      const first = await client.post('/v1/charges', { amount: 100, currency: 'usd', source }, 'short-lived');
      expect(first.status).toBe(201);
      const expires = new Date(first.headers.get('idempotency-expires')!).getTime();
      expect(expires).toBeLessThanOrEqual(Date.now() + 2_000);
      await new Promise((resolve) => setTimeout(resolve, 1_500));

      // Expired: a different request with the same key is new, not a 422.
      const reused = await client.post('/v1/charges', { amount: 200, currency: 'usd', source }, 'short-lived');
      expect(reused.status).toBe(201);
      expect(reused.headers.get('idempotent-replayed')).toBeNull();
      expect(await merchant.balanceOf(source)).toEqual({ balance: 700, held: 0 });

      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const removed = await shortLived.app.get(IdempotencyPurgeService).purgeOnce();
      expect(removed).toBeGreaterThanOrEqual(1);
      const left = await shortLived.dataSource.query(`SELECT 1 FROM idempotency_keys WHERE merchant_id = $1 AND key = 'short-lived'`, [
        merchant.id,
      ]);
      expect(left).toHaveLength(0);
    } finally {
      await shortLived.close();
    }
  });
});
