/**
 * The rules of an idempotency key, each written once. Every statement that needs one is built from
 * here (idempotency.repository.ts, batch-items.repository.ts), and so is the body of the database
 * function idempotency_claim_key: its migration holds the text as it was created, and
 * test/key-rules.e2e-spec.ts fails when the function in the database and claimKeyFunctionBody()
 * below no longer agree (then the rule changed: write a migration with the new body).
 *
 * - A key belongs to a merchant: (merchant_id, key) is the record's primary key.
 * - Its lock: a transaction-scoped advisory lock on lockId(merchant, key), held by the one request
 *   with the key that is running; a request that cannot take it is told the key is busy.
 * - Expiry counts as absence: a record whose expires_at has passed is no record; the key is new
 *   again, and the request that takes the key removes the old row under the key's lock.
 * - "The same request": the same fingerprint (method, path and canonical body; request-fingerprint.ts).
 */

/** The key's advisory lock id, from SQL expressions for the merchant and the key. */
export function keyLockId(merchant: string, key: string): string {
  return `hashtextextended(${merchant} || chr(10) || ${key}, 0)`;
}

/** The advisory lock id of item `index` of a request that records item by item (a batch). */
export function itemLockId(merchant: string, key: string, index: string): string {
  return `hashtextextended(${merchant} || chr(10) || ${key} || chr(10) || ${index}, 1)`;
}

/** Whether the record aliased `row` counts: it has not expired. */
export function isLive(row: string): string {
  return `${row}.expires_at > now()`;
}

/** Whether the record aliased `row` counts as absent. */
export function isExpired(row: string): string {
  return `${row}.expires_at <= now()`;
}

/** A new record's expiry, `ttlSeconds` (an SQL expression) from the transaction's start. */
export function expiryAfter(ttlSeconds: string): string {
  return `now() + make_interval(secs => ${ttlSeconds})`;
}

/**
 * Seconds from now until the record aliased `row` expires, by the database's clock: a process keeps
 * a committed answer for that long on its own monotonic clock (committed-responses.ts), so a clock
 * that runs apart from PostgreSQL's never decides a replay.
 */
export function secondsLeft(row: string): string {
  return `extract(epoch from ${row}.expires_at - clock_timestamp())::float8`;
}

/** Seconds since the record aliased `row` was written (a duplicate's age), by the database's clock. */
export function secondsSinceRecorded(row: string): string {
  return `extract(epoch from clock_timestamp() - ${row}.created_at)::float8`;
}

/** The SQLSTATE with which idempotency_claim_key refuses a key: in flight, or live. */
export const KEY_IN_USE_SQLSTATE = 'IK409';

/**
 * The body of idempotency_claim_key(merchant text, idempotency_key text), the claim a new
 * request's transaction sends right after BEGIN: take the key's lock without waiting, refuse a key
 * that is in flight or has a live record (raising KEY_IN_USE_SQLSTATE, which makes the server
 * skip every later statement of the transaction: the handler's first statement never takes
 * effect), and remove an expired record, so that the record's plain INSERT follows.
 *
 * A function because only PL/pgSQL can refuse (RAISE) in the same round trip.
 */
export function claimKeyFunctionBody(): string {
  return `
DECLARE
  live boolean; -- NULL: no record of the key
BEGIN
  IF NOT pg_try_advisory_xact_lock(${keyLockId('merchant', 'idempotency_key')}) THEN
    RAISE EXCEPTION 'idempotency key in flight' USING ERRCODE = '${KEY_IN_USE_SQLSTATE}';
  END IF;
  SELECT ${isLive('r')} INTO live FROM idempotency_keys r
   WHERE r.merchant_id = merchant AND r.key = idempotency_key;
  IF live THEN
    RAISE EXCEPTION 'idempotency key recorded' USING ERRCODE = '${KEY_IN_USE_SQLSTATE}';
  ELSIF NOT live THEN
    DELETE FROM idempotency_keys r WHERE r.merchant_id = merchant AND r.key = idempotency_key;
  END IF;
END
`;
}
