import pg from 'pg';
import { requestFingerprint } from '../src/idempotency/request-fingerprint.js';
import { externalAccountSql, merchantBalanceAccountSql } from '../src/ledger/system-accounts.js';
import { type Answer, batchItems, ChaosClient, type Exchange, History, isKeyReused, isRecorded, type Json, parsedBody } from './client.js';
import { ledgerInvariantViolations } from '../testing/ledger-invariants.js';

type Query = (sql: string, parameters?: unknown[]) => Promise<Record<string, unknown>[]>;

/** What the database snapshot showed, and what the replays afterwards need from it. */
export interface SnapshotCheck {
  violations: string[];
  /** Batches with items committed in the database: request identity → number of items recorded. */
  committedBatches: Map<string, number>;
}

/**
 * The checks after a scenario: first, in one consistent snapshot of the private database, the
 * ledger invariants, conservation of money, every ledger entry tied to its cause, and every
 * effect tied to the answer that acknowledged it (one effect per acknowledged request, none
 * without one, each object as its answer said); then a repeat of every request must replay its
 * recorded answer.
 */
export async function checkScenario(
  databaseUrl: string,
  merchantId: string,
  history: History,
  client: ChaosClient,
  baseUrl: string,
): Promise<string[]> {
  const snapshot = await checkSnapshot(databaseUrl, merchantId, history);
  return [...snapshot.violations, ...(await replayEveryRequest(writesOf(history), snapshot.committedBatches, client, baseUrl))];
}

/** The database checks alone (the checker's self-test drives them on a database with planted faults). */
export async function checkSnapshot(databaseUrl: string, merchantId: string, history: History): Promise<SnapshotCheck> {
  const db = new pg.Client({ connectionString: databaseUrl, application_name: 'chaos-checker' });
  await db.connect();
  try {
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const query: Query = async (sql, parameters = []) => (await db.query<Record<string, unknown>>(sql, parameters)).rows;
    const writes = writesOf(history);
    const committedBatches = await committedBatchItems(query, merchantId);
    const violations = [
      ...(await ledgerViolations(query)),
      ...(await moneyViolations(query)),
      ...(await entriesOffTheirCauses(query, merchantId)),
      ...oneAnswerPerRequest(writes),
      ...oneRequestPerKey(writes),
      ...(await effectsOffTheirAnswers(query, merchantId, writes)),
      ...batchesDisowningTheirItems(writes, committedBatches),
    ];
    await db.query('COMMIT');
    return { violations, committedBatches };
  } finally {
    await db.end();
  }
}

/** Idempotency is about writes: reads carry no key of their own. */
function writesOf(history: History): Exchange[] {
  return history.exchanges.filter((exchange) => exchange.method === 'POST' || exchange.method === 'PUT');
}

/** A key and the request it was sent with, as the service tells requests apart (its fingerprint). */
function requestIdentity(exchange: Exchange): string {
  return `${exchange.key}\n${requestFingerprint(exchange.method, exchange.path, parsedBody(exchange.body))}`;
}

function describe(exchange: Exchange): string {
  return `${exchange.method} ${exchange.path} (key ${exchange.key})`;
}

async function ledgerViolations(query: Query): Promise<string[]> {
  const ledger = await ledgerInvariantViolations((sql) => query(sql));
  return (Object.entries(ledger) as [string, unknown[]][])
    .filter(([, rows]) => rows.length > 0)
    .map(([name, rows]) => `${name}: ${JSON.stringify(rows).slice(0, 300)}`);
}

/**
 * Customer balances plus merchant balances equal the money that came in: all deposits, and the
 * captured card charges (paid from outside, by the acquirer). No money created or lost.
 */
async function moneyViolations(query: Query): Promise<string[]> {
  const [money] = await query(
    `SELECT (SELECT coalesce(sum(balance), 0) FROM accounts WHERE kind = 'customer')
          + (SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e
               JOIN accounts a ON a.merchant_id = e.merchant_id AND a.id = e.account_id
              WHERE a.kind = 'merchant_balance') AS held,
            (SELECT coalesce(sum(amount), 0) FROM deposits)
          + (SELECT coalesce(sum(amount_captured), 0) FROM charges WHERE payment_method IS NOT NULL) AS came_in`,
  );
  const [held, cameIn] = [String(money?.held), String(money?.came_in)];
  return held === cameIn ? [] : [`money not conserved: balances ${held} vs deposits and card captures ${cameIn}`];
}

// Every entry with the object that caused it: a deposit's entries reference the deposit, a charge's
// and a capture's the charge, a refund's the refund (and through it, its charge). An entry whose
// reference is no object of its type has no cause (null).
const ENTRIES_WITH_CAUSES = `caused AS (
  SELECT e.id, e.type, e.reference, e.account_id, e.amount,
         CASE WHEN e.type = 'deposit' THEN 'deposit' ELSE 'charge' END AS kind,
         coalesce(d.id, c.id, r.charge_id) AS cause
    FROM ledger_entries e
    LEFT JOIN deposits d ON e.type = 'deposit' AND d.merchant_id = e.merchant_id AND d.id = e.reference
    LEFT JOIN charges c ON e.type IN ('charge', 'capture') AND c.merchant_id = e.merchant_id AND c.id = e.reference
    LEFT JOIN refunds r ON e.type = 'refund' AND r.merchant_id = e.merchant_id AND r.id = e.reference
   WHERE e.merchant_id = $1
)`;

/**
 * Each cause moved exactly the money it says, on exactly its accounts: a charge's entries (with
 * its refunds') sum to amount_captured - amount_refunded on the merchant's balance account and to
 * the opposite on its source (a card charge's source is the external account); a deposit's to its amount on its account and the opposite on the
 * external account; no entry without a cause; a charge's refunds add up to its amount_refunded.
 */
async function entriesOffTheirCauses(query: Query, merchantId: string): Promise<string[]> {
  const offTheirCause = await query(
    `WITH ${ENTRIES_WITH_CAUSES},
     actual AS (
       SELECT kind, cause, account_id, sum(amount) AS amount FROM caused WHERE cause IS NOT NULL GROUP BY 1, 2, 3
     ), expected AS (
       SELECT 'charge' AS kind, id AS cause, coalesce(source_account_id, ${externalAccountSql('currency')}) AS account_id,
              amount_refunded - amount_captured AS amount
         FROM charges WHERE merchant_id = $1
       UNION ALL
       SELECT 'charge', id, ${merchantBalanceAccountSql('currency')}, amount_captured - amount_refunded FROM charges WHERE merchant_id = $1
       UNION ALL
       SELECT 'deposit', id, account_id, amount FROM deposits WHERE merchant_id = $1
       UNION ALL
       SELECT 'deposit', id, ${externalAccountSql('currency')}, -amount FROM deposits WHERE merchant_id = $1
     )
     SELECT kind, cause, account_id, coalesce(expected.amount, 0)::text AS expected, coalesce(actual.amount, 0)::text AS actual
       FROM expected FULL JOIN actual USING (kind, cause, account_id)
      WHERE coalesce(expected.amount, 0) <> coalesce(actual.amount, 0)
      ORDER BY 1, 2, 3`,
    [merchantId],
  );
  const withoutCause = await query(
    `WITH ${ENTRIES_WITH_CAUSES} SELECT id, type, reference, account_id, amount::text FROM caused WHERE cause IS NULL ORDER BY id`,
    [merchantId],
  );
  const refundsOff = await query(
    `SELECT c.id, c.amount_refunded::text, coalesce(sum(r.amount), 0)::text AS refunds
       FROM charges c LEFT JOIN refunds r ON r.merchant_id = c.merchant_id AND r.charge_id = c.id
      WHERE c.merchant_id = $1
      GROUP BY c.id, c.amount_refunded
     HAVING c.amount_refunded <> coalesce(sum(r.amount), 0)`,
    [merchantId],
  );
  return [
    ...offTheirCause.map(
      (row) =>
        `entries of ${String(row.kind)} ${String(row.cause)} on ${String(row.account_id)} sum to ${String(row.actual)}, not ${String(row.expected)}`,
    ),
    ...withoutCause.map(
      (row) =>
        `ledger entry ${String(row.id)} (${String(row.type)} ${String(row.amount)} on ${String(row.account_id)}) references no ${String(row.type)}: ${String(row.reference)}`,
    ),
    ...refundsOff.map(
      (row) => `charge ${String(row.id)}: amount_refunded ${String(row.amount_refunded)}, its refunds sum to ${String(row.refunds)}`,
    ),
  ];
}

/** One key, one answer: every exchange of the same request with a key (double submits, both instances) got the same. */
function oneAnswerPerRequest(writes: Exchange[]): string[] {
  const answers = new Map<string, { exchange: Exchange; seen: Set<string> }>();
  for (const exchange of writes) {
    if (!exchange.final) continue;
    const identity = requestIdentity(exchange);
    const entry = answers.get(identity) ?? { exchange, seen: new Set<string>() };
    entry.seen.add(`${exchange.final.status} ${exchange.final.text}`);
    answers.set(identity, entry);
  }
  return [...answers.values()]
    .filter(({ seen }) => seen.size > 1)
    .map(({ exchange, seen }) => `${describe(exchange)} got ${seen.size} different answers`);
}

/** A key holds one record: at most one of the different requests sent with it got a recorded answer. */
function oneRequestPerKey(writes: Exchange[]): string[] {
  const winners = new Map<string, Map<string, Exchange>>();
  for (const exchange of writes) {
    if (!isRecorded(exchange.final)) continue;
    const byRequest = winners.get(exchange.key) ?? new Map<string, Exchange>();
    byRequest.set(requestIdentity(exchange), exchange);
    winners.set(exchange.key, byRequest);
  }
  return [...winners]
    .filter(([, byRequest]) => byRequest.size > 1)
    .map(
      ([key, byRequest]) =>
        `key ${key} took effect for ${byRequest.size} different requests: ${[...byRequest.values()]
          .map((exchange) => `${exchange.method} ${exchange.path} → ${exchange.final!.status}`)
          .join(', ')}`,
    );
}

interface ChargeState {
  status: unknown;
  amountCaptured: number;
}

/** What the acknowledged answers say must be in the database. */
function acknowledgedEffects(writes: Exchange[]) {
  const charges = new Map<string, ChargeState>();
  const deposits = new Map<string, number>();
  const refunds = new Map<string, { charge: string; amount: number }>();
  const chargeState = (charge: Json) => ({ status: charge.status, amountCaptured: Number(charge.amount_captured) });
  const transitions: Json[] = [];
  for (const { method, path, final: answer } of writes) {
    const body = answer?.body;
    if (method !== 'POST' || !body) continue;
    const id = typeof body.id === 'string' ? body.id : undefined;
    if (path === '/v1/charges/batch') {
      for (const item of batchItems(answer)) {
        if (item.status === 201 && typeof item.charge?.id === 'string') charges.set(item.charge.id, chargeState(item.charge));
      }
    } else if (path === '/v1/charges' && answer.status === 201 && id) {
      charges.set(id, chargeState(body));
    } else if (/\/deposits$/.test(path) && answer.status === 201 && id) {
      deposits.set(id, Number(body.amount));
    } else if (/\/refunds$/.test(path) && answer.status === 201 && id) {
      refunds.set(id, { charge: String(body.charge), amount: Number(body.amount) });
    } else if (/\/(capture|cancel)$/.test(path) && answer.status === 200 && id) {
      transitions.push(body);
    }
  }
  // A capture or a cancel answers with the charge as it left it; at most one of them succeeds per charge.
  for (const charge of transitions) charges.set(String(charge.id), chargeState(charge));
  return { charges, deposits, refunds };
}

/**
 * Every acknowledged effect is in the database as its answer said (captures, cancels and batch
 * items included), and the database holds no effect that no answer acknowledged: a key that
 * took effect twice, or a request answered with an error that took effect anyway.
 */
async function effectsOffTheirAnswers(query: Query, merchantId: string, writes: Exchange[]): Promise<string[]> {
  const acknowledged = acknowledgedEffects(writes);
  const refundedPerCharge = new Map<string, number>();
  for (const refund of acknowledged.refunds.values())
    refundedPerCharge.set(refund.charge, (refundedPerCharge.get(refund.charge) ?? 0) + refund.amount);

  await acknowledgeCardDeclines(query, merchantId, writes, acknowledged.charges);
  const charges = await query(`SELECT id, status, amount_captured, amount_refunded FROM charges WHERE merchant_id = $1`, [merchantId]);
  const deposits = await query(`SELECT id, amount FROM deposits WHERE merchant_id = $1`, [merchantId]);
  const refunds = await query(`SELECT id, charge_id, amount FROM refunds WHERE merchant_id = $1`, [merchantId]);

  const violations = [
    ...compareIds('charges', acknowledged.charges, charges),
    ...compareIds('deposits', acknowledged.deposits, deposits),
    ...compareIds('refunds', acknowledged.refunds, refunds),
  ];
  for (const row of charges) {
    const id = String(row.id);
    const expected = acknowledged.charges.get(id);
    if (!expected) continue;
    const actual = { status: row.status, captured: Number(row.amount_captured), refunded: Number(row.amount_refunded) };
    const refunded = refundedPerCharge.get(id) ?? 0;
    if (actual.status !== expected.status || actual.captured !== expected.amountCaptured || actual.refunded !== refunded) {
      violations.push(
        `charge ${id}: answered ${String(expected.status)}, captured ${expected.amountCaptured}, refunded ${refunded}; ` +
          `database ${String(actual.status)}, captured ${actual.captured}, refunded ${actual.refunded}`,
      );
    }
  }
  for (const row of deposits) {
    const amount = acknowledged.deposits.get(String(row.id));
    if (amount !== undefined && amount !== Number(row.amount))
      violations.push(`deposit ${String(row.id)}: answered ${amount}, database ${String(row.amount)}`);
  }
  for (const row of refunds) {
    const refund = acknowledged.refunds.get(String(row.id));
    if (refund && (refund.charge !== row.charge_id || refund.amount !== Number(row.amount)))
      violations.push(
        `refund ${String(row.id)}: answered ${refund.amount} of ${refund.charge}, database ${String(row.amount)} of ${String(row.charge_id)}`,
      );
  }
  return violations;
}

/**
 * A 402 card_declined names no charge, but its key does: the charge that key made (and failed)
 * is acknowledged by that answer.
 */
async function acknowledgeCardDeclines(query: Query, merchantId: string, writes: Exchange[], charges: Map<string, ChargeState>) {
  const keys = writes
    .filter(
      (exchange) => exchange.path === '/v1/charges' && exchange.final?.status === 402 && exchange.final.body?.code === 'card_declined',
    )
    .map((exchange) => exchange.key);
  if (keys.length === 0) return;
  const rows = await query(`SELECT charge_id FROM idempotency_keys WHERE merchant_id = $1 AND key = ANY($2) AND charge_id IS NOT NULL`, [
    merchantId,
    keys,
  ]);
  for (const row of rows) charges.set(String(row.charge_id), { status: 'failed', amountCaptured: 0 });
}

function compareIds(what: string, acknowledged: Map<string, unknown>, rows: Record<string, unknown>[]): string[] {
  const present = new Set(rows.map((row) => String(row.id)));
  const lost = [...acknowledged.keys()].filter((id) => !present.has(id));
  const unacknowledged = [...present].filter((id) => !acknowledged.has(id));
  const list = (ids: string[]) => `${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}`;
  const violations: string[] = [];
  if (lost.length > 0) violations.push(`${what}: ${lost.length} acknowledged but not in the database: ${list(lost)}`);
  if (unacknowledged.length > 0)
    violations.push(`${what}: ${unacknowledged.length} in the database that no answer acknowledged: ${list(unacknowledged)}`);
  return violations;
}

/** The batches whose items (some or all) committed: their key belongs to them. */
async function committedBatchItems(query: Query, merchantId: string): Promise<Map<string, number>> {
  const rows = await query(`SELECT batch_key, fingerprint, count(*)::int AS items FROM batch_items WHERE merchant_id = $1 GROUP BY 1, 2`, [
    merchantId,
  ]);
  return new Map(rows.map((row) => [`${String(row.batch_key)}\n${String(row.fingerprint)}`, Number(row.items)]));
}

/** A batch that committed items owns its key: it never answers 422 idempotency_key_reused. */
function batchesDisowningTheirItems(writes: Exchange[], committedBatches: Map<string, number>): string[] {
  return writes
    .filter((exchange) => isKeyReused(exchange.final) && committedBatches.has(requestIdentity(exchange)))
    .map(
      (exchange) =>
        `${describe(exchange)} committed ${committedBatches.get(requestIdentity(exchange))} items but answered 422 idempotency_key_reused`,
    );
}

/**
 * A repeat of every request with a recorded answer returns that answer, marked Idempotent-Replayed;
 * a repeat of a request refused as another's key is refused again — unless it is a batch whose
 * items committed, which must get its own answer.
 */
async function replayEveryRequest(
  writes: Exchange[],
  committedBatches: Map<string, number>,
  client: ChaosClient,
  baseUrl: string,
): Promise<string[]> {
  const violations: string[] = [];
  const requests = new Map<string, Exchange>();
  for (const exchange of writes)
    if (isRecorded(exchange.final) || isKeyReused(exchange.final)) requests.set(requestIdentity(exchange), exchange);
  const queue = [...requests.entries()];
  const differs = (first: Answer, again: Answer | undefined) => !again || again.status !== first.status || again.text !== first.text;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let next = queue.pop(); next; next = queue.pop()) {
        const [identity, exchange] = next;
        const first = exchange.final!;
        const again = await client.once(baseUrl, exchange.method, exchange.path, exchange.body, exchange.key);
        if (isRecorded(first) && (differs(first, again) || !again?.replayed)) {
          violations.push(
            `replay of ${describe(exchange)}: first ${first.status}, repeat ${again?.status ?? 'no answer'} replayed=${again?.replayed}`,
          );
        } else if (isKeyReused(first) && committedBatches.has(identity) && isKeyReused(again)) {
          violations.push(`retry of ${describe(exchange)}, whose items committed, answered 422 idempotency_key_reused`);
        } else if (isKeyReused(first) && !committedBatches.has(identity) && differs(first, again)) {
          violations.push(`retry of ${describe(exchange)}: first 422 idempotency_key_reused, repeat ${again?.status ?? 'no answer'}`);
        }
      }
    }),
  );
  return violations;
}
