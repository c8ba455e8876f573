import pg from 'pg';
import { checkSnapshot } from '../chaos/checker.js';
import { type Answer, History } from '../chaos/client.js';
import { migrate } from '../src/database/migrate.js';
import { requestFingerprint } from '../src/idempotency/request-fingerprint.js';

// The chaos harness's checker (chaos/checker.ts) must be able to fail: given a history and a
// database with planted faults, it reports each one. The faults are planted in a database of
// their own, created on the test server and dropped afterwards, so that the ledger invariants
// checked over the shared test database after every file never see them.

const MERCHANT = 'mer_checker_selftest';
const ACCOUNT = 'acct_selftest';
const CHARGE = { amount: 300, currency: 'usd', source: ACCOUNT };

function answer(status: number, body: Record<string, unknown>): Answer {
  return { status, text: JSON.stringify(body), body, replayed: false };
}

function post(history: History, key: string, path: string, body: unknown, final: Answer): void {
  history.record({ key, method: 'POST', path, body, attempts: 1, final });
}

describe('the chaos checker', () => {
  const serverUrl = new URL(process.env.TEST_DATABASE_URL!);
  const database = `payments_test_chaos_checker_${process.pid}`;
  const url = Object.assign(new URL(serverUrl), { pathname: `/${database}` }).toString();
  let admin: pg.Client;
  let db: pg.Client;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: serverUrl.toString() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await migrate(url);
    db = new pg.Client({ connectionString: url });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await admin?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin?.end();
  });

  /** A merchant with one account: a deposit of 1000, then a captured charge of 300, as the service writes them. */
  async function consistentLedger(): Promise<History> {
    await db.query(`INSERT INTO merchants (id, name) VALUES ($1, 'checker self-test')`, [MERCHANT]);
    await db.query(
      `INSERT INTO accounts (merchant_id, id, kind, currency, balance) VALUES
         ($1, $2, 'customer', 'usd', 700), ($1, 'external:usd', 'external', 'usd', 0), ($1, 'balance:usd', 'merchant_balance', 'usd', 0)`,
      [MERCHANT, ACCOUNT],
    );
    await db.query(`INSERT INTO deposits (merchant_id, id, account_id, amount, currency) VALUES ($1, 'dep_1', $2, 1000, 'usd')`, [
      MERCHANT,
      ACCOUNT,
    ]);
    await chargeWithEntries('ch_1');
    await db.query(
      `INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference) VALUES
         ($1, 'ent_d1', $2, 1000, 'usd', 'deposit', 'dep_1'), ($1, 'ent_d2', 'external:usd', -1000, 'usd', 'deposit', 'dep_1')`,
      [MERCHANT, ACCOUNT],
    );
    const history = new History();
    post(history, 'key-deposit', `/v1/accounts/${ACCOUNT}/deposits`, { amount: 1000 }, answer(201, { id: 'dep_1', amount: 1000 }));
    post(history, 'key-charge', '/v1/charges', CHARGE, answer(201, { id: 'ch_1', status: 'succeeded', amount_captured: 300 }));
    return history;
  }

  /** A captured charge of 300 from the account, with its two entries (the account already debited). */
  async function chargeWithEntries(id: string): Promise<void> {
    await db.query(
      `INSERT INTO charges (merchant_id, id, source_account_id, amount, currency, status, amount_captured)
       VALUES ($1, $2, $3, 300, 'usd', 'succeeded', 300)`,
      [MERCHANT, id, ACCOUNT],
    );
    await db.query(
      `INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference) VALUES
         ($1, $2 || '_debit', $3, -300, 'usd', 'charge', $2), ($1, $2 || '_credit', 'balance:usd', 300, 'usd', 'charge', $2)`,
      [MERCHANT, id, ACCOUNT],
    );
    await db.query(
      `INSERT INTO balance_totals (merchant_id, currency, slot, available) VALUES ($1, 'usd', 0, 300)
       ON CONFLICT (merchant_id, currency, slot) DO UPDATE SET available = balance_totals.available + 300`,
      [MERCHANT],
    );
  }

  it('finds nothing wrong with a consistent ledger and its history, then reports each planted fault', async () => {
    const history = await consistentLedger();
    expect((await checkSnapshot(url, MERCHANT, history)).violations).toEqual([]);

    // A double effect: a second charge for the key that was answered once.
    await chargeWithEntries('ch_2');
    await db.query(`UPDATE accounts SET balance = balance - 300 WHERE merchant_id = $1 AND id = $2`, [MERCHANT, ACCOUNT]);
    // A lost 2xx: a charge answered 201 that is not in the database.
    post(
      history,
      'key-lost',
      '/v1/charges',
      { ...CHARGE, amount: 5 },
      answer(201, { id: 'ch_lost', status: 'succeeded', amount_captured: 5 }),
    );
    // An unbalanced entry: 50 more on the merchant's balance for ch_1, with no counterpart.
    await db.query(
      `INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference)
       VALUES ($1, 'ent_extra', 'balance:usd', 50, 'usd', 'charge', 'ch_1')`,
      [MERCHANT],
    );

    const { violations } = await checkSnapshot(url, MERCHANT, history);
    expect(violations).toEqual(
      expect.arrayContaining([
        'charges: 1 in the database that no answer acknowledged: ch_2',
        'charges: 1 acknowledged but not in the database: ch_lost',
        'entries of charge ch_1 on balance:usd sum to 350, not 300',
        expect.stringMatching(/^unbalancedCurrencies: .*"total":"50"/),
      ]),
    );
  });

  it('reports an entry whose reference is no deposit, charge or refund', async () => {
    await db.query(
      `INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference)
       VALUES ($1, 'ent_orphan', 'balance:usd', 7, 'usd', 'refund', 're_nowhere')`,
      [MERCHANT],
    );
    const { violations } = await checkSnapshot(url, MERCHANT, new History());
    expect(violations).toContain('ledger entry ent_orphan (refund 7 on balance:usd) references no refund: re_nowhere');
  });

  it('counts card charges: a capture is money coming in from the external account, a decline is acknowledged through its key', async () => {
    // A database of its own: money is conserved over the whole database, and the first test planted faults in that one.
    const cardsDatabase = `${database}_cards`;
    const cardsUrl = Object.assign(new URL(serverUrl), { pathname: `/${cardsDatabase}` }).toString();
    await admin.query(`CREATE DATABASE ${cardsDatabase}`);
    const cards = new pg.Client({ connectionString: cardsUrl });
    try {
      await migrate(cardsUrl);
      await cards.connect();
      const merchant = 'mer_checker_cards';
      await cards.query(`INSERT INTO merchants (id, name) VALUES ($1, 'checker cards')`, [merchant]);
      await cards.query(
        `INSERT INTO accounts (merchant_id, id, kind, currency, balance) VALUES
           ($1, 'external:usd', 'external', 'usd', 0), ($1, 'balance:usd', 'merchant_balance', 'usd', 0)`,
        [merchant],
      );
      // As tx3 writes them: a captured card charge with its entries and balance, a declined one with neither.
      await cards.query(
        `INSERT INTO charges (merchant_id, id, source_account_id, payment_method, amount, currency, status, amount_captured, acquirer_payment_id, decline_code)
         VALUES ($1, 'ch_card_ok', NULL, 'pm_test_ok', 500, 'usd', 'succeeded', 500, 'pay_1', NULL),
                ($1, 'ch_card_declined', NULL, 'pm_test_decline_expired_card', 200, 'usd', 'failed', 0, NULL, 'expired_card')`,
        [merchant],
      );
      await cards.query(
        `INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference) VALUES
           ($1, 'ent_c1', 'external:usd', -500, 'usd', 'charge', 'ch_card_ok'), ($1, 'ent_c2', 'balance:usd', 500, 'usd', 'charge', 'ch_card_ok')`,
        [merchant],
      );
      await cards.query(`INSERT INTO balance_totals (merchant_id, currency, slot, available) VALUES ($1, 'usd', 0, 500)`, [merchant]);
      const declined = { amount: 200, currency: 'usd', payment_method: 'pm_test_decline_expired_card' };
      await cards.query(
        `INSERT INTO idempotency_keys (merchant_id, key, fingerprint, status, body, headers, expires_at, recovery_point, charge_id, attempts)
         VALUES ($1, 'key-card-declined', $2, 402, '{}', '{}', now() + interval '1 day', 'finished', 'ch_card_declined', 1)`,
        [merchant, requestFingerprint('POST', '/v1/charges', declined)],
      );
      const history = new History();
      post(
        history,
        'key-card-ok',
        '/v1/charges',
        { amount: 500, currency: 'usd', payment_method: 'pm_test_ok' },
        answer(201, { id: 'ch_card_ok', status: 'succeeded', amount_captured: 500 }),
      );
      post(history, 'key-card-declined', '/v1/charges', declined, answer(402, { code: 'card_declined', decline_code: 'expired_card' }));
      expect((await checkSnapshot(cardsUrl, merchant, history)).violations).toEqual([]);

      // A card capture credited without its money coming in from outside is still caught.
      await cards.query(`DELETE FROM ledger_entries WHERE merchant_id = $1 AND id = 'ent_c1'`, [merchant]);
      const { violations } = await checkSnapshot(cardsUrl, merchant, history);
      expect(violations).toContain('entries of charge ch_card_ok on external:usd sum to 0, not -500');
    } finally {
      await cards.end();
      await admin.query(`DROP DATABASE IF EXISTS ${cardsDatabase} WITH (FORCE)`);
    }
  });

  it('reports a batch that committed items yet answered 422 idempotency_key_reused', async () => {
    const batch = { charges: [CHARGE] };
    const path = '/v1/charges/batch';
    await db.query(
      `INSERT INTO batch_items (merchant_id, batch_key, item_index, fingerprint, status, body, expires_at)
       VALUES ($1, 'key-batch', 0, $2, 201, '{}', now() + interval '1 day')`,
      [MERCHANT, requestFingerprint('POST', path, batch)],
    );
    const history = new History();
    post(history, 'key-batch', path, batch, answer(422, { code: 'idempotency_key_reused' }));
    const { violations } = await checkSnapshot(url, MERCHANT, history);
    expect(violations).toContain('POST /v1/charges/batch (key key-batch) committed 1 items but answered 422 idempotency_key_reused');
  });
});
