import { randomUUID } from 'node:crypto';
import { eventCtes } from '../src/events/event-outbox.js';
import { EventsPurgeService } from '../src/events/events-purge.service.js';
import { AcquirerProcess } from '../testing/acquirer-process.js';
import { MerchantClient, TestApp } from './support/test-app.js';

// The outbox (events/): every effect writes its one event in its own transaction, with the object
// as the API answered it; a replay writes none, a refused or failed request writes none (the
// rolled-back COMMIT is test/atomicity.e2e-spec.ts). GET /v1/events pages and filters them.

describe('events', () => {
  let acquirer: AcquirerProcess;
  let app: TestApp;
  let merchant: MerchantClient;

  beforeAll(async () => {
    acquirer = await AcquirerProcess.start();
    app = await TestApp.start({ acquirerUrl: acquirer.url, chargeWaitMs: 5_000, acquirerTimeoutMs: 3_000, idempotencyLeaseSeconds: 60 });
    merchant = await app.merchant('events');
  });

  afterAll(async () => {
    await app.close();
    await acquirer.close();
  });

  /** The events of `merchant` in the database about the object `id`, oldest first. */
  const eventsAbout = (id: string, of: MerchantClient = merchant) =>
    app.dataSource.query<{ id: string; type: string; data: Record<string, unknown> }[]>(
      `SELECT id, type, data FROM events WHERE merchant_id = $1 AND data->>'id' = $2 ORDER BY seq`,
      [of.id, id],
    );

  it('writes one event per effect, with the object as answered, served by GET /v1/events/{id}', async () => {
    const account = await merchant.post('/v1/accounts', { currency: 'usd', name: 'wallet' });
    expect(await eventsAbout(account.body.id)).toEqual([
      { id: expect.stringMatching(/^evt_/), type: 'account.created', data: account.body },
    ]);

    const deposit = await merchant.post(`/v1/accounts/${account.body.id}/deposits`, { amount: 10_000 });
    expect(await eventsAbout(deposit.body.id)).toEqual([expect.objectContaining({ type: 'deposit.created', data: deposit.body })]);

    const charge = await merchant.post('/v1/charges', { amount: 1_000, currency: 'usd', source: account.body.id });
    const refund = await merchant.post(`/v1/charges/${charge.body.id}/refunds`, { amount: 400 });
    expect(await eventsAbout(charge.body.id)).toEqual([expect.objectContaining({ type: 'charge.succeeded', data: charge.body })]);
    expect(await eventsAbout(refund.body.id)).toEqual([expect.objectContaining({ type: 'charge.refunded', data: refund.body })]);

    const held = await merchant.post('/v1/charges', { amount: 500, currency: 'usd', source: account.body.id, capture: false });
    const captured = await merchant.post(`/v1/charges/${held.body.id}/capture`, { amount: 300 });
    const other = await merchant.post('/v1/charges', { amount: 200, currency: 'usd', source: account.body.id, capture: false });
    const canceled = await merchant.post(`/v1/charges/${other.body.id}/cancel`, {});
    expect((await eventsAbout(held.body.id)).map(({ type, data }) => ({ type, data }))).toEqual([
      { type: 'charge.authorized', data: held.body },
      { type: 'charge.captured', data: captured.body },
    ]);
    expect((await eventsAbout(other.body.id)).map(({ type, data }) => ({ type, data }))).toEqual([
      { type: 'charge.authorized', data: other.body },
      { type: 'charge.canceled', data: canceled.body },
    ]);

    const put = await merchant.request('PUT', '/v1/accounts/events-wallet', { body: { currency: 'usd', name: 'a' } });
    const unchanged = await merchant.request('PUT', '/v1/accounts/events-wallet', { body: { currency: 'usd', name: 'a' } });
    const updated = await merchant.request('PUT', '/v1/accounts/events-wallet', {
      body: { currency: 'usd', name: 'b' },
      headers: { 'if-match': put.headers.get('etag')! },
    });
    expect([put.status, unchanged.status, updated.status]).toEqual([201, 200, 200]);
    expect((await eventsAbout('events-wallet')).map(({ type, data }) => ({ type, data }))).toEqual([
      { type: 'account.created', data: put.body },
      { type: 'account.updated', data: updated.body },
    ]);

    const [stored] = await eventsAbout(charge.body.id);
    const served = await merchant.get(`/v1/events/${stored!.id}`);
    expect(served.status).toBe(200);
    expect(served.body).toEqual({
      id: stored!.id,
      object: 'event',
      type: 'charge.succeeded',
      created_at: expect.any(String),
      data: { object: charge.body },
      api_version: null,
    });
  });

  it('a replay, sequential or concurrent, writes no second event; a refused request writes none', async () => {
    const source = await merchant.account(5_000);
    const key = randomUUID();
    const body = { amount: 700, currency: 'usd', source };
    const replies = await Promise.all(Array.from({ length: 6 }, () => merchant.post('/v1/charges', body, key)));
    const again = await merchant.post('/v1/charges', body, key);
    const ids = new Set([...replies, again].filter((reply) => reply.status === 201).map((reply) => reply.body.id));
    expect(ids.size).toBe(1);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const [id] = [...ids];
    expect((await eventsAbout(id)).map((event) => event.type)).toEqual(['charge.succeeded']);

    const before = await app.dataSource.query(`SELECT count(*)::int AS n FROM events WHERE merchant_id = $1`, [merchant.id]);
    const poor = await merchant.post('/v1/charges', { amount: 1_000_000, currency: 'usd', source });
    const invalid = await merchant.post('/v1/charges', { amount: -1, currency: 'usd', source });
    const stateless = await merchant.post(`/v1/charges/${id}/cancel`, {});
    expect([poor.status, invalid.status, stateless.status]).toEqual([402, 400, 409]);
    const after = await app.dataSource.query(`SELECT count(*)::int AS n FROM events WHERE merchant_id = $1`, [merchant.id]);
    expect(after).toEqual(before);
  });

  it("a card charge's outcome from the acquirer writes charge.succeeded or charge.failed with its end (tx3)", async () => {
    const ok = await merchant.post('/v1/charges', { amount: 1_250, currency: 'usd', payment_method: 'pm_test_ok' });
    const declined = await merchant.post('/v1/charges', {
      amount: 1_250,
      currency: 'usd',
      payment_method: 'pm_test_decline_insufficient_funds',
    });
    expect([ok.status, declined.status]).toEqual([201, 402]);
    expect((await eventsAbout(ok.body.id)).map(({ type, data }) => ({ type, data }))).toEqual([
      { type: 'charge.succeeded', data: ok.body },
    ]);
    const failed = await app.dataSource.query(
      `SELECT e.type, e.data->>'status' AS status, e.data->>'decline_code' AS decline_code
         FROM events e WHERE e.merchant_id = $1 AND e.type = 'charge.failed'`,
      [merchant.id],
    );
    expect(failed).toEqual([{ type: 'charge.failed', status: 'failed', decline_code: 'insufficient_funds' }]);
    // The replay of a finished card charge writes nothing more.
    const key = randomUUID();
    const first = await merchant.post('/v1/charges', { amount: 99, currency: 'usd', payment_method: 'pm_test_ok' }, key);
    const replay = await merchant.post('/v1/charges', { amount: 99, currency: 'usd', payment_method: 'pm_test_ok' }, key);
    expect(replay.body.id).toBe(first.body.id);
    expect(await eventsAbout(first.body.id)).toHaveLength(1);
  });

  it('pages newest first and filters by type and created range', async () => {
    const mine = await app.merchant('events-list');
    const source = await mine.account(10_000); // account.created, deposit.created
    for (const amount of [1, 2, 3]) await mine.post('/v1/charges', { amount, currency: 'usd', source });

    const all = await mine.get('/v1/events?limit=100');
    expect(all.body.data.map((event: { type: string }) => event.type)).toEqual([
      'charge.succeeded',
      'charge.succeeded',
      'charge.succeeded',
      'deposit.created',
      'account.created',
    ]);
    expect(all.body.data.slice(0, 3).map((event: { data: { object: { amount: number } } }) => event.data.object.amount)).toEqual([3, 2, 1]);

    const first = await mine.get('/v1/events?limit=2');
    const second = await mine.get(`/v1/events?limit=2&starting_after=${first.body.data[1].id}`);
    const third = await mine.get(`/v1/events?limit=2&starting_after=${second.body.data[1].id}`);
    expect([first.body.has_more, second.body.has_more, third.body.has_more]).toEqual([true, true, false]);
    expect([...first.body.data, ...second.body.data, ...third.body.data]).toEqual(all.body.data);

    const charges = await mine.get('/v1/events?type=charge.succeeded&limit=2');
    expect(charges.body.data.map((event: { type: string }) => event.type)).toEqual(['charge.succeeded', 'charge.succeeded']);
    expect(charges.body.has_more).toBe(true);

    const oldest = all.body.data[4];
    const newest = all.body.data[0];
    const from = await mine.get(`/v1/events?limit=100&created_gte=${encodeURIComponent(newest.created_at)}`);
    expect(from.body.data.map((event: { id: string }) => event.id)).toContain(newest.id);
    expect(from.body.data.map((event: { id: string }) => event.id)).not.toContain(oldest.id);
    const before = await mine.get(`/v1/events?limit=100&created_lt=${encodeURIComponent(oldest.created_at)}`);
    expect(before.body.data).toEqual([]);
    const future = await mine.get(`/v1/events?created_gte=${encodeURIComponent(new Date(Date.now() + 86_400_000).toISOString())}`);
    expect(future.body.data).toEqual([]);

    // Another merchant's events are not there, and its ids are 404.
    expect((await merchant.get(`/v1/events/${newest.id}`)).status).toBe(404);
    expect((await mine.get('/v1/events?starting_after=evt_unknown')).status).toBe(404);
    for (const bad of ['type=charge.exploded', 'created_gte=yesterday', 'limit=0']) {
      const reply = await mine.get(`/v1/events?${bad}`);
      expect(reply.status).toBe(400);
      expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
  });

  it('keeps events for the retention period: the purge removes older ones', async () => {
    const mine = await app.merchant('events-purge');
    await mine.account();
    const [event] = (await mine.get('/v1/events')).body.data;
    await app.dataSource.query(`UPDATE events SET created_at = now() - interval '31 days' WHERE merchant_id = $1 AND id = $2`, [
      mine.id,
      event.id,
    ]);
    expect(await app.app.get(EventsPurgeService).purgeOnce()).toBeGreaterThanOrEqual(1);
    expect((await mine.get(`/v1/events/${event.id}`)).status).toBe(404);
  });

  // Every charge writes an event: a foreign key from events to merchants made each one lock the
  // merchant's row (KEY SHARE), so a merchant's concurrent charges all wrote that row's lock, a new
  // MultiXact each, on one page (docs/scaling.md). A row's xmax shows a lock taken on it.
  it("writing an event takes no lock on the merchant's row", async () => {
    const xmaxOfMerchant = async () =>
      (await app.dataSource.query<{ xmax: string }[]>(`SELECT xmax::text FROM merchants WHERE id = $1`, [merchant.id]))[0]!.xmax;
    const before = await xmaxOfMerchant();
    const runner = app.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      await runner.query(`WITH ${eventCtes({ merchant: '$1', id: '$2', type: '$3', data: '$4' })} SELECT 1`, [
        merchant.id,
        `evt_${randomUUID()}`,
        'charge.succeeded',
        '{}',
      ]);
      await runner.commitTransaction();
    } finally {
      await runner.release();
    }
    expect(await xmaxOfMerchant()).toBe(before);
  });
});
