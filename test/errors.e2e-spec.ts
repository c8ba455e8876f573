import { connect } from 'node:net';
import { TcpProxy } from '../testing/tcp-proxy.js';
import { ADMIN_TOKEN, MerchantClient, TestApp, type Reply } from './support/test-app.js';

function expectProblem(reply: Reply, status: number, code: string): void {
  expect(reply.status).toBe(status);
  expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(reply.body).toMatchObject({ type: `urn:payments:problem:${code}`, status, code });
  expect(typeof reply.body.title).toBe('string');
  expect(typeof reply.body.detail).toBe('string');
  expect(reply.text).not.toMatch(/\bat .+\.(js|ts):\d+|SELECT|INSERT|UPDATE|postgres|QueryFailed/i);
}

describe('errors are problem+json with a stable code', () => {
  let app: TestApp;
  let merchant: MerchantClient;
  let accountId: string;

  beforeAll(async () => {
    app = await TestApp.start();
    merchant = await app.merchant('errors');
    accountId = await merchant.account(1000);
  });
  afterAll(() => app.close());

  it('401 without, or with an unknown, API key — and the admin route refuses merchant keys', async () => {
    expectProblem(await app.request('GET', '/v1/accounts'), 401, 'unauthenticated');
    expectProblem(await app.request('GET', '/v1/accounts', { token: 'sk_mer_nobody.' + 'x'.repeat(43) }), 401, 'unauthenticated');
    expectProblem(await app.request('GET', '/v1/accounts', { token: 'garbage' }), 401, 'unauthenticated');
    expectProblem(await app.request('GET', '/v1/accounts', { token: ADMIN_TOKEN }), 401, 'unauthenticated');
    expectProblem(await app.request('POST', '/v1/merchants', { body: { name: 'x' }, token: merchant.apiKey }), 401, 'unauthenticated');
    expectProblem(await app.request('POST', '/v1/merchants', { body: { name: 'x' } }), 401, 'unauthenticated');
  });

  it('400 validation_failed for malformed JSON and for an empty JSON body', async () => {
    const malformed = await merchant.request('POST', '/v1/charges', { raw: '{"amount": 1,' });
    expectProblem(malformed, 400, 'validation_failed');
    expect(malformed.body.errors).toEqual([{ field: 'body', message: 'must be well-formed JSON' }]);
    expectProblem(
      await merchant.request('POST', '/v1/charges', { raw: '', headers: { 'content-type': 'application/json' } }),
      400,
      'validation_failed',
    );
  });

  it('an empty body is no body, whatever Content-Type says: a DELETE and a capture with application/json and nothing', async () => {
    const json = { 'content-type': 'application/json' };
    const source = await merchant.account(100);
    const authorized = await merchant.post('/v1/charges', { amount: 10, currency: 'usd', source, capture: false });
    expect(authorized.status).toBe(201);
    const captured = await merchant.request('POST', `/v1/charges/${authorized.body.id}/capture`, { raw: '', headers: json });
    expect(captured.status).toBe(200);
    expect(captured.body.status).toBe('succeeded');
    const key = await merchant.request('POST', '/v1/api_keys', { body: { name: 'to revoke' } });
    expect(key.status).toBe(201);
    const revoked = await merchant.request('DELETE', `/v1/api_keys/${key.body.id}`, { raw: '', headers: json });
    expect(revoked.status).toBe(200);
  });

  it.each([['[1,2]'], ['"text"'], ['null'], ['42'], ['{"amount":1e400,"currency":"usd","source":"x"}'], ['{"__proto__":{"admin":true}}']])(
    '400 for the JSON %s',
    async (raw) => {
      expectProblem(await merchant.request('POST', '/v1/charges', { raw }), 400, 'validation_failed');
    },
  );

  it('400 for NUL characters anywhere and for deep nesting, never a 5xx', async () => {
    const deep = '{"amount":1,"currency":"usd","source":"x","a":' + '['.repeat(30_000) + ']'.repeat(30_000) + '}';
    expectProblem(await merchant.request('POST', '/v1/charges', { raw: deep }), 400, 'validation_failed');
    expectProblem(await merchant.post('/v1/accounts', { currency: 'usd', name: 'a\u0000b' }), 400, 'validation_failed');
    expectProblem(await merchant.post('/v1/charges', { amount: 1, currency: 'usd', source: 'a\u0000b' }), 400, 'validation_failed');
    expectProblem(await merchant.get('/v1/accounts/a%00b'), 400, 'validation_failed');
    expectProblem(await merchant.get('/v1/charges?source=a%00b'), 400, 'validation_failed');
    expectProblem(await merchant.post('/v1/charges/a%00b/refunds', {}), 400, 'validation_failed');
  });

  it('problem+json for URLs Fastify refuses before routing, with the request id like every answer', async () => {
    const malformed = await merchant.request('GET', '/v1/accounts/%ZZ', { headers: { 'x-request-id': 'trace-malformed' } });
    expectProblem(malformed, 400, 'validation_failed');
    expect(malformed.headers.get('x-request-id')).toBe('trace-malformed');
    const overLong = await merchant.get(`/v1/charges/${'x'.repeat(150)}`);
    expectProblem(overLong, 404, 'not_found');
    expect(overLong.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expectProblem(await merchant.post(`/v1/charges/${'x'.repeat(150)}/refunds`, {}), 404, 'not_found');
  });

  it('400 problem+json for a request the HTTP parser refuses', async () => {
    const { port } = new URL(app.baseUrl);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          Buffer.from('POST /v1/charges HTTP/1.1\r\nHost: x\r\nIdempotency-Key: \x01bad\r\nContent-Length: 2\r\n\r\n{}', 'latin1'),
        );
      });
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1.1 400/);
    expect(answer).toContain('application/problem+json');
    expect(answer).toContain('"code":"validation_failed"');
  });

  it('413 over 100 KiB', async () => {
    const reply = await merchant.post('/v1/accounts', { currency: 'usd', name: 'x'.repeat(110 * 1024) });
    expectProblem(reply, 413, 'payload_too_large');
  });

  it.each([['text/plain'], ['application/x-www-form-urlencoded'], ['application/xml']])('415 for %s', async (contentType) => {
    const reply = await merchant.request('POST', '/v1/accounts', { raw: 'currency=usd', headers: { 'content-type': contentType } });
    expectProblem(reply, 415, 'unsupported_media_type');
  });

  it('404 for an unknown route, and for unknown ids', async () => {
    expectProblem(await merchant.get('/v1/nothing-here'), 404, 'not_found');
    expectProblem(await app.request('GET', '/'), 404, 'not_found');
    expectProblem(await merchant.get('/v1/accounts/acct_missing'), 404, 'not_found');
    expectProblem(await merchant.get('/v1/charges/ch_missing'), 404, 'not_found');
  });

  it('bad input leaves no trace', async () => {
    const before = await merchant.balanceOf(accountId);
    await merchant.post('/v1/charges', { amount: -5, currency: 'usd', source: accountId });
    await merchant.post('/v1/charges', { amount: 5, currency: 'usd', source: accountId, balance: 0 });
    await merchant.request('POST', '/v1/charges', { raw: '{oops' });
    expect(await merchant.balanceOf(accountId)).toEqual(before);
    expect((await merchant.get(`/v1/charges?source=${accountId}`)).body.data).toEqual([]);
  });

  it('400 naming the field for a string that is not well-formed Unicode, on every route, recording nothing', async () => {
    const loneSurrogate = '"\\ud800"';
    const cases: [string, string, string, string][] = [
      ['POST', '/v1/accounts', `{"currency":"usd","metadata":{"a":${loneSurrogate}}}`, 'body.metadata.a'],
      ['POST', '/v1/accounts', `{"currency":"usd","name":${loneSurrogate}}`, 'body.name'],
      ['PUT', `/v1/accounts/acct_surrogate`, `{"currency":"usd","metadata":{"a":${loneSurrogate}}}`, 'body.metadata.a'],
      ['POST', '/v1/charges', `{"amount":1,"currency":"usd","source":"${accountId}","metadata":{"a":${loneSurrogate}}}`, 'body.metadata.a'],
      ['POST', '/v1/charges', `{"amount":1,"currency":"usd","source":"${accountId}","description":${loneSurrogate}}`, 'body.description'],
      ['POST', '/v1/charges/batch', `{"charges":[{"amount":1,"currency":"usd","source":${loneSurrogate}}]}`, 'body.charges.0.source'],
      [
        'POST',
        '/v1/charges/batch',
        `{"charges":[{"amount":1,"currency":"usd","source":"${accountId}","metadata":{"a":${loneSurrogate}}}]}`,
        'body.charges.0.metadata.a',
      ],
      ['POST', `/v1/accounts/${accountId}/deposits`, `{"amount":1,"description":${loneSurrogate}}`, 'body.description'],
    ];
    const before = await merchant.balanceOf(accountId);
    for (const [method, path, raw, field] of cases) {
      const key = `surrogate-${method}-${path}-${field}`;
      for (let attempt = 0; attempt < 2; attempt++) {
        const reply = await merchant.request(method, path, { raw, key });
        expectProblem(reply, 400, 'validation_failed');
        expect(reply.body.errors).toEqual([{ field, message: 'must be well-formed Unicode (no lone surrogates)' }]);
      }
    }
    expect(await merchant.balanceOf(accountId)).toEqual(before);
    expectProblem(await merchant.get('/v1/accounts/acct_surrogate'), 404, 'not_found');
    expect((await merchant.get(`/v1/charges?source=${accountId}`)).body.data).toEqual([]);
  });

  it('400 for a currency that is only "case-insensitively" ASCII: the Kelvin sign is not K', async () => {
    const reply = await merchant.request('POST', '/v1/accounts', { raw: '{"currency":"\\u212Arw"}' });
    expectProblem(reply, 400, 'validation_failed');
    expect(reply.body.errors[0].field).toBe('currency');
    expect((await merchant.post('/v1/accounts', { currency: 'KRW' })).body.currency).toBe('krw');
  });

  it('400 for an explicit null in a field that is not nullable; only an absent field takes the default', async () => {
    const charge = await merchant.post('/v1/charges', { amount: 10, currency: 'usd', source: accountId, capture: false });
    expect(charge.status).toBe(201);
    const captured = await merchant.post('/v1/charges', { amount: 10, currency: 'usd', source: accountId });
    expect(captured.status).toBe(201);
    const refused: [string, string][] = [
      [`/v1/charges/${charge.body.id}/capture`, 'null'],
      [`/v1/charges/${charge.body.id}/capture`, '{"amount":null}'],
      [`/v1/charges/${charge.body.id}/cancel`, 'null'],
      [`/v1/charges/${captured.body.id}/refunds`, '{"amount":null}'],
      [`/v1/charges/${captured.body.id}/refunds`, '{"reason":null}'],
      ['/v1/charges', `{"amount":1,"currency":"usd","source":"${accountId}","capture":null}`],
      ['/v1/charges', `{"amount":1,"currency":"usd","source":"${accountId}","metadata":null}`],
      ['/v1/accounts', '{"currency":"usd","metadata":null}'],
    ];
    for (const [path, raw] of refused) expectProblem(await merchant.request('POST', path, { raw }), 400, 'validation_failed');
    expect((await merchant.get(`/v1/charges/${charge.body.id}`)).body.status).toBe('authorized');
    expect((await merchant.get(`/v1/charges/${captured.body.id}`)).body.amount_refunded).toBe(0);
    // Nullable fields take null.
    expect((await merchant.request('POST', '/v1/accounts', { raw: '{"currency":"usd","name":null}' })).status).toBe(201);
    // Cleaned up for the checks below: release the hold, return the money.
    expect((await merchant.post(`/v1/charges/${charge.body.id}/cancel`)).status).toBe(200);
    expect((await merchant.post(`/v1/charges/${captured.body.id}/refunds`, {})).status).toBe(201);
  });

  it('503 unavailable with Retry-After while the database is unreachable, and recovers without a restart', async () => {
    const databaseUrl = process.env.TEST_DATABASE_URL!;
    const proxy = TcpProxy.forDatabaseUrl(databaseUrl);
    await proxy.start();
    const cutOff = await TestApp.start({}, proxy.urlFor(databaseUrl));
    try {
      const client = new MerchantClient(cutOff, merchant.id, merchant.apiKey);
      expect((await client.get('/health/ready')).status).toBe(200);
      const key = 'during-outage';
      const body = { amount: 100, currency: 'usd', source: accountId };

      await proxy.cut();
      const ready = await client.get('/health/ready');
      expectProblem(ready, 503, 'unavailable');
      const charge = await client.post('/v1/charges', body, key);
      expectProblem(charge, 503, 'unavailable');
      expect(charge.headers.get('retry-after')).toBe('1');
      expect((await client.get('/health/live')).status).toBe(200);

      await proxy.restore();
      expect((await client.get('/health/ready')).status).toBe(200);
      // Nothing was recorded during the outage: the same key now runs, once.
      const retried = await client.post('/v1/charges', body, key);
      expect(retried.status).toBe(201);
      expect(retried.headers.get('idempotent-replayed')).toBeNull();
      expect((await client.post('/v1/charges', body, key)).headers.get('idempotent-replayed')).toBe('true');
      expect(await merchant.balanceOf(accountId)).toEqual({ balance: 900, held: 0 });
    } finally {
      await cutOff.close();
      await proxy.cut();
    }
  });

  it('503 rather than hang while the database stops answering, then recovers', async () => {
    const databaseUrl = process.env.TEST_DATABASE_URL!;
    const proxy = TcpProxy.forDatabaseUrl(databaseUrl);
    await proxy.start();
    const stalledApp = await TestApp.start({}, proxy.urlFor(databaseUrl));
    try {
      const client = new MerchantClient(stalledApp, merchant.id, merchant.apiKey);
      const body = { amount: 50, currency: 'usd', source: accountId };
      const before = await merchant.balanceOf(accountId);

      proxy.stall();
      const started = Date.now();
      const stalled = await client.post('/v1/charges', body, 'while-stalled');
      expectProblem(stalled, 503, 'unavailable');
      expect(Date.now() - started).toBeLessThan(20_000);
      proxy.resume();

      // The outcome was unknown to the client; the retry with the same key settles it, once.
      let retried = await client.post('/v1/charges', body, 'while-stalled');
      for (let i = 0; i < 20 && retried.status !== 201; i++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        retried = await client.post('/v1/charges', body, 'while-stalled');
      }
      expect(retried.status).toBe(201);
      expect(await merchant.balanceOf(accountId)).toEqual({ balance: before.balance - 50, held: 0 });
    } finally {
      proxy.resume();
      await stalledApp.close();
      await proxy.cut();
    }
  });
});
