import pg from 'pg';
import { ChaosClient, type Exchange, History } from './client.js';
import { ledgerInvariantViolations } from './invariants.js';

const RECORDED = (status: number) => status < 400 || [402, 404, 409, 422].includes(status);

/**
 * The checks after a scenario, in one consistent snapshot of the private database: the ledger
 * invariants, conservation of money, exactly one effect per key that got a 2xx (and none beyond),
 * every 2xx visible; then a repeat of every key must replay its recorded answer.
 */
export async function checkScenario(
  databaseUrl: string,
  merchantId: string,
  history: History,
  client: ChaosClient,
  baseUrl: string,
): Promise<string[]> {
  const violations: string[] = [];
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const query = async (sql: string, parameters: unknown[] = []) => (await db.query<Record<string, unknown>>(sql, parameters)).rows;

    const ledger = await ledgerInvariantViolations((sql) => query(sql));
    for (const [name, rows] of Object.entries(ledger) as [string, unknown[]][]) {
      if (rows.length > 0) violations.push(`${name}: ${JSON.stringify(rows).slice(0, 300)}`);
    }

    const [money] = await query(
      `SELECT (SELECT coalesce(sum(balance), 0) FROM accounts WHERE kind = 'customer')
            + (SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e
                 JOIN accounts a ON a.merchant_id = e.merchant_id AND a.id = e.account_id
                WHERE a.kind = 'merchant_balance') AS held,
              (SELECT coalesce(sum(amount), 0) FROM deposits) AS deposited`,
    );
    const [held, deposited] = [String(money?.held), String(money?.deposited)];
    if (held !== deposited) violations.push(`money not conserved: balances ${held} vs deposits ${deposited}`);

    // One key, one answer: every exchange of a key (double submits, both instances) got the same.
    const answers = new Map<string, Set<string>>();
    for (const exchange of history.exchanges) {
      if (!exchange.final) continue;
      const seen = answers.get(exchange.key) ?? new Set<string>();
      seen.add(`${exchange.final.status} ${exchange.final.text}`);
      answers.set(exchange.key, seen);
    }
    for (const [key, seen] of answers) if (seen.size > 1) violations.push(`key ${key} got ${seen.size} different answers`);

    // One effect per key answered 2xx, none for the others, and every acknowledged object visible.
    const answered = (pattern: RegExp, status: number) =>
      history.exchanges.filter((e) => e.method === 'POST' && pattern.test(e.path) && e.final?.status === status);
    const expectations: [string, Exchange[], string][] = [
      ['deposits', answered(/\/deposits$/, 201), `SELECT id FROM deposits WHERE merchant_id = $1`],
      ['charges', answered(/^\/v1\/charges$/, 201), `SELECT id FROM charges WHERE merchant_id = $1`],
      ['refunds', answered(/\/refunds$/, 201), `SELECT id FROM refunds WHERE merchant_id = $1`],
      ['captures', answered(/\/capture$/, 200), `SELECT id FROM ledger_entries WHERE merchant_id = $1 AND type = 'capture' AND amount < 0`],
      ['cancels', answered(/\/cancel$/, 200), `SELECT id FROM charges WHERE merchant_id = $1 AND status = 'canceled'`],
    ];
    for (const [what, exchanges, sql] of expectations) {
      const found = (await query(sql, [merchantId])).map((row) => String(row.id));
      const keys = new Set(exchanges.map((exchange) => exchange.key)).size;
      if (found.length !== keys) violations.push(`${what}: ${found.length} in the database, ${keys} keys answered 2xx`);
      const present = new Set(found);
      const missing = exchanges
        .map((e) => e.final?.body?.id)
        .filter((id): id is string => typeof id === 'string' && what !== 'captures' && what !== 'cancels' && !present.has(id));
      if (missing.length > 0) violations.push(`${what}: acknowledged but not visible: ${missing.slice(0, 5).join(', ')}`);
    }
    await db.query('COMMIT');
  } finally {
    await db.end();
  }
  violations.push(...(await replayEveryKey(history.exchanges, client, baseUrl)));
  return violations;
}

/** A repeat of every key with a recorded answer returns that answer, marked Idempotent-Replayed. */
async function replayEveryKey(exchanges: Exchange[], client: ChaosClient, baseUrl: string): Promise<string[]> {
  const violations: string[] = [];
  const byKey = new Map<string, Exchange>();
  for (const exchange of exchanges) if (exchange.final && RECORDED(exchange.final.status)) byKey.set(exchange.key, exchange);
  const queue = [...byKey.values()];
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let exchange = queue.pop(); exchange; exchange = queue.pop()) {
        const again = await client.once(baseUrl, exchange.method, exchange.path, exchange.body, exchange.key);
        const first = exchange.final!;
        if (!again || again.status !== first.status || again.text !== first.text || !again.replayed) {
          violations.push(
            `replay of ${exchange.method} ${exchange.path} (key ${exchange.key}): first ${first.status}, repeat ${again?.status ?? 'no answer'} replayed=${again?.replayed}`,
          );
        }
      }
    }),
  );
  return violations.slice(0, 20);
}
