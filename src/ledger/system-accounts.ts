// SQL pieces of the merchant's side of every movement: its system accounts and its balance totals.

/**
 * System ledger accounts of a merchant, one per currency, created on first use. Their ids hold a
 * ':' so no client-chosen id can take them. They are append-only: their balance is the sum of
 * their entries (their row is never updated, so concurrent movements never queue on it).
 */
export const externalAccountSql = (currency: string) => `'external:' || ${currency}`;
export const merchantBalanceAccountSql = (currency: string) => `'balance:' || ${currency}`;

/** How many rows a merchant's balance totals are spread over (migration BalanceTotals). */
export const BALANCE_TOTAL_SLOTS = 64;

/**
 * A CTE body that adds to the merchant's balance totals ($1 is the merchant) for each row of
 * `from`, in the slot of this database session: concurrent movements add to different rows.
 */
export const addToBalanceTotalsSql = (from: string, currency: string, available: string, pending: string) => `
  INSERT INTO balance_totals (merchant_id, currency, slot, available, pending)
  SELECT $1, ${currency}, pg_backend_pid() % ${BALANCE_TOTAL_SLOTS}, ${available}, ${pending} FROM ${from}
  ON CONFLICT (merchant_id, currency, slot) DO UPDATE
     SET available = balance_totals.available + EXCLUDED.available, pending = balance_totals.pending + EXCLUDED.pending`;
