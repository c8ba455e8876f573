import fc from 'fast-check';

import pg from 'pg';
import { ChaosClient, History } from './client.js';
import { echoViolations, edgeValueRequests } from './edge-values.js';
import { Random } from './random.js';
import type { ScenarioResult, Settings } from './scenarios.js';
import { finish, newMerchant } from './scenarios.js';
import { startService } from './service.js';

/**
 * 6. Every route fed arbitrary JSON, wrong types, huge numbers, deep nesting, unknown fields, odd
 * ids and odd keys. Every generated request is invalid by construction (objects always carry an
 * unknown field), so none may change a balance or use up its key; and none may get a 5xx or an
 * error that is not problem+json. Then well-formed requests with edge values (edge-values.ts),
 * which reach the handlers and SQL: none may get a 5xx, and what they did is checked like any
 * scenario's effects.
 */
export async function fuzzEveryRoute(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const service = await startService(settings.cluster.url);
  const history = new History();
  const random = new Random(settings.seed);
  const merchant = await newMerchant(service.url, 'fuzz', random);
  const client = new ChaosClient(history, merchant.apiKey, () => [service.url], random);
  const account = (await client.send('POST', '/v1/accounts', { currency: 'usd' })).final!.body!.id as string;
  // Enough for a charge of the largest amount to succeed once.
  await client.send('POST', `/v1/accounts/${account}/deposits`, { amount: 100_000_000_000 });
  const authorized = (await client.send('POST', '/v1/charges', { amount: 100, currency: 'usd', source: account, capture: false })).final!
    .body!.id as string;
  const captured = (await client.send('POST', '/v1/charges', { amount: 100, currency: 'usd', source: account })).final!.body!.id as string;
  const before = await snapshot(settings.cluster.url, merchant.id);

  const id = fc.oneof(fc.constantFrom(account, authorized, captured, 'acct_nope'), fc.string({ maxLength: 80 }));
  const route = fc.oneof(
    fc.constant(['POST', '/v1/accounts']),
    id.map((x) => ['PUT', `/v1/accounts/${encodeURIComponent(x)}`]),
    id.map((x) => ['POST', `/v1/accounts/${encodeURIComponent(x)}/deposits`]),
    fc.constant(['POST', '/v1/charges']),
    fc.constant(['POST', '/v1/charges/batch']),
    id.map((x) => ['POST', `/v1/charges/${encodeURIComponent(x)}/capture`]),
    id.map((x) => ['POST', `/v1/charges/${encodeURIComponent(x)}/cancel`]),
    id.map((x) => ['POST', `/v1/charges/${encodeURIComponent(x)}/refunds`]),
    fc.constant(['POST', '/v1/merchants']),
  ) as fc.Arbitrary<[string, string]>;
  const valid = fc.constantFrom<Record<string, unknown>>(
    { amount: 100, currency: 'usd', source: account },
    { currency: 'usd', name: 'x' },
    { amount: 100 },
    { charges: [{ amount: 1, currency: 'usd', source: account }] },
  );
  const odd = fc.oneof(
    fc.jsonValue({ maxDepth: 6 }),
    fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, 100_000_000_001, -1, 0, 1.5, '100', true, null),
    fc.integer({ min: 1, max: 60 }).map((depth) => JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown),
    fc.string({ maxLength: 300 }),
  );
  // Always invalid: a valid body with one field broken plus an unknown field, or no object at all.
  const body = fc.oneof(
    fc
      .tuple(
        valid,
        fc.constantFrom('amount', 'currency', 'source', 'name', 'charges', 'capture', 'metadata'),
        odd,
        fc.string({ minLength: 1, maxLength: 20 }),
      )
      .map(([base, field, value, unknown]) => ({ ...base, [field]: value, [`zz_${unknown}`]: value })),
    fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 5 }),
    fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  );
  const key = fc.oneof(
    fc.uuid(),
    fc.string({ minLength: 0, maxLength: 300 }).filter((k) => /^[\x20-\x7e]*$/.test(k)),
  );

  const usedKeys: string[] = [];
  await fc
    .assert(
      fc.asyncProperty(route, body, key, async ([method, path], payload, idempotencyKey) => {
        const answer = await client.once(service.url, method, path, payload, idempotencyKey || undefined);
        if (!answer) throw new Error(`no answer for ${method} ${path}`);
        if (answer.status >= 500 || answer.status < 400)
          throw new Error(`${method} ${path} ${JSON.stringify(payload).slice(0, 200)} → ${answer.status} ${answer.text.slice(0, 200)}`);
        if (idempotencyKey) usedKeys.push(idempotencyKey);
      }),
      { numRuns: settings.quick ? 300 : 2_000, seed: settings.seed, verbose: 0 },
    )
    .catch((error: unknown) => history.violations.push(`fuzz: ${String(error).slice(0, 600)}`));

  const after = await snapshot(settings.cluster.url, merchant.id);
  if (JSON.stringify(after.money) !== JSON.stringify(before.money))
    history.violations.push(`fuzz changed money: ${JSON.stringify(before.money)} → ${JSON.stringify(after.money)}`);
  const db = new pg.Client({ connectionString: settings.cluster.url });
  await db.connect();
  const leftover = await db.query('SELECT key FROM idempotency_keys WHERE merchant_id = $1 AND key = ANY($2)', [merchant.id, usedKeys]);
  await db.end();
  if (leftover.rows.length > 0)
    history.violations.push(
      `rejected requests used up keys: ${leftover.rows
        .slice(0, 5)
        .map((row: { key: string }) => row.key)
        .join(', ')}`,
    );

  // Well-formed edge values, a few at a time; each one's answer must show the text it was sent.
  const edges = edgeValueRequests({ account, authorized, captured }, settings.seed, settings.quick ? 150 : 600);
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let request = edges.shift(); request; request = edges.shift()) {
        history.violations.push(...echoViolations(await client.send(...request)));
      }
    }),
  );
  const scenario = { name: '6. fuzzing every route', checks: 'never a 5xx; bad input leaves no trace; edge values reach SQL' };
  return finish(settings, scenario, started, [service], { history, merchant, client }, 0);
}

async function snapshot(url: string, merchantId: string): Promise<{ money: unknown[] }> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const money = await db.query(
      `SELECT id, balance::text, held::text FROM accounts WHERE merchant_id = $1 AND kind = 'customer'
        UNION ALL SELECT 'charges', count(*)::text, coalesce(sum(amount_refunded), 0)::text FROM charges WHERE merchant_id = $1
        UNION ALL SELECT 'entries', count(*)::text, '' FROM ledger_entries WHERE merchant_id = $1
        ORDER BY 1`,
      [merchantId],
    );
    return { money: money.rows };
  } finally {
    await db.end();
  }
}
