import { ledgerInvariantViolations } from './support/ledger-invariants.js';
import { MerchantClient, TestApp } from './support/test-app.js';

describe('deposits and the ledger', () => {
  let app: TestApp;
  let merchant: MerchantClient;

  beforeAll(async () => {
    app = await TestApp.start();
    merchant = await app.merchant('ledger');
  });
  afterAll(() => app.close());

  it('credits the account and writes a balanced pair of entries', async () => {
    const account = await merchant.account();
    const deposit = await merchant.post(`/v1/accounts/${account}/deposits`, { amount: 2_500, description: 'Top-up' });
    expect(deposit.status).toBe(201);
    expect(deposit.body).toMatchObject({ object: 'deposit', account, amount: 2_500, currency: 'usd', description: 'Top-up' });
    expect(deposit.body.id).toMatch(/^dep_/);
    expect(await merchant.balanceOf(account)).toEqual({ balance: 2_500, held: 0 });

    const entries = await merchant.get(`/v1/accounts/${account}/entries`);
    expect(entries.body).toMatchObject({ object: 'list', has_more: false });
    expect(entries.body.data).toEqual([
      {
        id: expect.stringMatching(/^ent_/),
        object: 'entry',
        account,
        amount: 2_500,
        currency: 'usd',
        type: 'deposit',
        reference: deposit.body.id,
        created_at: deposit.body.created_at,
      },
    ]);
    const [external] = await app.dataSource.query(
      `SELECT amount::int FROM ledger_entries WHERE merchant_id = $1 AND reference = $2 AND account_id = 'external:usd'`,
      [merchant.id, deposit.body.id],
    );
    expect(external).toEqual({ amount: -2_500 });
  });

  it.each([[{ amount: 0 }], [{ amount: -1 }], [{ amount: 100_000_000_001 }], [{ amount: 1, currency: 'usd' }], [{}]])(
    'rejects the deposit %j',
    async (body) => {
      const account = await merchant.account();
      const reply = await merchant.post(`/v1/accounts/${account}/deposits`, body);
      expect(reply.status).toBe(400);
      expect(await merchant.balanceOf(account)).toEqual({ balance: 0, held: 0 });
    },
  );

  it('paginates entries', async () => {
    const account = await merchant.account();
    for (let i = 1; i <= 3; i++) await merchant.post(`/v1/accounts/${account}/deposits`, { amount: i });
    const first = await merchant.get(`/v1/accounts/${account}/entries?limit=2`);
    expect(first.body.data.map((e: { amount: number }) => e.amount)).toEqual([3, 2]);
    expect(first.body.has_more).toBe(true);
    const next = await merchant.get(`/v1/accounts/${account}/entries?limit=2&starting_after=${first.body.data[1].id}`);
    expect(next.body.data.map((e: { amount: number }) => e.amount)).toEqual([1]);
    expect(next.body.has_more).toBe(false);
  });

  it('keeps every balance equal to its entries after a burst of concurrent deposits and charges', async () => {
    const accounts = await Promise.all([1, 2, 3].map(() => merchant.account()));
    const deposits = await Promise.all(
      Array.from({ length: 60 }, (_, i) => merchant.post(`/v1/accounts/${accounts[i % 3]}/deposits`, { amount: 100 + i })),
    );
    expect(deposits.every((reply) => reply.status === 201)).toBe(true);
    const charges = await Promise.all(
      Array.from({ length: 60 }, (_, i) => merchant.post('/v1/charges', { amount: 150, currency: 'usd', source: accounts[i % 3] })),
    );
    expect(charges.every((reply) => reply.status === 201 || reply.status === 402)).toBe(true);

    for (const account of accounts) {
      const { balance } = await merchant.balanceOf(account);
      const entries = (await merchant.get(`/v1/accounts/${account}/entries?limit=100`)).body.data as { amount: number }[];
      expect(balance).toBe(entries.reduce((sum, entry) => sum + entry.amount, 0));
      expect(balance).toBeGreaterThanOrEqual(0);
    }
    expect(await ledgerInvariantViolations(app.dataSource)).toEqual({
      unbalancedCurrencies: [],
      balancesOffTheirEntries: [],
      negativeAvailable: [],
      heldOffAuthorisations: [],
      balanceTotalsOffTheLedger: [],
    });
  });

  /** Bring an account's balance to `balance` the way deposits would: a balanced pair of entries. */
  async function raiseBalance(account: string, currency: string, by: number, reference: string): Promise<void> {
    await app.dataSource.transaction(async (tx) => {
      await tx.query(`UPDATE accounts SET balance = balance + $3 WHERE merchant_id = $1 AND id = $2`, [merchant.id, account, by]);
      await tx.query(
        `INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference)
         VALUES ($1, $4 || '_1', $2, $3, $5, 'deposit', $4),
                ($1, $4 || '_2', 'external:' || $5, -$3::bigint, $5, 'deposit', $4)`,
        [merchant.id, account, by, reference, currency],
      );
    });
  }

  it('answers 422 balance_limit_exceeded for a deposit that would pass the largest exact amount, and changes nothing', async () => {
    const account = await merchant.account(1, 'chf');
    const near = Number.MAX_SAFE_INTEGER - 100;
    await raiseBalance(account, 'chf', near, 'dep_test_big');
    const reply = await merchant.post(`/v1/accounts/${account}/deposits`, { amount: 1_000 });
    expect(reply.status).toBe(422);
    expect(reply.body.code).toBe('balance_limit_exceeded');
    expect(await merchant.balanceOf(account)).toEqual({ balance: near + 1, held: 0 });
    expect((await merchant.post(`/v1/accounts/${account}/deposits`, { amount: 99 })).status).toBe(201);
  });

  it('answers 422 balance_limit_exceeded for a refund that would pass it, and changes nothing', async () => {
    const account = await merchant.account(1_000, 'nok');
    const charge = await merchant.post('/v1/charges', { amount: 1_000, currency: 'nok', source: account });
    expect(charge.status).toBe(201);
    await raiseBalance(account, 'nok', Number.MAX_SAFE_INTEGER - 10, 'dep_test_big_nok');
    const key = 'refund-past-the-limit';
    const reply = await merchant.post(`/v1/charges/${charge.body.id}/refunds`, { amount: 500 }, key);
    expect(reply.status).toBe(422);
    expect(reply.body.code).toBe('balance_limit_exceeded');
    expect(await merchant.balanceOf(account)).toEqual({ balance: Number.MAX_SAFE_INTEGER - 10, held: 0 });
    expect((await merchant.get(`/v1/charges/${charge.body.id}`)).body.amount_refunded).toBe(0);
    // Not recorded: once the balance has room, the same key refunds.
    expect((await merchant.post(`/v1/charges/${charge.body.id}/refunds`, { amount: 10 })).status).toBe(201);
  });

  it("returns a merchant's balance exactly when its total passes 2^53", async () => {
    const account = await merchant.account(10, 'sek');
    expect((await merchant.post('/v1/charges', { amount: 10, currency: 'sek', source: account })).status).toBe(201);
    // The merchant's balance account gathers what many customer accounts pay; bring it past 2^53.
    const past = 18_014_398_509_481_971n;
    await app.dataSource.query(
      `INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference)
       VALUES ($1, 'ent_test_huge_1', 'balance:sek', $2::bigint, 'sek', 'charge', 'ch_test_huge'),
              ($1, 'ent_test_huge_2', 'external:sek', -$2::bigint, 'sek', 'charge', 'ch_test_huge')`,
      [merchant.id, past.toString()],
    );
    await app.dataSource.query(`UPDATE balance_totals SET available = available + $2::bigint WHERE merchant_id = $1 AND currency = 'sek'`, [
      merchant.id,
      past.toString(),
    ]);
    const reply = await merchant.get('/v1/balance');
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
    expect(reply.text).toContain('{"currency":"sek","amount":18014398509481981}');
  });

  it('refuses, in the database itself, a customer balance below what is held', async () => {
    const account = await merchant.account(100);
    await expect(
      app.dataSource.query(`UPDATE accounts SET balance = balance - 101 WHERE merchant_id = $1 AND id = $2`, [merchant.id, account]),
    ).rejects.toThrow(/accounts_available_not_negative/);
    await expect(
      app.dataSource.query(`UPDATE accounts SET held = -1 WHERE merchant_id = $1 AND id = $2`, [merchant.id, account]),
    ).rejects.toThrow(/accounts_held_not_negative/);
  });
});
