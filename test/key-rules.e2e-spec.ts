import { claimKeyFunctionBody, keyLockId } from '../src/idempotency/key-rules.js';
import { TestApp } from './support/test-app.js';

/**
 * The body of idempotency_claim_key lives in its migration as it was created; key-rules.ts builds
 * it from the key's rules. When a rule changes, this fails until a migration creates the function
 * anew from the rules.
 */
describe('the key’s rules, in the database too', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await TestApp.start();
  });

  afterAll(() => app.close());

  it('idempotency_claim_key is what key-rules.ts builds, and idempotency_open_key is gone', async () => {
    const functions = await app.dataSource.query<{ proname: string; prosrc: string }[]>(
      `SELECT proname, prosrc FROM pg_proc WHERE proname IN ('idempotency_claim_key', 'idempotency_open_key')`,
    );
    expect(functions).toEqual([{ proname: 'idempotency_claim_key', prosrc: claimKeyFunctionBody() }]);
  });

  it('the claim takes the lock keyLockId names: a session holding it makes the claim refuse the key (IK409)', async () => {
    const merchant = await app.merchant('key-rules');
    const holder = app.dataSource.createQueryRunner();
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(${keyLockId('$1', '$2')})`, [merchant.id, 'held']);
      const refused = await app.dataSource
        .query<{ state: string }[]>(`DO $$ BEGIN PERFORM idempotency_claim_key('${merchant.id}', 'held'); END $$`)
        .then(
          () => 'claimed',
          (error: { code?: string }) => error.code,
        );
      expect(refused).toBe('IK409');
    } finally {
      await holder.query('SELECT pg_advisory_unlock_all()');
      await holder.release();
    }
  });
});
