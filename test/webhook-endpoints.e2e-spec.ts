import { randomUUID } from 'node:crypto';
import { MerchantClient, TestApp } from './support/test-app.js';

// Webhook endpoints (webhooks/): create with the secret shown once, list, get, update under
// If-Match, disable, roll the secret with an overlap, delete; URLs https, or http to loopback only
// where allowed. Delivery itself is test/webhook-delivery.e2e-spec.ts.

const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;

describe('webhook endpoints', () => {
  let app: TestApp;
  let strict: TestApp;
  let merchant: MerchantClient;

  beforeAll(async () => {
    app = await TestApp.start({ webhookAllowHttpLoopback: true });
    strict = await TestApp.start({ webhookAllowHttpLoopback: false });
    merchant = await app.merchant('webhook-endpoints');
  });

  afterAll(async () => {
    await app.close();
    await strict.close();
  });

  it('creates an endpoint with its secret shown once: a replay, get and list answer secret null', async () => {
    const key = randomUUID();
    const body = { url: 'https://shop.example/webhooks', events: ['charge.succeeded', 'charge.refunded'], description: 'orders' };
    const created = await merchant.post('/v1/webhook_endpoints', body, key);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      object: 'webhook_endpoint',
      url: body.url,
      events: body.events,
      description: 'orders',
      status: 'enabled',
      disabled_reason: null,
      previous_secret_expires_at: null,
      version: 1,
    });
    expect(created.body.id).toMatch(/^we_/);
    expect(created.body.secret).toMatch(SECRET);
    expect(created.headers.get('location')).toBe(`/v1/webhook_endpoints/${created.body.id}`);
    expect(created.headers.get('etag')).toBe('"1"');

    const replay = await merchant.post('/v1/webhook_endpoints', body, key);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual({ ...created.body, secret: null });
    const got = await merchant.get(`/v1/webhook_endpoints/${created.body.id}`);
    expect(got.body).toEqual({ ...created.body, secret: null });
    const listed = await merchant.get('/v1/webhook_endpoints');
    expect(listed.body.data[0]).toEqual({ ...created.body, secret: null });
    expect(listed.text).not.toContain('whsec_');
  });

  it('refuses URLs that are not https (http to loopback only where allowed), and bad input, with problem+json', async () => {
    const post = (on: MerchantClient, body: unknown) => on.post('/v1/webhook_endpoints', body);
    expect((await post(merchant, { url: 'http://127.0.0.1:9/webhooks', events: ['*'] })).status).toBe(201);
    const other = await strict.merchant('strict');
    const loopback = await post(other, { url: 'http://127.0.0.1:9/webhooks', events: ['*'] });
    expect(loopback.status).toBe(422);
    expect(loopback.body.code).toBe('webhook_url_not_allowed');
    const remote = await post(merchant, { url: 'http://shop.example/webhooks', events: ['*'] });
    expect([remote.status, remote.body.code]).toEqual([422, 'webhook_url_not_allowed']);
    expect(remote.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    for (const body of [
      { url: 'not a url', events: ['*'] },
      { url: 'ftp://shop.example/', events: ['*'] },
      { url: 'https://user:pw@shop.example/', events: ['*'] },
      { url: 'https://shop.example/', events: [] },
      { url: 'https://shop.example/', events: ['charge.exploded'] },
      { url: 'https://shop.example/', events: ['*', '*'] },
      { url: 'https://shop.example/' },
      { url: 'https://shop.example/', events: ['*'], extra: true },
    ]) {
      const reply = await post(merchant, body);
      expect([reply.status, reply.body.code]).toEqual([400, 'validation_failed']);
    }
  });

  it('updates under If-Match (428 without, 412 stale), disables, enables, and deletes', async () => {
    const created = await merchant.post('/v1/webhook_endpoints', { url: 'https://shop.example/a', events: ['charge.succeeded'] });
    const path = `/v1/webhook_endpoints/${created.body.id}`;
    const missing = await merchant.post(path, { events: ['*'] });
    expect([missing.status, missing.headers.get('etag')]).toEqual([428, '"1"']);
    const same = await merchant.post(path, { events: ['charge.succeeded'] });
    expect([same.status, same.body.version]).toEqual([200, 1]);
    const updated = await merchant.post(path, { events: ['*'], url: 'https://shop.example/b' }, undefined, { 'if-match': '"1"' });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ events: ['*'], url: 'https://shop.example/b', version: 2, secret: null });
    expect(updated.headers.get('etag')).toBe('"2"');
    const stale = await merchant.post(path, { description: 'late' }, undefined, { 'if-match': '"1"' });
    expect([stale.status, stale.body.code, stale.headers.get('etag')]).toEqual([412, 'precondition_failed', '"2"']);
    const badUrl = await merchant.post(path, { url: 'http://shop.example/' }, undefined, { 'if-match': '"2"' });
    expect(badUrl.status).toBe(422);

    const disabled = await merchant.post(`${path}/disable`, {});
    expect(disabled.body).toMatchObject({ status: 'disabled', disabled_reason: 'requested', version: 3 });
    const again = await merchant.post(`${path}/disable`, {});
    expect(again.body.version).toBe(3);
    const enabled = await merchant.post(path, { status: 'enabled' }, undefined, { 'if-match': '"3"' });
    expect(enabled.body).toMatchObject({ status: 'enabled', disabled_reason: null, version: 4 });

    const deleted = await merchant.request('DELETE', path);
    expect(deleted.body).toEqual({ id: created.body.id, object: 'webhook_endpoint', deleted: true });
    expect((await merchant.request('DELETE', path)).status).toBe(404);
    expect((await merchant.get(path)).status).toBe(404);
    expect((await merchant.post(`${path}/disable`, {})).status).toBe(404);
  });

  it('rolls the secret: a new one shown once, the previous one kept for the overlap', async () => {
    const created = await merchant.post('/v1/webhook_endpoints', { url: 'https://shop.example/roll', events: ['*'] });
    const key = randomUUID();
    const rolled = await merchant.post(`/v1/webhook_endpoints/${created.body.id}/roll_secret`, { expires_in_seconds: 3600 }, key);
    expect(rolled.status).toBe(200);
    expect(rolled.body.secret).toMatch(SECRET);
    expect(rolled.body.secret).not.toBe(created.body.secret);
    const overlapEnds = Date.parse(rolled.body.previous_secret_expires_at);
    expect(overlapEnds).toBeGreaterThan(Date.now() + 3_500_000);
    const replay = await merchant.post(`/v1/webhook_endpoints/${created.body.id}/roll_secret`, { expires_in_seconds: 3600 }, key);
    expect(replay.body.secret).toBeNull();
    const stored = await app.dataSource.query(`SELECT secret, previous_secret FROM webhook_endpoints WHERE merchant_id = $1 AND id = $2`, [
      merchant.id,
      created.body.id,
    ]);
    expect(stored).toEqual([{ secret: rolled.body.secret, previous_secret: created.body.secret }]);

    const now = await merchant.post(`/v1/webhook_endpoints/${created.body.id}/roll_secret`, { expires_in_seconds: 0 });
    expect(now.body.previous_secret_expires_at).toBeNull();
    const bad = await merchant.post(`/v1/webhook_endpoints/${created.body.id}/roll_secret`, { expires_in_seconds: 8 * 86_400 });
    expect(bad.status).toBe(400);
  });

  it("keeps merchants apart: another merchant's endpoint is 404", async () => {
    const created = await merchant.post('/v1/webhook_endpoints', { url: 'https://shop.example/mine', events: ['*'] });
    const other = await app.merchant('other');
    expect((await other.get(`/v1/webhook_endpoints/${created.body.id}`)).status).toBe(404);
    expect((await other.request('DELETE', `/v1/webhook_endpoints/${created.body.id}`)).status).toBe(404);
    expect((await other.get('/v1/webhook_endpoints')).body.data).toEqual([]);
  });
});
