import { ADMIN_TOKEN, TestApp } from './support/test-app.js';

describe('merchants', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await TestApp.start();
  });
  afterAll(() => app.close());

  it('creates a merchant with the admin token; the key is shown once and stored only as a hash', async () => {
    const reply = await app.request('POST', '/v1/merchants', { body: { name: 'Acme' }, token: ADMIN_TOKEN, key: 'merchant-1' });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ object: 'merchant', name: 'Acme' });
    expect(reply.body.id).toMatch(/^mer_/);
    expect(reply.body.api_key).toMatch(/^sk_mer_/);

    const replay = await app.request('POST', '/v1/merchants', { body: { name: 'Acme' }, token: ADMIN_TOKEN, key: 'merchant-1' });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual({ ...reply.body, api_key: null });

    const stored = await app.dataSource.query(
      `SELECT (SELECT count(*) FROM api_keys WHERE merchant_id = $1)::int AS keys,
              (SELECT count(*) FROM api_keys WHERE key_hash = $2)::int AS plaintext,
              (SELECT count(*) FROM idempotency_keys WHERE body LIKE '%' || $2 || '%')::int AS recorded`,
      [reply.body.id, reply.body.api_key],
    );
    expect(stored).toEqual([{ keys: 1, plaintext: 0, recorded: 0 }]);

    const me = await app.request('GET', '/v1/accounts', { token: reply.body.api_key });
    expect(me.status).toBe(200);
  });

  it.each([[{}], [{ name: '' }], [{ name: 'x'.repeat(201) }], [{ name: 'Acme', api_key: 'mine' }]])('rejects %j', async (body) => {
    const reply = await app.request('POST', '/v1/merchants', { body, token: ADMIN_TOKEN });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe('validation_failed');
  });
});
