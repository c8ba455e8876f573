// The invariants of card charges (issue 20, item 7), checked against the acquirer's ground truth
// (GET /_captures): by the e2e tests after each test, and by the chaos harness after a run.

/** Runs one SQL statement with parameters and returns its rows (a TypeORM DataSource's query, a pg client's). */
export type ParamQuery = (sql: string, parameters: unknown[]) => Promise<Record<string, unknown>[]>;

export interface AcquirerCapture {
  id: string;
  status: string;
  amount: number;
  currency: string;
  reference: string | null;
  idempotency_key: string | null;
}

export interface CardInvariantViolations {
  /** More than one capture under one acquirer key, or a capture made without a key. */
  doubleCaptures: unknown[];
  /** A capture of one of ours (its reference is a charge of these merchants) that our ledger does not hold exactly once. */
  capturesOffTheLedger: unknown[];
  /** A card charge with a ledger effect or status succeeded and no capture behind it. */
  effectsWithoutCapture: unknown[];
  /** Keys not finished (only checked when asked: once the completer has drained). */
  unfinishedKeys: unknown[];
}

export async function acquirerCaptures(acquirerUrl: string): Promise<AcquirerCapture[]> {
  const response = await fetch(`${acquirerUrl}/_captures`);
  if (!response.ok) throw new Error(`GET /_captures answered ${response.status}`);
  return ((await response.json()) as { data: AcquirerCapture[] }).data;
}

/**
 * Checks the card charges of `merchantIds` against the captures the acquirer holds. `drained`:
 * the completer has run to the end, so no key of theirs may be left unfinished.
 */
export async function cardInvariantViolations(
  query: ParamQuery,
  captures: AcquirerCapture[],
  merchantIds: string[],
  options: { drained: boolean } = { drained: false },
): Promise<CardInvariantViolations> {
  const charges = await query(
    `SELECT c.merchant_id, c.id, c.amount::text AS amount, c.currency, c.status, c.acquirer_payment_id,
            (SELECT count(*) FROM ledger_entries e WHERE e.merchant_id = c.merchant_id AND e.reference = c.id)::int AS entries,
            (SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e
               JOIN accounts a ON a.merchant_id = e.merchant_id AND a.id = e.account_id AND a.kind = 'merchant_balance'
              WHERE e.merchant_id = c.merchant_id AND e.reference = c.id)::text AS credited
       FROM charges c WHERE c.merchant_id = ANY($1) AND c.payment_method IS NOT NULL`,
    [merchantIds],
  );
  const byId = new Map(charges.map((charge) => [String(charge.id), charge]));
  const ours = captures.filter((capture) => capture.reference !== null && byId.has(capture.reference));

  const perKey = new Map<string, AcquirerCapture[]>();
  const doubleCaptures: unknown[] = [];
  for (const capture of captures) {
    if (capture.idempotency_key === null) {
      doubleCaptures.push({ keyless: capture });
      continue;
    }
    perKey.set(capture.idempotency_key, [...(perKey.get(capture.idempotency_key) ?? []), capture]);
  }
  for (const [key, list] of perKey) if (list.length > 1) doubleCaptures.push({ key, captures: list.map((capture) => capture.id) });

  const capturesOffTheLedger: unknown[] = [];
  for (const capture of ours) {
    const charge = byId.get(capture.reference ?? '');
    const holding = charges.filter((row) => row.acquirer_payment_id === capture.id);
    const right =
      holding.length === 1 &&
      charge !== undefined &&
      charge.acquirer_payment_id === capture.id &&
      charge.status === 'succeeded' &&
      Number(charge.amount) === capture.amount &&
      charge.currency === capture.currency &&
      Number(charge.entries) === 2 &&
      Number(charge.credited) === capture.amount;
    if (!right) capturesOffTheLedger.push({ capture, charge, holding: holding.length });
  }

  const captured = new Set(captures.map((capture) => capture.id));
  const effectsWithoutCapture = charges
    .filter((charge) => (charge.status === 'succeeded' || Number(charge.entries) > 0) && !captured.has(String(charge.acquirer_payment_id)))
    .map((charge) => ({ charge }));

  const unfinishedKeys = options.drained
    ? await query(
        `SELECT merchant_id, key, recovery_point, charge_id FROM idempotency_keys
          WHERE merchant_id = ANY($1) AND recovery_point IN ('started', 'acquirer_called')`,
        [merchantIds],
      )
    : [];
  return { doubleCaptures, capturesOffTheLedger, effectsWithoutCapture, unfinishedKeys };
}

/** Every list empty. */
export function noViolations(violations: CardInvariantViolations): boolean {
  return Object.values(violations).every((list: unknown[]) => list.length === 0);
}
