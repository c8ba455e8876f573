import { randomUUID } from 'node:crypto';
import { newId } from '../src/common/ids.js';
import { AcquirerProcess } from '../testing/acquirer-process.js';
import { acquirerCaptures, cardInvariantViolations, noViolations } from '../testing/card-invariants.js';
import { MerchantClient, TestApp } from './support/test-app.js';

// The card invariants' checker (testing/card-invariants.ts) reports what it is there to catch: a
// key-less double capture, a capture our ledger does not hold, and a ledger effect without a capture.

describe('card invariants checker', () => {
  let acquirer: AcquirerProcess;
  let app: TestApp;
  let merchant: MerchantClient;

  beforeAll(async () => {
    acquirer = await AcquirerProcess.start();
    app = await TestApp.start({ acquirerUrl: acquirer.url });
    merchant = await app.merchant('card-invariants');
  });

  afterAll(async () => {
    // What was planted in our database is taken out again, so the suite's ledger invariants hold.
    await app.dataSource.query(`DELETE FROM charges WHERE merchant_id = $1 AND payment_method = 'pm_planted'`, [merchant.id]);
    await app.close();
    await acquirer.close();
  });

  const check = async () =>
    cardInvariantViolations((sql, parameters) => app.dataSource.query(sql, parameters), await acquirerCaptures(acquirer.url), [
      merchant.id,
    ]);

  async function pay(body: Record<string, unknown>, key?: string) {
    const response = await fetch(`${acquirer.url}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
      body: JSON.stringify({ amount: 500, currency: 'usd', payment_method: 'pm_test_ok', ...body }),
    });
    expect(response.status).toBe(201);
  }

  it('finds nothing after a clean card charge', async () => {
    expect((await merchant.post('/v1/charges', { amount: 500, currency: 'usd', payment_method: 'pm_test_ok' })).status).toBe(201);
    expect(noViolations(await check())).toBe(true);
  });

  it('reports a capture our ledger does not hold (an orphan) and a key-less double capture', async () => {
    const reply = await merchant.post('/v1/charges', { amount: 500, currency: 'usd', payment_method: 'pm_test_ok' });
    await pay({ reference: reply.body.id }); // no key: a second capture for the same charge
    const orphan = newId('ch');
    await app.dataSource.query(
      `INSERT INTO charges (merchant_id, id, payment_method, amount, currency, status, amount_captured) VALUES ($1, $2, 'pm_planted', 500, 'usd', 'pending', 0)`,
      [merchant.id, orphan],
    );
    await pay({ reference: orphan }, randomUUID());
    const violations = await check();
    expect(violations.doubleCaptures).toEqual([
      expect.objectContaining({ keyless: expect.objectContaining({ reference: reply.body.id }) }),
    ]);
    expect(violations.capturesOffTheLedger).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ capture: expect.objectContaining({ reference: orphan }) }),
        expect.objectContaining({ capture: expect.objectContaining({ reference: reply.body.id, idempotency_key: null }) }),
      ]),
    );
  });

  it('reports a succeeded card charge without a capture', async () => {
    const planted = newId('ch');
    await app.dataSource.query(
      `INSERT INTO charges (merchant_id, id, payment_method, amount, currency, status, amount_captured, acquirer_payment_id)
       VALUES ($1, $2, 'pm_planted', 500, 'usd', 'succeeded', 500, 'pay_never_made')`,
      [merchant.id, planted],
    );
    expect((await check()).effectsWithoutCapture).toEqual([expect.objectContaining({ charge: expect.objectContaining({ id: planted }) })]);
  });
});
