import { MerchantClient, TestApp } from './support/test-app.js';

describe('charge lifecycle: capture, cancel, refunds', () => {
  let app: TestApp;
  let merchant: MerchantClient;

  beforeAll(async () => {
    app = await TestApp.start();
    merchant = await app.merchant('lifecycle');
  });
  afterAll(() => app.close());

  const authorize = async (source: string, amount: number) => {
    const reply = await merchant.post('/v1/charges', { amount, currency: 'usd', source, capture: false });
    expect(reply.status).toBe(201);
    return reply.body.id as string;
  };
  const balanceAvailable = async () => (await merchant.get('/v1/balance')).body.available;

  it('captures part of an authorisation and releases the rest, with balanced capture entries', async () => {
    const source = await merchant.account(1_000);
    const id = await authorize(source, 600);
    const captured = await merchant.post(`/v1/charges/${id}/capture`, { amount: 450 });
    expect(captured.status).toBe(200);
    expect(captured.body).toMatchObject({ id, status: 'succeeded', captured: true, amount: 600, amount_captured: 450 });
    expect(await merchant.balanceOf(source)).toEqual({ balance: 550, held: 0 });
    const [entry] = (await merchant.get(`/v1/accounts/${source}/entries`)).body.data;
    expect(entry).toMatchObject({ type: 'capture', amount: -450, reference: id });

    const replay = await merchant.post(`/v1/charges/${id}/capture`, { amount: 450 });
    expect(replay.status).toBe(409); // a new key: capturing a captured charge is an invalid transition
    expect(replay.body.code).toBe('invalid_state');
  });

  it('captures the whole authorisation by default and replays a capture retried with its key', async () => {
    const source = await merchant.account(1_000);
    const id = await authorize(source, 300);
    const first = await merchant.post(`/v1/charges/${id}/capture`, undefined, `capture-${id}`);
    const again = await merchant.post(`/v1/charges/${id}/capture`, undefined, `capture-${id}`);
    expect(first.status).toBe(200);
    expect(first.body.amount_captured).toBe(300);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.text).toBe(first.text);
    expect(await merchant.balanceOf(source)).toEqual({ balance: 700, held: 0 });
  });

  it('cancels an authorisation (hold released, no entries) and refuses impossible transitions with 409', async () => {
    const source = await merchant.account(1_000);
    const id = await authorize(source, 400);
    expect(await merchant.balanceOf(source)).toEqual({ balance: 1_000, held: 400 });
    const withFields = await merchant.post(`/v1/charges/${id}/cancel`, { reason: 'x' });
    expect(withFields.status).toBe(400);
    expect(withFields.body.errors).toEqual([{ field: 'reason', message: 'reason should not exist' }]);
    const canceled = await merchant.request('POST', `/v1/charges/${id}/cancel`);
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ status: 'canceled', captured: false, amount_captured: 0 });
    expect(await merchant.balanceOf(source)).toEqual({ balance: 1_000, held: 0 });

    for (const [path, body] of [
      [`/v1/charges/${id}/capture`, {}],
      [`/v1/charges/${id}/cancel`, {}],
      [`/v1/charges/${id}/refunds`, {}],
    ] as const) {
      const reply = await merchant.post(path, body);
      expect(reply.status).toBe(409);
      expect(reply.body.code).toBe('invalid_state');
    }
    const captured = (await merchant.post('/v1/charges', { amount: 10, currency: 'usd', source })).body.id;
    expect((await merchant.post(`/v1/charges/${captured}/cancel`)).body.code).toBe('invalid_state');
    const over = await authorize(source, 50);
    const tooMuch = await merchant.post(`/v1/charges/${over}/capture`, { amount: 51 });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.detail).toContain('only 50 was authorised');
    expect((await merchant.post(`/v1/charges/${over}/refunds`, {})).status).toBe(409);
    expect((await merchant.post('/v1/charges/ch_missing/capture', {})).status).toBe(404);
    expect(await merchant.balanceOf(source)).toEqual({ balance: 990, held: 50 });
  });

  it('refunds partly, then the rest by default; never more than was captured', async () => {
    const source = await merchant.account(1_000);
    const charge = (await merchant.post('/v1/charges', { amount: 800, currency: 'usd', source })).body.id;
    const partial = await merchant.post(`/v1/charges/${charge}/refunds`, { amount: 300, reason: 'requested_by_customer' });
    expect(partial.status).toBe(201);
    expect(partial.body).toMatchObject({
      object: 'refund',
      charge,
      amount: 300,
      currency: 'usd',
      status: 'succeeded',
      reason: 'requested_by_customer',
    });
    expect(partial.body.id).toMatch(/^re_/);
    expect((await merchant.get(`/v1/charges/${charge}`)).body).toMatchObject({ amount_refunded: 300, refunded: false });

    const tooMuch = await merchant.post(`/v1/charges/${charge}/refunds`, { amount: 501 });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.code).toBe('invalid_state');

    const rest = await merchant.post(`/v1/charges/${charge}/refunds`, {});
    expect(rest.body.amount).toBe(500);
    expect((await merchant.get(`/v1/charges/${charge}`)).body).toMatchObject({ amount_refunded: 800, refunded: true });
    expect((await merchant.post(`/v1/charges/${charge}/refunds`, {})).body.detail).toContain('already fully refunded');
    expect(await merchant.balanceOf(source)).toEqual({ balance: 1_000, held: 0 });
    const [latest] = (await merchant.get(`/v1/accounts/${source}/entries`)).body.data;
    expect(latest).toMatchObject({ type: 'refund', amount: 500, reference: rest.body.id });
  });

  it.each([[{ amount: 0 }], [{ amount: 'all' }], [{ reason: 'because' }], [{ amount: 1, note: 'x' }]])(
    'rejects the refund %j',
    async (body) => {
      const source = await merchant.account(100);
      const charge = (await merchant.post('/v1/charges', { amount: 100, currency: 'usd', source })).body.id;
      expect((await merchant.post(`/v1/charges/${charge}/refunds`, body)).status).toBe(400);
    },
  );

  it('20 concurrent partial refunds that sum past the captured amount never over-refund', async () => {
    const source = await merchant.account(1_000);
    const charge = (await merchant.post('/v1/charges', { amount: 1_000, currency: 'usd', source })).body.id;
    const before = await balanceAvailable();
    const replies = await Promise.all(Array.from({ length: 20 }, () => merchant.post(`/v1/charges/${charge}/refunds`, { amount: 150 })));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(6);
    expect(replies.filter((r) => r.status === 409)).toHaveLength(14);
    expect((await merchant.get(`/v1/charges/${charge}`)).body.amount_refunded).toBe(900);
    expect(await merchant.balanceOf(source)).toEqual({ balance: 900, held: 0 });
    const after = await balanceAvailable();
    const usd = (rows: { currency: string; amount: number }[]) => rows.find((row) => row.currency === 'usd')!.amount;
    expect(usd(before) - usd(after)).toBe(900);
  });

  it('a concurrent capture and cancel of one authorisation: exactly one wins, the other is 409', async () => {
    for (let round = 0; round < 5; round++) {
      const source = await merchant.account(1_000);
      const id = await authorize(source, 500);
      const [capture, cancel] = await Promise.all([
        merchant.post(`/v1/charges/${id}/capture`, {}),
        merchant.post(`/v1/charges/${id}/cancel`, {}),
      ]);
      expect([capture.status, cancel.status].sort()).toEqual([200, 409]);
      const final = (await merchant.get(`/v1/charges/${id}`)).body.status;
      expect(final).toBe(capture.status === 200 ? 'succeeded' : 'canceled');
      expect(await merchant.balanceOf(source)).toEqual(capture.status === 200 ? { balance: 500, held: 0 } : { balance: 1_000, held: 0 });
    }
  });

  it('refunds sent while their charge is being captured: each waits and sees the capture, never a 500', async () => {
    // A refund whose statement started before a concurrent capture committed used to be written
    // over the authorisation's old row (status authorized, nothing captured) and fail its CHECK.
    const statuses: number[] = [];
    for (let round = 0; round < 10; round++) {
      const source = await merchant.account(1_000);
      const id = await authorize(source, 100);
      const [capture, ...refunds] = await Promise.all([
        merchant.post(`/v1/charges/${id}/capture`, { amount: 3 }),
        ...Array.from({ length: 4 }, () => merchant.post(`/v1/charges/${id}/refunds`, { amount: 1 })),
      ]);
      expect(capture.status).toBe(200);
      statuses.push(...refunds.map((refund) => refund.status));
      const refunded = refunds.filter((refund) => refund.status === 201).length;
      const charge = (await merchant.get(`/v1/charges/${id}`)).body;
      expect(charge).toMatchObject({ status: 'succeeded', amount_captured: 3, amount_refunded: refunded });
      expect(await merchant.balanceOf(source)).toEqual({ balance: 1_000 - 3 + refunded, held: 0 });
    }
    expect(statuses.filter((status) => status !== 201 && status !== 409)).toEqual([]);
  });

  it('hides another merchant’s charges from every transition', async () => {
    const other = await app.merchant('other');
    const source = await merchant.account(1_000);
    const id = await authorize(source, 100);
    for (const path of [`/v1/charges/${id}/capture`, `/v1/charges/${id}/cancel`, `/v1/charges/${id}/refunds`]) {
      expect((await other.post(path, {})).status).toBe(404);
    }
    expect(await merchant.balanceOf(source)).toEqual({ balance: 1_000, held: 100 });
  });
});
