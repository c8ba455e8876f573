import { isKeyReused, isRecorded, type Exchange } from './client.js';
import { sleep } from './cluster.js';
import { finish, prepare, type ScenarioResult, type Settings } from './scenarios.js';
import { startService } from './service.js';
import { budget } from './workload.js';

type Route = 'batch' | 'charge' | 'deposit';

/**
 * 10. One key, three routes at once: every key is sent concurrently, a few ms apart (in an order
 * and with gaps drawn from the seed), as a batch of 5-20 charges, a single charge and a deposit,
 * each with a body of its own. Exactly one of them may take effect; the others must be refused
 * with 422 idempotency_key_reused (after 409 in progress, which the client retries), and a repeat
 * of the winner replays its answer — for a batch, its own items (the checker's replays).
 *
 * Every effect is tagged with its key's number (charge metadata, deposit description), so the
 * database itself says which requests of a key took effect. (Not with the key itself: a UUID can
 * hold a run of digits that the service refuses as a card number.)
 */
export async function oneKeyManyRoutes(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const service = await startService(settings.cluster.url);
  const parts = await prepare(settings, 'one-key-many-routes', [service]);
  const { random, workload, client } = parts;
  const keys = budget(settings.quick ? 80 : 300);
  /** Every key's requests, by the tag of its effects. */
  const sent = new Map<string, Map<Route, Exchange>>();
  let keysSent = 0;

  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (keys()) {
        const key = random.uuid();
        const tag = `key-${++keysSent}`;
        const source = () => random.pick(workload.accounts);
        const charge = (route: Route) => ({ amount: random.int(1, 300), currency: 'usd', source: source(), metadata: { tag, route } });
        const requests: [Route, string, unknown][] = [
          ['batch', '/v1/charges/batch', { charges: Array.from({ length: random.int(5, 20) }, () => charge('batch')) }],
          ['charge', '/v1/charges', charge('charge')],
          ['deposit', `/v1/accounts/${source()}/deposits`, { amount: random.int(1, 500), description: tag }],
        ];
        const exchanges = await Promise.all(
          requests.map(async ([route, path, body]) => {
            await sleep(random.int(0, 12));
            return [route, await client.send('POST', path, body, key)] as const;
          }),
        );
        sent.set(tag, new Map(exchanges));
      }
    }),
  );

  parts.history.violations.push(...(await oneEffectPerKey(settings, parts.merchant.id, sent)));
  const scenario = { name: '10. one key, three routes at once', checks: 'one effect per key; others 422 / 409; batch owns its items' };
  return finish(settings, scenario, started, [service], parts, 0);
}

/** Per key: exactly one request won (a recorded answer), the others were refused, and only the winner took effect. */
async function oneEffectPerKey(settings: Settings, merchantId: string, sent: Map<string, Map<Route, Exchange>>): Promise<string[]> {
  const db = await settings.cluster.connect();
  const effects = new Map<string, Map<Route, number>>();
  try {
    const { rows } = await db.query<{ tag: string; route: Route; count: number }>(
      `SELECT metadata->>'tag' AS tag, metadata->>'route' AS route, count(*)::int AS count
         FROM charges WHERE merchant_id = $1 AND metadata ? 'tag' GROUP BY 1, 2
       UNION ALL
       SELECT description, 'deposit', count(*)::int FROM deposits WHERE merchant_id = $1 AND description IS NOT NULL GROUP BY 1`,
      [merchantId],
    );
    for (const row of rows) effects.set(row.tag, (effects.get(row.tag) ?? new Map<Route, number>()).set(row.route, row.count));
  } finally {
    await db.end();
  }

  const violations: string[] = [];
  for (const [tag, exchanges] of sent) {
    const key = exchanges.get('batch')!.key;
    const winners = [...exchanges].filter(([, exchange]) => isRecorded(exchange.final)).map(([route]) => route);
    const answers = [...exchanges].map(([route, exchange]) => `${route} ${exchange.final?.status ?? 'no answer'}`).join(', ');
    const refusedOtherwise = [...exchanges].filter(([, exchange]) => !isRecorded(exchange.final) && !isKeyReused(exchange.final));
    const tookEffect = [...(effects.get(tag) ?? new Map<Route, number>())];
    if (winners.length !== 1) violations.push(`key ${key}: ${winners.length} requests won (${answers})`);
    if (refusedOtherwise.length > 0) violations.push(`key ${key}: a request neither won nor got 422 idempotency_key_reused (${answers})`);
    if (tookEffect.length > 1 || tookEffect.some(([route]) => !winners.includes(route))) {
      violations.push(
        `key ${key} took effect through ${tookEffect.map(([route, count]) => `${route} (${count})`).join(' and ')}; answers: ${answers}`,
      );
    }
  }
  return violations;
}
