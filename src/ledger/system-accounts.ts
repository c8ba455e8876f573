// The ids of a merchant's system ledger accounts, as SQL expressions (used by every movement's statement).

/**
 * System ledger accounts of a merchant, one per currency, created on first use. Their ids hold a
 * ':' so no client-chosen id can take them. They are append-only: their balance is the sum of
 * their entries (their row is never updated, so concurrent movements never queue on it).
 */
export const externalAccountSql = (currency: string) => `'external:' || ${currency}`;
export const merchantBalanceAccountSql = (currency: string) => `'balance:' || ${currency}`;
