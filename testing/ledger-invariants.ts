/** Runs one SQL statement and returns its rows (a pg client, or a TypeORM DataSource / manager). */
export type Query = (sql: string) => Promise<Record<string, unknown>[]>;

export interface InvariantViolations {
  unbalancedCurrencies: unknown[];
  balancesOffTheirEntries: unknown[];
  negativeAvailable: unknown[];
  heldOffAuthorisations: unknown[];
  balanceTotalsOffTheLedger: unknown[];
}

/**
 * The ledger invariants of the contract, over the whole database. Call it inside one REPEATABLE
 * READ transaction so that all four read the same snapshot: per currency all entries sum to zero;
 * each customer account's balance equals the sum of its entries (system accounts are append-only:
 * their balance is their entries' sum by definition); no customer account has negative available
 * funds; each account's held amount equals the uncaptured authorisations drawn on it; each
 * merchant's balance totals (what GET /v1/balance reads) equal its balance account's entries
 * (available) and its open authorisations (pending).
 */
export async function ledgerInvariantViolations(query: Query): Promise<InvariantViolations> {
  return {
    unbalancedCurrencies: await query(
      `SELECT currency, sum(amount)::text AS total FROM ledger_entries GROUP BY currency HAVING sum(amount) <> 0`,
    ),
    balancesOffTheirEntries: await query(
      `SELECT a.merchant_id, a.id, a.balance::text, coalesce(e.total, 0)::text AS entries
         FROM accounts a
         LEFT JOIN (SELECT merchant_id, account_id, sum(amount) AS total FROM ledger_entries GROUP BY 1, 2) e
           ON e.merchant_id = a.merchant_id AND e.account_id = a.id
        WHERE a.kind = 'customer' AND a.balance <> coalesce(e.total, 0)`,
    ),
    negativeAvailable: await query(
      `SELECT merchant_id, id, balance::text, held::text FROM accounts
        WHERE kind = 'customer' AND (held < 0 OR balance - held < 0)`,
    ),
    heldOffAuthorisations: await query(
      `SELECT a.merchant_id, a.id, a.held::text, coalesce(c.total, 0)::text AS authorised
         FROM accounts a
         LEFT JOIN (SELECT merchant_id, source_account_id, sum(amount - amount_captured) AS total
                      FROM charges WHERE status = 'authorized' GROUP BY 1, 2) c
           ON c.merchant_id = a.merchant_id AND c.source_account_id = a.id
        WHERE a.kind = 'customer' AND a.held <> coalesce(c.total, 0)`,
    ),
    balanceTotalsOffTheLedger: await query(
      `WITH totals AS (SELECT merchant_id, currency, sum(available) AS available, sum(pending) AS pending
                         FROM balance_totals GROUP BY 1, 2),
            ledger AS (SELECT e.merchant_id, e.currency, sum(e.amount) AS available
                         FROM ledger_entries e
                         JOIN accounts a ON a.merchant_id = e.merchant_id AND a.id = e.account_id AND a.kind = 'merchant_balance'
                        GROUP BY 1, 2),
            open AS (SELECT merchant_id, currency, sum(amount - amount_captured) AS pending
                       FROM charges WHERE status = 'authorized' GROUP BY 1, 2)
       SELECT coalesce(t.merchant_id, l.merchant_id, o.merchant_id) AS merchant_id,
              coalesce(t.currency, l.currency, o.currency) AS currency,
              coalesce(t.available, 0)::text AS totals_available, coalesce(l.available, 0)::text AS ledger_available,
              coalesce(t.pending, 0)::text AS totals_pending, coalesce(o.pending, 0)::text AS open_pending
         FROM totals t
         FULL JOIN ledger l ON l.merchant_id = t.merchant_id AND l.currency = t.currency
         FULL JOIN open o ON o.merchant_id = coalesce(t.merchant_id, l.merchant_id) AND o.currency = coalesce(t.currency, l.currency)
        WHERE coalesce(t.available, 0) <> coalesce(l.available, 0) OR coalesce(t.pending, 0) <> coalesce(o.pending, 0)`,
    ),
  };
}
