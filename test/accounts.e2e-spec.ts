import { MerchantClient, TestApp } from './support/test-app.js';

describe('accounts', () => {
  let app: TestApp;
  let merchant: MerchantClient;

  beforeAll(async () => {
    app = await TestApp.start();
    merchant = await app.merchant('accounts');
  });
  afterAll(() => app.close());

  it('keeps metadata keys that name built-in object methods, and refuses the reserved ones', async () => {
    for (const reserved of ['constructor', 'prototype']) {
      const refused = await merchant.post('/v1/accounts', { currency: 'usd', metadata: { [reserved]: 'a' } });
      expect(refused.status).toBe(400);
      expect(refused.body.errors).toEqual([{ field: 'body.metadata', message: `must not have a key named '${reserved}' (reserved)` }]);
    }
    const metadata = { toString: 'b', valueOf: 'c', hasOwnProperty: 'd', __defineGetter__: 'e', isPrototypeOf: 'g', tier: 'f' };
    const account = await merchant.post('/v1/accounts', { currency: 'usd', metadata });
    expect(account.status).toBe(201);
    expect(account.body.metadata).toEqual(metadata);
    expect((await merchant.get(`/v1/accounts/${account.body.id}`)).body.metadata).toEqual(metadata);
    const source = await merchant.account(100);
    const charge = await merchant.post('/v1/charges', { amount: 1, currency: 'usd', source, metadata });
    expect(charge.status).toBe(201);
    expect((await merchant.get(`/v1/charges/${charge.body.id}`)).body.metadata).toEqual(metadata);
  });

  it('creates an account with Location and ETag, currency lowercased', async () => {
    const reply = await merchant.post('/v1/accounts', { currency: 'EUR', name: 'Alice', metadata: { tier: 'gold' } });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({
      object: 'account',
      currency: 'eur',
      name: 'Alice',
      metadata: { tier: 'gold' },
      balance: 0,
      held: 0,
      version: 1,
    });
    expect(reply.body.id).toMatch(/^acct_/);
    expect(reply.headers.get('location')).toBe(`/v1/accounts/${reply.body.id}`);
    expect(reply.headers.get('etag')).toBe('"1"');

    const fetched = await merchant.get(`/v1/accounts/${reply.body.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(reply.body);
    expect(fetched.headers.get('etag')).toBe('"1"');
  });

  it.each([
    [{ currency: 'usd', balance: 100 }, 'balance'],
    [{ currency: 'usd', version: 7 }, 'version'],
    [{ currency: 'usd', merchant: 'mer_x' }, 'merchant'],
    [{ currency: 'usd', held: 1 }, 'held'],
  ])('rejects mass assignment of %j', async (body, field) => {
    const reply = await merchant.post('/v1/accounts', body);
    expect(reply.status).toBe(400);
    expect(reply.headers.get('content-type')).toContain('application/problem+json');
    expect(reply.body.code).toBe('validation_failed');
    expect(reply.body.errors).toContainEqual({ field, message: `${field} should not exist` });
  });

  it.each([[{}], [{ currency: 'xyz' }], [{ currency: 12 }], [{ currency: 'usd', metadata: { a: 1 } }], [{ currency: 'usd', name: '' }]])(
    'rejects invalid fields %j',
    async (body) => {
      const reply = await merchant.post('/v1/accounts', body);
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe('validation_failed');
      expect(reply.body.errors.length).toBeGreaterThan(0);
    },
  );

  it('lists newest first with cursor pagination', async () => {
    const other = await app.merchant('pagination');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await other.account());
    const first = await other.get('/v1/accounts?limit=2');
    expect(first.body).toMatchObject({ object: 'list', has_more: true });
    expect(first.body.data.map((a: { id: string }) => a.id)).toEqual([ids[4], ids[3]]);
    const second = await other.get(`/v1/accounts?limit=2&starting_after=${ids[3]}`);
    expect(second.body.data.map((a: { id: string }) => a.id)).toEqual([ids[2], ids[1]]);
    const last = await other.get(`/v1/accounts?limit=2&starting_after=${ids[1]}`);
    expect(last.body).toMatchObject({ has_more: false });
    expect(last.body.data.map((a: { id: string }) => a.id)).toEqual([ids[0]]);
    expect((await other.get('/v1/accounts')).body.data).toHaveLength(5);
  });

  it.each(['limit=0', 'limit=101', 'limit=abc', 'limit=1.5', 'limit=', 'limit=1&limit=2', 'unknown=1'])(
    'rejects list query %s',
    async (query) => {
      const reply = await merchant.get(`/v1/accounts?${query}`);
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe('validation_failed');
      if (query.startsWith('limit=')) {
        expect(reply.body.errors).toEqual([{ field: 'limit', message: 'limit must be an integer between 1 and 100' }]);
      }
    },
  );

  it('answers 404 for a cursor that is not the merchant’s', async () => {
    expect((await merchant.get('/v1/accounts?starting_after=acct_nope')).status).toBe(404);
  });

  describe('PUT /v1/accounts/{id} (versioned upsert)', () => {
    it('creates (201, ETag "1"), then 200 unchanged for identical content', async () => {
      const created = await merchant.request('PUT', '/v1/accounts/customer-1', { body: { currency: 'usd', name: 'Bob' } });
      expect(created.status).toBe(201);
      expect(created.headers.get('etag')).toBe('"1"');
      expect(created.body).toMatchObject({ id: 'customer-1', version: 1, name: 'Bob' });

      const same = await merchant.request('PUT', '/v1/accounts/customer-1', { body: { currency: 'USD', name: 'Bob' } });
      expect(same.status).toBe(200);
      expect(same.body.version).toBe(1);
      expect(same.body.updated_at).toBe(created.body.updated_at);
    });

    it('changes content only under a matching If-Match', async () => {
      await merchant.request('PUT', '/v1/accounts/customer-2', { body: { currency: 'usd', name: 'v1' } });

      const missing = await merchant.request('PUT', '/v1/accounts/customer-2', { body: { currency: 'usd', name: 'v2' } });
      expect(missing.status).toBe(428);
      expect(missing.body.code).toBe('precondition_required');

      const updated = await merchant.request('PUT', '/v1/accounts/customer-2', {
        body: { currency: 'usd', name: 'v2' },
        headers: { 'if-match': '"1"' },
      });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ name: 'v2', version: 2 });
      expect(updated.headers.get('etag')).toBe('"2"');

      const stale = await merchant.request('PUT', '/v1/accounts/customer-2', {
        body: { currency: 'usd', name: 'v3' },
        headers: { 'if-match': '"1"' },
      });
      expect(stale.status).toBe(412);
      expect(stale.body.code).toBe('precondition_failed');
      expect(stale.headers.get('etag')).toBe('"2"');

      // A retry of the update that succeeded (same content, now-stale If-Match) is still a success.
      const retried = await merchant.request('PUT', '/v1/accounts/customer-2', {
        body: { currency: 'usd', name: 'v2' },
        headers: { 'if-match': '"1"' },
      });
      expect(retried.status).toBe(200);
      expect(retried.body.version).toBe(2);
    });

    it('honours If-None-Match: * and refuses to change the currency', async () => {
      const created = await merchant.request('PUT', '/v1/accounts/customer-3', {
        body: { currency: 'usd' },
        headers: { 'if-none-match': '*' },
      });
      expect(created.status).toBe(201);
      const again = await merchant.request('PUT', '/v1/accounts/customer-3', {
        body: { currency: 'usd' },
        headers: { 'if-none-match': '*' },
      });
      expect(again.status).toBe(412);

      const currency = await merchant.request('PUT', '/v1/accounts/customer-3', {
        body: { currency: 'eur' },
        headers: { 'if-match': '"1"' },
      });
      expect(currency.status).toBe(422);
      expect(currency.body.code).toBe('currency_mismatch');
      expect((await merchant.get('/v1/accounts/customer-3')).body.currency).toBe('usd');
    });

    it('answers 412 for If-Match on an absent account and 400 for a bad id', async () => {
      const absent = await merchant.request('PUT', '/v1/accounts/never-made', {
        body: { currency: 'usd' },
        headers: { 'if-match': '"1"' },
      });
      expect(absent.status).toBe(412);
      expect((await merchant.get('/v1/accounts/never-made')).status).toBe(404);

      const bad = await merchant.request('PUT', '/v1/accounts/has%20space', { body: { currency: 'usd' } });
      expect(bad.status).toBe(400);
      const long = await merchant.request('PUT', `/v1/accounts/${'x'.repeat(65)}`, { body: { currency: 'usd' } });
      expect(long.status).toBe(400);
    });

    it('20 concurrent PUTs with the same If-Match: exactly one 200, nineteen 412', async () => {
      await merchant.request('PUT', '/v1/accounts/contended', { body: { currency: 'usd', name: 'start' } });
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          merchant.request('PUT', '/v1/accounts/contended', {
            body: { currency: 'usd', name: `writer-${i}` },
            headers: { 'if-match': '"1"' },
          }),
        ),
      );
      const statuses = replies.map((reply) => reply.status).sort();
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 412)).toHaveLength(19);
      const winner = replies.find((reply) => reply.status === 200)!;
      const final = await merchant.get('/v1/accounts/contended');
      expect(final.body).toMatchObject({ version: 2, name: winner.body.name });
      for (const loser of replies.filter((reply) => reply.status === 412)) expect(loser.headers.get('etag')).toBe('"2"');
    });

    it('replays a PUT sent with an Idempotency-Key', async () => {
      const first = await merchant.request('PUT', '/v1/accounts/keyed', { body: { currency: 'usd' }, key: 'put-key-1' });
      const second = await merchant.request('PUT', '/v1/accounts/keyed', { body: { currency: 'usd' }, key: 'put-key-1' });
      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.headers.get('idempotent-replayed')).toBe('true');
      expect(second.text).toBe(first.text);
      expect(second.headers.get('etag')).toBe('"1"');
    });
  });

  it('hides other merchants’ accounts (404, never 403)', async () => {
    const intruder = await app.merchant('intruder');
    const id = await merchant.account(500);
    expect((await intruder.get(`/v1/accounts/${id}`)).status).toBe(404);
    expect((await intruder.get(`/v1/accounts/${id}/entries`)).status).toBe(404);
    expect((await intruder.post(`/v1/accounts/${id}/deposits`, { amount: 1 })).status).toBe(404);
    const put = await intruder.request('PUT', '/v1/accounts/customer-1', { body: { currency: 'usd', name: 'mine now' } });
    expect(put.status).toBe(201); // its own, separate account with the same client id
    expect((await merchant.get('/v1/accounts/customer-1')).body.name).toBe('Bob');
    expect((await intruder.get('/v1/accounts')).body.data.map((a: { id: string }) => a.id)).toEqual(['customer-1']);
    expect(await merchant.balanceOf(id)).toEqual({ balance: 500, held: 0 });
  });
});
