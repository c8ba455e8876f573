import { randomUUID } from 'node:crypto';
import { ADMIN_TOKEN, MerchantClient, TestApp } from './support/test-app.js';

// API keys as a resource: create, list, roll with an overlap, restrict, revoke (at once here,
// within API_KEY_CACHE_MS on every other instance), and the audit events of each.
describe('API keys', () => {
  let app: TestApp;
  let merchant: MerchantClient;

  beforeAll(async () => {
    app = await TestApp.start();
  });
  afterAll(() => app.close());
  beforeEach(async () => {
    merchant = await app.merchant('keys');
  });

  const as = (secret: string) => new MerchantClient(app, merchant.id, secret);

  async function createKey(body: Record<string, unknown>, by = merchant): Promise<{ id: string; secret: string }> {
    const reply = await by.post('/v1/api_keys', body);
    expect(reply.status).toBe(201);
    return reply.body;
  }

  it('creates a key whose secret is shown once, then works like the first one', async () => {
    const key = randomUUID();
    const created = await merchant.post('/v1/api_keys', { name: 'Reporting' }, key);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ object: 'api_key', name: 'Reporting', scopes: null, status: 'active', expires_at: null });
    expect(created.body.id).toMatch(/^key_/);
    expect(created.body.secret).toMatch(new RegExp(`^sk_${merchant.id}\\.`));
    expect(created.body.hint).toBe(`sk_${merchant.id}.…${created.body.secret.slice(-4)}`);
    expect(created.headers.get('location')).toBe(`/v1/api_keys/${created.body.id}`);

    const replay = await merchant.post('/v1/api_keys', { name: 'Reporting' }, key);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual({ ...created.body, secret: null });

    expect((await as(created.body.secret).get('/v1/accounts')).status).toBe(200);
    const stored = await app.dataSource.query(`SELECT count(*)::int AS n FROM api_keys WHERE key_hash = $1 OR hint LIKE '%' || $1 || '%'`, [
      created.body.secret,
    ]);
    expect(stored).toEqual([{ n: 0 }]);
  });

  it('every operation a merchant’s key may call names its scope, and declares the 403', async () => {
    const document = (await app.request('GET', '/openapi.json')).body;
    const operations = Object.values(document.paths as Record<string, Record<string, Record<string, unknown>>>).flatMap((item) =>
      Object.values(item),
    );
    const merchantOperations = operations.filter((operation) =>
      (operation.security as Record<string, unknown>[] | undefined)?.some((requirement) => 'api_key' in requirement),
    );
    expect(merchantOperations.length).toBeGreaterThan(15);
    for (const operation of merchantOperations) {
      expect([operation.operationId, operation['x-required-scope']]).toEqual([
        operation.operationId,
        expect.stringMatching(/^[a-z]+:[a-z]+$/),
      ]);
      expect(Object.keys(operation.responses as object)).toContain('403');
    }
  });

  it('lists keys newest first, never with a secret, and pages', async () => {
    const first = await createKey({ name: 'one' });
    const second = await createKey({ name: 'two' });
    const page = await merchant.get('/v1/api_keys?limit=2');
    expect(page.status).toBe(200);
    expect(page.body.data.map((key: { id: string }) => key.id)).toEqual([second.id, first.id]);
    expect(page.body.has_more).toBe(true);
    expect(page.body.data.every((key: { secret: unknown }) => key.secret === null)).toBe(true);
    const rest = await merchant.get(`/v1/api_keys?starting_after=${first.id}`);
    expect(rest.body.data).toHaveLength(1); // the merchant's first key
    expect(rest.body.data[0].name).toBe('Secret key');
  });

  it('refuses a restricted key the routes outside its scopes (403 naming the scope)', async () => {
    const account = await merchant.account(5_000);
    const restricted = as((await createKey({ name: 'checkout', scopes: ['charges:write'] })).secret);
    const charge = await restricted.post('/v1/charges', { amount: 100, currency: 'usd', source: account });
    expect(charge.status).toBe(201);
    const read = await restricted.get(`/v1/charges/${charge.body.id}`);
    expect(read.status).toBe(403);
    expect(read.body).toMatchObject({ code: 'insufficient_scope', status: 403 });
    expect(read.body.detail).toContain('charges:read');
    expect((await restricted.get('/v1/balance')).status).toBe(403);
    expect((await restricted.post('/v1/accounts', { currency: 'usd' })).status).toBe(403);
    expect((await restricted.get('/v1/api_keys')).status).toBe(403);
    // A refusal leaves no trace: nothing recorded against the key it came with.
    const key = randomUUID();
    expect((await restricted.post('/v1/accounts', { currency: 'usd' }, key)).status).toBe(403);
    const recorded = await app.dataSource.query(`SELECT count(*)::int AS n FROM idempotency_keys WHERE merchant_id = $1 AND key = $2`, [
      merchant.id,
      key,
    ]);
    expect(recorded).toEqual([{ n: 0 }]);
  });

  it.each([
    [{ name: '' }],
    [{ name: 'x', scopes: [] }],
    [{ name: 'x', scopes: ['charges:delete'] }],
    [{ name: 'x', scopes: ['charges:read', 'charges:read'] }],
    [{ name: 'x', expires_at: '2001-01-01T00:00:00Z' }],
    [{ name: 'x', expires_at: 'soon' }],
  ])('refuses to create %j', async (body) => {
    const reply = await merchant.post('/v1/api_keys', body);
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe('validation_failed');
  });

  it('rolls a key: the new secret works at once, the old one until the overlap ends', async () => {
    const old = await createKey({ name: 'server', scopes: ['charges:read', 'keys:manage'] });
    const rolled = await as(old.secret).post(`/v1/api_keys/${old.id}/roll`, { expires_in_seconds: 3600 });
    expect(rolled.status).toBe(201);
    expect(rolled.body).toMatchObject({ name: 'server', scopes: ['charges:read', 'keys:manage'], rolled_from: old.id, status: 'active' });
    expect(rolled.body.secret).not.toBe(old.secret);
    expect((await as(rolled.body.secret).get('/v1/api_keys')).status).toBe(200);
    expect((await as(old.secret).get('/v1/api_keys')).status).toBe(200);
    const oldNow = await merchant.get(`/v1/api_keys/${old.id}`);
    const overlap = Date.parse(oldNow.body.expires_at) - Date.parse(rolled.body.created_at);
    expect(overlap).toBeGreaterThan(3_590_000);
    expect(overlap).toBeLessThanOrEqual(3_600_000);
    expect(oldNow.body.history.map((event: { action: string }) => event.action)).toEqual(['api_key.created', 'api_key.rolled']);

    // 0: the old secret stops at once (on this instance, which rolled it).
    const again = await as(rolled.body.secret).post(`/v1/api_keys/${rolled.body.id}/roll`, { expires_in_seconds: 0 });
    expect(again.status).toBe(201);
    expect((await as(rolled.body.secret).get('/v1/api_keys')).status).toBe(401);
    // A key that is no longer active cannot be rolled (recorded: a retry answers the same).
    const stale = await merchant.post(`/v1/api_keys/${rolled.body.id}/roll`, { expires_in_seconds: 0 });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('invalid_state');
    expect((await merchant.post('/v1/api_keys/key_nope/roll', { expires_in_seconds: 0 })).status).toBe(404);
    for (const expires_in_seconds of [-1, 604_801, 1.5, '60']) {
      expect((await merchant.post(`/v1/api_keys/${again.body.id}/roll`, { expires_in_seconds })).status).toBe(400);
    }
  });

  it('replays a request retried with a rolled key: idempotency records belong to the merchant', async () => {
    const account = await merchant.account(5_000);
    const old = await createKey({ name: 'checkout' });
    const key = randomUUID();
    const first = await as(old.secret).post('/v1/charges', { amount: 250, currency: 'usd', source: account }, key);
    expect(first.status).toBe(201);
    const rolled = await merchant.post(`/v1/api_keys/${old.id}/roll`, { expires_in_seconds: 0 });
    const retry = await as(rolled.body.secret).post('/v1/charges', { amount: 250, currency: 'usd', source: account }, key);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body.id).toBe(first.body.id);
    expect((await merchant.balanceOf(account)).balance).toBe(4_750);
  });

  it('revokes a key at once; revoking twice is one revocation; each change is in the key’s history', async () => {
    const doomed = await createKey({ name: 'leaked' });
    expect((await as(doomed.secret).get('/v1/accounts')).status).toBe(200);
    const requestId = `revoke-${randomUUID()}`;
    const revoked = await merchant.request('DELETE', `/v1/api_keys/${doomed.id}`, { headers: { 'x-request-id': requestId } });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: doomed.id, status: 'revoked', secret: null });
    expect((await as(doomed.secret).get('/v1/accounts')).status).toBe(401);
    const twice = await merchant.request('DELETE', `/v1/api_keys/${doomed.id}`);
    expect(twice.status).toBe(200);
    expect(twice.body.revoked_at).toBe(revoked.body.revoked_at);

    const history = (await merchant.get(`/v1/api_keys/${doomed.id}`)).body.history;
    const firstKeyId = (await merchant.get('/v1/api_keys?limit=100')).body.data.find(
      (key: { name: string }) => key.name === 'Secret key',
    ).id;
    expect(history).toEqual([
      expect.objectContaining({ action: 'api_key.created', actor: firstKeyId }),
      expect.objectContaining({ action: 'api_key.revoked', actor: firstKeyId, request_id: requestId }),
    ]);
    expect((await merchant.request('DELETE', '/v1/api_keys/key_unknown')).status).toBe(404);
  });

  it('never revokes the merchant’s last key that can manage keys and does not expire', async () => {
    const firstKeyId = (await merchant.get('/v1/api_keys')).body.data[0].id as string;
    const last = await merchant.request('DELETE', `/v1/api_keys/${firstKeyId}`);
    expect(last.status).toBe(422);
    expect(last.body.code).toBe('last_managing_key');
    // Keys that expire or cannot manage keys do not count.
    await createKey({ name: 'temporary manager', scopes: ['keys:manage'], expires_at: new Date(Date.now() + 3_600_000).toISOString() });
    await createKey({ name: 'reader', scopes: ['charges:read'] });
    expect((await merchant.request('DELETE', `/v1/api_keys/${firstKeyId}`)).status).toBe(422);

    // Two managing keys revoked at once, each through the other: exactly one goes.
    const other = await createKey({ name: 'second manager', scopes: ['keys:manage'] });
    const both = await Promise.all([
      as(other.secret).request('DELETE', `/v1/api_keys/${firstKeyId}`),
      merchant.request('DELETE', `/v1/api_keys/${other.id}`),
    ]);
    expect(both.map((reply) => reply.status).sort()).toEqual([200, 422]);
  });

  it('lets the admin revoke any key, the last one included, and issue a new one', async () => {
    const firstKeyId = (await merchant.get('/v1/api_keys')).body.data[0].id as string;
    const revoked = await app.request('DELETE', `/v1/merchants/${merchant.id}/api_keys/${firstKeyId}`, { token: ADMIN_TOKEN });
    expect(revoked.status).toBe(200);
    expect((await merchant.get('/v1/accounts')).status).toBe(401);
    const issued = await app.request('POST', `/v1/merchants/${merchant.id}/api_keys`, {
      token: ADMIN_TOKEN,
      body: { name: 'after the leak' },
    });
    expect(issued.status).toBe(201);
    const history = (await as(issued.body.secret).get(`/v1/api_keys/${firstKeyId}`)).body.history;
    expect(history.at(-1)).toMatchObject({ action: 'api_key.revoked', actor: 'admin' });
    expect((await app.request('POST', '/v1/merchants/mer_nobody/api_keys', { token: ADMIN_TOKEN, body: { name: 'x' } })).status).toBe(404);
    expect((await app.request('DELETE', `/v1/merchants/${merchant.id}/api_keys/${firstKeyId}`, { token: merchant.apiKey })).status).toBe(
      401,
    );
  });

  it('stops an expired key: a key past its expires_at is refused', async () => {
    const old = await createKey({ name: 'short' });
    expect((await as(old.secret).get('/v1/accounts')).status).toBe(200);
    await merchant.post(`/v1/api_keys/${old.id}/roll`, { expires_in_seconds: 1 });
    // The key's memory on this instance never outlives the key's expiry (counted on the
    // database's clock): it works, then is refused once that second is over.
    let status = 200;
    for (let attempt = 0; attempt < 60 && status === 200; attempt++) {
      status = (await as(old.secret).get('/v1/accounts')).status;
      if (status === 200) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(401);
    expect((await merchant.get(`/v1/api_keys/${old.id}`)).body.status).toBe('expired');
  });

  it('notes when a key was last used, to the minute', async () => {
    const key = await createKey({ name: 'used' });
    expect((await merchant.get(`/v1/api_keys/${key.id}`)).body.last_used_at).toBeNull();
    await as(key.secret).get('/v1/accounts');
    const used = (await merchant.get(`/v1/api_keys/${key.id}`)).body.last_used_at as string;
    expect(used).toMatch(/:00\.000Z$/);
  });
});

describe('API keys on several instances', () => {
  const instances: TestApp[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) instances.push(await TestApp.start({ apiKeyCacheMs: 1_000 }));
  });
  afterAll(() => Promise.all(instances.map((instance) => instance.close())));

  it('a key revoked through one instance is refused by all three within API_KEY_CACHE_MS', async () => {
    const merchant = await instances[0]!.merchant('fleet keys');
    const created = await merchant.post('/v1/api_keys', { name: 'everywhere' });
    const on = instances.map((instance) => new MerchantClient(instance, merchant.id, created.body.secret));
    // Every instance knows the key (and remembers it).
    for (const client of on) expect((await client.get('/v1/accounts')).status).toBe(200);

    const revoked = await merchant.request('DELETE', `/v1/api_keys/${created.body.id}`);
    expect(revoked.status).toBe(200);
    expect((await on[0]!.get('/v1/accounts')).status).toBe(401); // the instance that revoked it: at once
    await new Promise((resolve) => setTimeout(resolve, 1_000 + 50));
    for (const client of on) expect((await client.get('/v1/accounts')).status).toBe(401);
  });
});
