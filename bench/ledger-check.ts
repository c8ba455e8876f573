import 'reflect-metadata';
import pg from 'pg';
import { createApp } from '../src/app.setup.js';
import { runCli } from '../src/common/run-cli.js';
import { loadConfig } from '../src/config/app-config.js';
import { migrate } from '../src/database/migrate.js';
import { LedgerCheckService } from '../src/ledger/ledger-check.service.js';
import { createLogger } from '../src/logging/logger.js';
import { ledgerInvariantViolations } from '../testing/ledger-invariants.js';

// What the ledger check costs on a large ledger: `npx nest build && node dist/bench/ledger-check.js
// <DATABASE_URL>` on a database filled by bench/ledger-check-data.sql (10 M charges, 100 merchants,
// 100 000 accounts; psql -f, about 40 minutes on 2 busy cores). It times the first run (the whole
// ledger), the second (which folds it), runs after 10 000 more charges, and the full check of
// testing/ledger-invariants.ts beside them. The database is the scratch one: the runs write their sums.

const MORE_CHARGES = 10_000;

async function main(): Promise<void> {
  const url = process.argv[2];
  if (!url) throw new Error('usage: node dist/bench/ledger-check.js <DATABASE_URL of a scratch database>');
  await migrate(url);
  const config = { ...loadConfig({ LOG_LEVEL: 'error', ADMIN_TOKEN: 'bench-admin-token-0123456789', LEDGER_CHECK_INTERVAL_SECONDS: '0' }) };
  const app = await createApp(config, url, createLogger('error'));
  await app.init();
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const check = app.get(LedgerCheckService);
  const timed = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const result = await work();
    console.log(`${what}: ${((performance.now() - started) / 1000).toFixed(2)} s`);
    return result;
  };
  try {
    const { rows } = await db.query<{ charges: string; entries: string; accounts: string }>(
      `SELECT (SELECT count(*) FROM charges) AS charges, (SELECT count(*) FROM ledger_entries) AS entries, (SELECT count(*) FROM accounts) AS accounts`,
    );
    console.log(`ledger: ${rows[0]!.charges} charges, ${rows[0]!.entries} entries, ${rows[0]!.accounts} accounts`);
    const moreCharges = () =>
      db.query(
        `WITH c AS (
           INSERT INTO charges (merchant_id, id, source_account_id, amount, currency, status, amount_captured)
           SELECT 'm_' || (i % 100), 'ch_more_' || gen_random_uuid(), 'acct_' || ((i / 100) % 1000), 1, 'usd', 'succeeded', 1
             FROM generate_series(1, $1::int) i RETURNING merchant_id, id, source_account_id),
         e AS (INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference)
           SELECT merchant_id, 'le_' || side || '_' || id, CASE side WHEN 0 THEN source_account_id ELSE 'balance:usd' END,
                  CASE side WHEN 0 THEN -1 ELSE 1 END, 'usd', 'charge', id FROM c, generate_series(0, 1) side),
         a AS (UPDATE accounts x SET balance = x.balance - n.n FROM (SELECT merchant_id, source_account_id, count(*) AS n FROM c GROUP BY 1, 2) n
                WHERE x.merchant_id = n.merchant_id AND x.id = n.source_account_id)
         UPDATE balance_totals t SET available = t.available + n.n FROM (SELECT merchant_id, count(*) AS n FROM c GROUP BY 1) n
          WHERE t.merchant_id = n.merchant_id AND t.slot = 0`,
        [MORE_CHARGES],
      );
    for (const run of ['run 1 (the whole ledger)', 'run 2 (folds it)', 'run 3']) {
      const result = await timed(run, () => check.runOnce());
      console.log(`  ${JSON.stringify(result)}`);
    }
    for (const run of ['run 4', 'run 5']) {
      await moreCharges();
      const result = await timed(`${run}, after ${MORE_CHARGES} more charges`, () => check.runOnce());
      console.log(`  ${JSON.stringify(result)}`);
    }
    await db.query('SET statement_timeout = 0');
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const full = await timed('the full check (testing/ledger-invariants.ts)', () =>
      ledgerInvariantViolations(async (text) => (await db.query(text)).rows as Record<string, unknown>[]),
    );
    await db.query('COMMIT');
    console.log(
      `  ${JSON.stringify(Object.fromEntries(Object.entries(full as unknown as Record<string, unknown[]>).map(([name, found]) => [name, found.length])))}`,
    );
  } finally {
    await db.end();
    await app.close();
  }
}

runCli(main);
