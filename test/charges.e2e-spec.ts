import { MerchantClient, TestApp } from './support/test-app.js';

describe('charges', () => {
  let app: TestApp;
  let merchant: MerchantClient;

  beforeAll(async () => {
    app = await TestApp.start();
    merchant = await app.merchant('charges');
  });
  afterAll(() => app.close());

  it('captures by default: money moves from the source to the merchant balance, with two entries', async () => {
    const source = await merchant.account(10_000);
    const reply = await merchant.post('/v1/charges', {
      amount: 1_999,
      currency: 'USD',
      source,
      description: 'Books',
      metadata: { order: 'A-1' },
    });
    expect(reply.status).toBe(201);
    expect(reply.headers.get('location')).toBe(`/v1/charges/${reply.body.id}`);
    expect(reply.body).toMatchObject({
      object: 'charge',
      amount: 1_999,
      currency: 'usd',
      source,
      status: 'succeeded',
      captured: true,
      amount_captured: 1_999,
      amount_refunded: 0,
      refunded: false,
      description: 'Books',
      metadata: { order: 'A-1' },
    });
    expect(reply.body.id).toMatch(/^ch_/);
    expect(await merchant.balanceOf(source)).toEqual({ balance: 8_001, held: 0 });
    expect((await merchant.get(`/v1/charges/${reply.body.id}`)).body).toEqual(reply.body);

    const entries = (await merchant.get(`/v1/accounts/${source}/entries`)).body.data;
    expect(entries[0]).toMatchObject({
      object: 'entry',
      account: source,
      amount: -1_999,
      currency: 'usd',
      type: 'charge',
      reference: reply.body.id,
    });
    expect(entries[1]).toMatchObject({ amount: 10_000, type: 'deposit' });
  });

  it('authorises with capture: false: the amount is held, not moved', async () => {
    const source = await merchant.account(1_000);
    const reply = await merchant.post('/v1/charges', { amount: 400, currency: 'usd', source, capture: false });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ status: 'authorized', captured: false, amount_captured: 0 });
    expect(await merchant.balanceOf(source)).toEqual({ balance: 1_000, held: 400 });
    // Held funds are not available to another charge.
    expect((await merchant.post('/v1/charges', { amount: 601, currency: 'usd', source })).status).toBe(402);
    expect((await merchant.post('/v1/charges', { amount: 600, currency: 'usd', source })).status).toBe(201);
    expect(await merchant.balanceOf(source)).toEqual({ balance: 400, held: 400 });
  });

  it('answers 402, 422 currency_mismatch and 404 for the source, moving nothing', async () => {
    const source = await merchant.account(100);
    const poor = await merchant.post('/v1/charges', { amount: 101, currency: 'usd', source });
    expect(poor.status).toBe(402);
    expect(poor.body.code).toBe('insufficient_funds');
    const mismatch = await merchant.post('/v1/charges', { amount: 1, currency: 'eur', source });
    expect(mismatch.status).toBe(422);
    expect(mismatch.body.code).toBe('currency_mismatch');
    const missing = await merchant.post('/v1/charges', { amount: 1, currency: 'usd', source: 'acct_nope' });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('not_found');
    expect(await merchant.balanceOf(source)).toEqual({ balance: 100, held: 0 });
  });

  it.each([
    [{ amount: 0 }],
    [{ amount: 100_000_000_001 }],
    [{ amount: 1.5 }],
    [{ amount: '100' }],
    [{ currency: 'dollars' }],
    [{ capture: 'yes' }],
    [{ metadata: { card: '4242 4242 4242 4242' } }],
    [{ description: 'pay with 4000056655665556' }],
    [{ status: 'succeeded' }],
    [{ amount_refunded: 0 }],
  ])('rejects %j with 400 validation_failed', async (override) => {
    const source = await merchant.account(1_000);
    const reply = await merchant.post('/v1/charges', { amount: 100, currency: 'usd', source, ...override });
    expect(reply.status).toBe(400);
    expect(reply.body.code).toBe('validation_failed');
    expect(await merchant.balanceOf(source)).toEqual({ balance: 1_000, held: 0 });
  });

  it('lists charges newest first, filtered by source, with cursors', async () => {
    const client = await app.merchant('lists');
    const a = await client.account(10_000);
    const b = await client.account(10_000);
    const ids: string[] = [];
    for (const source of [a, b, a, b, a]) ids.push((await client.post('/v1/charges', { amount: 10, currency: 'usd', source })).body.id);
    const all = await client.get('/v1/charges?limit=100');
    expect(all.body.data.map((c: { id: string }) => c.id)).toEqual([...ids].reverse());
    const fromA = await client.get(`/v1/charges?source=${a}`);
    expect(fromA.body.data.map((c: { id: string }) => c.id)).toEqual([ids[4], ids[2], ids[0]]);
    const page = await client.get(`/v1/charges?limit=1&starting_after=${ids[4]}`);
    expect(page.body).toMatchObject({ object: 'list', has_more: true });
    expect(page.body.data[0].id).toBe(ids[3]);
  });

  it('reports the merchant balance: available (captured) and pending (authorised), per currency', async () => {
    const client = await app.merchant('balance');
    expect((await client.get('/v1/balance')).body).toEqual({ object: 'balance', available: [], pending: [] });
    const usd = await client.account(10_000, 'usd');
    const eur = await client.account(10_000, 'eur');
    await client.post('/v1/charges', { amount: 700, currency: 'usd', source: usd });
    await client.post('/v1/charges', { amount: 300, currency: 'usd', source: usd });
    await client.post('/v1/charges', { amount: 50, currency: 'eur', source: eur });
    await client.post('/v1/charges', { amount: 25, currency: 'eur', source: eur, capture: false });
    expect((await client.get('/v1/balance')).body).toEqual({
      object: 'balance',
      available: [
        { currency: 'eur', amount: 50 },
        { currency: 'usd', amount: 1_000 },
      ],
      pending: [{ currency: 'eur', amount: 25 }],
    });
  });

  it('never lets a merchant charge, read or list another merchant’s objects', async () => {
    const other = await app.merchant('other');
    const source = await merchant.account(1_000);
    const charge = (await merchant.post('/v1/charges', { amount: 100, currency: 'usd', source })).body;
    expect((await other.get(`/v1/charges/${charge.id}`)).status).toBe(404);
    expect((await other.get(`/v1/charges?source=${source}`)).body.data).toEqual([]);
    expect((await other.get(`/v1/charges?starting_after=${charge.id}`)).status).toBe(404);
    expect((await other.post('/v1/charges', { amount: 1, currency: 'usd', source })).status).toBe(404);
    expect(await merchant.balanceOf(source)).toEqual({ balance: 900, held: 0 });
  });
});
