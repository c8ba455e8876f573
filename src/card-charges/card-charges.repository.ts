import { Injectable } from '@nestjs/common';
import { Sql } from '../database/sql.js';
import type { ChargeRow } from '../charges/charges.service.js';
import { eventCtes, type NewEvent } from '../events/event-outbox.js';
import { expiryAfter, isExpired, isLive, secondsLeft, secondsSinceRecorded } from '../idempotency/key-rules.js';
import type { KeyedCall, KeyRef, RecordedResponse, RecordTimes } from '../idempotency/idempotency.types.js';
import { addToBalanceTotalsSql, externalAccountSql, merchantBalanceAccountSql } from '../ledger/system-accounts.js';

/** Where a card charge's key stands (migration CardCharges). */
export type RecoveryPoint = 'started' | 'acquirer_called' | 'finished';

/** A card charge as tx1 writes it. */
export interface NewCardCharge {
  id: string;
  paymentMethod: string;
  amount: number;
  currency: string;
  description: string | null;
  metadata: Record<string, string>;
}

/** An unfinished key this worker holds the lease of, with its charge. */
export interface LeasedKey extends KeyRef {
  token: string;
  recoveryPoint: Exclude<RecoveryPoint, 'finished'>;
  attempts: number;
  lastOutcome: string | null;
  /** Seconds since the key was claimed, by the database's clock. */
  ageSeconds: number;
  charge: ChargeRow;
}

/** The key's record as another request with it finds it. */
export interface CardKeyRecord {
  fingerprint: string;
  recoveryPoint: RecoveryPoint | null;
  leaseLive: boolean;
  chargeId: string | null;
  response: RecordedResponse | undefined;
  expiresAt: Date;
  secondsLeft: number;
  ageSeconds: number;
}

/** What tx3 writes: the charge's end and the answer recorded against the key. */
export interface Finish {
  status: 'succeeded' | 'failed';
  acquirerPaymentId: string | null;
  declineCode: string | null;
  response: RecordedResponse;
  outcome: string;
  entryIds: [string, string];
  /** The charge's event (charge.succeeded or charge.failed), written only if the charge changed. */
  event: NewEvent;
}

const CHARGE_COLUMNS = `c.id, c.source_account_id, c.amount, c.currency, c.status, c.amount_captured, c.amount_refunded,
  c.description, c.metadata, c.created_at, c.payment_method, c.decline_code`;

const UNFINISHED = `('started', 'acquirer_called')`;

/**
 * An unfinished key never expires: until tx3 gives it IDEMPOTENCY_TTL_SECONDS from when it finished,
 * its expiry is out of reach, so every rule that counts an expired key as absent (the wallet path's
 * claim, which would delete it; the purge) leaves it alone. Not 'infinity': the seconds left are
 * computed from it, and PostgreSQL before 17 has no infinite interval.
 */
const UNFINISHED_EXPIRY = `now() + interval '100 years'`;

/**
 * tx1, one statement: claim the key (new, or replacing an expired finished record; never an
 * unfinished one) at `started` with this worker's lease, and write the pending charge with it.
 * No row: the key has a record (see FIND_CARD_KEY).
 */
const CLAIM_SQL = `
WITH claimed AS (
  INSERT INTO idempotency_keys AS r (merchant_id, key, fingerprint, status, body, headers, expires_at,
                                     recovery_point, lease_until, lease_token, charge_id, attempts, last_attempt_at, last_outcome)
  VALUES ($1, $2, $3, NULL, NULL, '{}', ${UNFINISHED_EXPIRY}, 'started', now() + make_interval(secs => $4), $5, $6, 0, NULL, NULL)
  ON CONFLICT (merchant_id, key) DO UPDATE
     SET fingerprint = EXCLUDED.fingerprint, status = NULL, body = NULL, headers = '{}', created_at = now(),
         expires_at = EXCLUDED.expires_at, recovery_point = 'started', lease_until = EXCLUDED.lease_until,
         lease_token = EXCLUDED.lease_token, charge_id = EXCLUDED.charge_id, attempts = 0, last_attempt_at = NULL, last_outcome = NULL
   WHERE ${isExpired('r')} AND r.recovery_point IS DISTINCT FROM 'started' AND r.recovery_point IS DISTINCT FROM 'acquirer_called'
  RETURNING 1
), c AS (
  INSERT INTO charges (merchant_id, id, source_account_id, payment_method, amount, currency, status, amount_captured, description, metadata)
  SELECT $1, $6, NULL, $7, $8::bigint, $9, 'pending', 0, $10, $11::jsonb FROM claimed
  RETURNING *
)
SELECT ${CHARGE_COLUMNS} FROM c`;

/** The key's record: live, or unfinished (an unfinished key never counts as expired). */
const FIND_CARD_KEY_SQL = `
SELECT r.fingerprint, r.status, r.body, r.headers, r.expires_at, r.recovery_point, r.charge_id,
       coalesce(r.lease_until > now(), false) AS lease_live,
       ${secondsLeft('r')} AS seconds_left, ${secondsSinceRecorded('r')} AS age_seconds
  FROM idempotency_keys r
 WHERE r.merchant_id = $1 AND r.key = $2 AND (${isLive('r')} OR r.recovery_point IN ${UNFINISHED})`;

/** Takes an unfinished key whose lease is free or expired; returns it with its charge. */
const TAKE_LEASE_SQL = `
WITH taken AS (
  UPDATE idempotency_keys r SET lease_until = now() + make_interval(secs => $3), lease_token = $4
   WHERE r.merchant_id = $1 AND r.key = $2 AND r.recovery_point IN ${UNFINISHED}
     AND (r.lease_until IS NULL OR r.lease_until <= now())
  RETURNING r.merchant_id, r.key, r.recovery_point, r.attempts, r.last_outcome, r.charge_id, ${secondsSinceRecorded('r')} AS key_age_seconds
)
SELECT taken.key AS idempotency_key, taken.recovery_point, taken.attempts, taken.last_outcome, taken.key_age_seconds, ${CHARGE_COLUMNS}
  FROM taken JOIN charges c ON c.merchant_id = taken.merchant_id AND c.id = taken.charge_id`;

/** tx2: the attempt is counted before its request leaves, and the lease renewed for the call. */
const CALLING_SQL = `
UPDATE idempotency_keys r
   SET recovery_point = 'acquirer_called', attempts = r.attempts + 1, last_attempt_at = now(),
       lease_until = now() + make_interval(secs => $4)
 WHERE r.merchant_id = $1 AND r.key = $2 AND r.lease_token = $3 AND r.recovery_point IN ${UNFINISHED}
RETURNING r.attempts`;

/** An indeterminate answer: what it was, and the lease let go, so a retry may resume at once. */
const INDETERMINATE_SQL = `
UPDATE idempotency_keys r SET last_outcome = $4, lease_until = NULL, lease_token = NULL
 WHERE r.merchant_id = $1 AND r.key = $2 AND r.lease_token = $3 AND r.recovery_point = 'acquirer_called'
RETURNING 1`;

/** The lease let go without anything else (a call that was never made: circuit open). */
const RELEASE_SQL = `
UPDATE idempotency_keys r SET lease_until = NULL, lease_token = NULL
 WHERE r.merchant_id = $1 AND r.key = $2 AND r.lease_token = $3
RETURNING 1`;

/**
 * tx3, one statement: the key finished with its recorded answer, the charge's end, and on success
 * the ledger (the external account to the merchant's balance) and the balance totals. Everything
 * hangs on the key's row being still this worker's: no row, no effect.
 */
const FINISH_SQL = `
WITH finished AS (
  UPDATE idempotency_keys r
     SET recovery_point = 'finished', status = $4, body = $5, headers = $6::jsonb, lease_until = NULL, lease_token = NULL,
         expires_at = ${expiryAfter('$7')}, last_outcome = $8
   WHERE r.merchant_id = $1 AND r.key = $2 AND r.lease_token = $3 AND r.recovery_point = 'acquirer_called'
  RETURNING r.expires_at, ${secondsLeft('r')} AS seconds_left, r.charge_id
), charge AS (
  UPDATE charges c
     SET status = $9, amount_captured = CASE WHEN $9 = 'succeeded' THEN c.amount ELSE 0 END,
         acquirer_payment_id = $10, decline_code = $11, updated_at = now()
    FROM finished f
   WHERE c.merchant_id = $1 AND c.id = f.charge_id AND c.status = 'pending'
  RETURNING c.id, c.amount, c.currency
), captured AS (
  SELECT * FROM charge WHERE $9 = 'succeeded'
), external AS (
  INSERT INTO accounts (merchant_id, id, kind, currency, balance)
  SELECT $1, ${externalAccountSql('currency')}, 'external', currency, 0 FROM captured
  ON CONFLICT (merchant_id, id) DO NOTHING
), merchant_balance AS (
  INSERT INTO accounts (merchant_id, id, kind, currency, balance)
  SELECT $1, ${merchantBalanceAccountSql('currency')}, 'merchant_balance', currency, 0 FROM captured
  ON CONFLICT (merchant_id, id) DO NOTHING
), entries AS (
  INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference)
  SELECT $1, e.id, e.account_id, e.amount, k.currency, 'charge', k.id
    FROM captured k
   CROSS JOIN LATERAL (VALUES ($12, ${externalAccountSql('k.currency')}, -k.amount),
                              ($13, ${merchantBalanceAccountSql('k.currency')}, k.amount)) AS e (id, account_id, amount)
), totals AS (${addToBalanceTotalsSql('captured k', 'k.currency', 'k.amount', '0')}
), ${eventCtes({ from: 'charge', merchant: '$1', id: '$14', type: '$15', data: '$16' })}
SELECT expires_at, seconds_left FROM finished`;

/**
 * The completer's roll-back of a key still at `started` (its request never left): the key and its
 * pending charge go, so a retry starts clean. Only while the completer holds the lease.
 */
const ROLL_BACK_SQL = `
WITH gone AS (
  DELETE FROM idempotency_keys r
   WHERE r.merchant_id = $1 AND r.key = $2 AND r.lease_token = $3 AND r.recovery_point = 'started'
  RETURNING r.charge_id
)
DELETE FROM charges c USING gone WHERE c.merchant_id = $1 AND c.id = gone.charge_id AND c.status = 'pending'
RETURNING 1`;

/**
 * Unfinished keys older than the grace period and not attempted within it, lease free or expired,
 * oldest first; each one's lease is taken in the same statement (SKIP LOCKED: two completers
 * never wait for each other, nor for a request's tx).
 */
const PICK_SQL = `
WITH picked AS (
  SELECT r.merchant_id, r.key FROM idempotency_keys r
   WHERE r.recovery_point IN ${UNFINISHED}
     AND r.created_at <= now() - make_interval(secs => $1)
     AND (r.last_attempt_at IS NULL OR r.last_attempt_at <= now() - make_interval(secs => $1))
     AND (r.lease_until IS NULL OR r.lease_until <= now())
   ORDER BY r.created_at
   LIMIT $2
     FOR UPDATE SKIP LOCKED
), taken AS (
  UPDATE idempotency_keys r SET lease_until = now() + make_interval(secs => $3), lease_token = $4 || '-' || r.key
    FROM picked p WHERE r.merchant_id = p.merchant_id AND r.key = p.key
  RETURNING r.merchant_id, r.key, r.lease_token, r.recovery_point, r.attempts, r.last_outcome, r.charge_id,
            ${secondsSinceRecorded('r')} AS key_age_seconds
)
SELECT taken.merchant_id AS key_merchant_id, taken.key AS idempotency_key, taken.lease_token, taken.recovery_point,
       taken.attempts, taken.last_outcome, taken.key_age_seconds, ${CHARGE_COLUMNS}
  FROM taken JOIN charges c ON c.merchant_id = taken.merchant_id AND c.id = taken.charge_id`;

/**
 * What a /metrics scrape reads: the unfinished keys only, whose predicate is the partial index
 * idempotency_keys_unfinished_idx's (the completer's too). So a scrape costs what the unfinished
 * keys cost (normally none or a few), not a pass over every finished card key the table keeps for
 * IDEMPOTENCY_TTL_SECONDS; finished keys are counted by charges_total as they finish.
 */
export const CENSUS_SQL = `
SELECT recovery_point, count(*)::int AS keys, extract(epoch from clock_timestamp() - min(created_at))::float8 AS oldest
  FROM idempotency_keys
 WHERE recovery_point IN ${UNFINISHED}
 GROUP BY recovery_point`;

interface LeasedRow extends ChargeRow {
  idempotency_key: string;
  recovery_point: 'started' | 'acquirer_called';
  attempts: number;
  last_outcome: string | null;
  key_age_seconds: number;
}

function chargeOf(row: LeasedRow): ChargeRow {
  return {
    id: row.id,
    source_account_id: row.source_account_id,
    amount: row.amount,
    currency: row.currency,
    status: row.status,
    amount_captured: row.amount_captured,
    amount_refunded: row.amount_refunded,
    description: row.description,
    metadata: row.metadata,
    created_at: row.created_at,
    payment_method: row.payment_method,
    decline_code: row.decline_code,
  };
}

function leasedOf(merchantId: string, token: string, row: LeasedRow): LeasedKey {
  return {
    merchantId,
    key: row.idempotency_key,
    token,
    recoveryPoint: row.recovery_point,
    attempts: Number(row.attempts),
    lastOutcome: row.last_outcome,
    ageSeconds: Number(row.key_age_seconds),
    charge: chargeOf(row),
  };
}

/** A card charge's key and charge through their recovery points: each method one transaction. */
@Injectable()
export class CardChargesRepository {
  constructor(private readonly sql: Sql) {}

  /** tx1. The key at `started` with this lease and the pending charge; undefined when the key has a record. */
  async claim(call: KeyedCall, charge: NewCardCharge, token: string, leaseSeconds: number): Promise<ChargeRow | undefined> {
    const rows = await this.sql.query<ChargeRow>({
      name: 'card_claim',
      text: CLAIM_SQL,
      values: [
        call.merchantId,
        call.key,
        call.fingerprint,
        leaseSeconds,
        token,
        charge.id,
        charge.paymentMethod,
        charge.amount,
        charge.currency,
        charge.description,
        JSON.stringify(charge.metadata),
      ],
    });
    return rows[0];
  }

  async find(key: KeyRef): Promise<CardKeyRecord | undefined> {
    const rows = await this.sql.query<{
      fingerprint: string;
      status: number | null;
      body: string | null;
      headers: Record<string, string> | null;
      expires_at: Date;
      recovery_point: RecoveryPoint | null;
      charge_id: string | null;
      lease_live: boolean;
      seconds_left: number;
      age_seconds: number;
    }>({ name: 'card_find_key', text: FIND_CARD_KEY_SQL, values: [key.merchantId, key.key] });
    const row = rows[0];
    if (!row) return undefined;
    return {
      fingerprint: row.fingerprint,
      recoveryPoint: row.recovery_point,
      leaseLive: row.lease_live,
      chargeId: row.charge_id,
      response: row.status === null ? undefined : { status: Number(row.status), body: row.body ?? '', headers: row.headers ?? {} },
      expiresAt: new Date(row.expires_at),
      secondsLeft: Number(row.seconds_left),
      ageSeconds: Math.max(0, Number(row.age_seconds)),
    };
  }

  /** Takes the lease of an unfinished key when it is free or expired. */
  async takeLease(key: KeyRef, token: string, leaseSeconds: number): Promise<LeasedKey | undefined> {
    const rows = await this.sql.query<LeasedRow>({
      name: 'card_take_lease',
      text: TAKE_LEASE_SQL,
      values: [key.merchantId, key.key, leaseSeconds, token],
    });
    return rows[0] && leasedOf(key.merchantId, token, rows[0]);
  }

  /** tx2; false when the lease is no longer ours. */
  async calling(key: LeasedKey, leaseSeconds: number): Promise<boolean> {
    const rows = await this.sql.query({
      name: 'card_calling',
      text: CALLING_SQL,
      values: [key.merchantId, key.key, key.token, leaseSeconds],
    });
    return rows.length > 0;
  }

  async indeterminate(key: LeasedKey, outcome: string): Promise<boolean> {
    const rows = await this.sql.query({
      name: 'card_indeterminate',
      text: INDETERMINATE_SQL,
      values: [key.merchantId, key.key, key.token, outcome],
    });
    return rows.length > 0;
  }

  async release(key: LeasedKey): Promise<void> {
    await this.sql.query({ name: 'card_release', text: RELEASE_SQL, values: [key.merchantId, key.key, key.token] });
  }

  /** tx3; undefined when the lease is no longer ours (nothing was written). */
  async finish(key: LeasedKey, finish: Finish, ttlSeconds: number): Promise<RecordTimes | undefined> {
    const rows = await this.sql.query<{ expires_at: Date; seconds_left: number }>({
      name: 'card_finish',
      text: FINISH_SQL,
      values: [
        key.merchantId,
        key.key,
        key.token,
        finish.response.status,
        finish.response.body,
        JSON.stringify(finish.response.headers),
        ttlSeconds,
        finish.outcome,
        finish.status,
        finish.acquirerPaymentId,
        finish.declineCode,
        ...finish.entryIds,
        finish.event.id,
        finish.event.type,
        JSON.stringify(finish.event.object),
      ],
    });
    return rows[0] && { expiresAt: new Date(rows[0].expires_at), secondsLeft: Number(rows[0].seconds_left) };
  }

  /** The completer's roll-back of a key at `started`; false when it was not ours or not there. */
  async rollBack(key: LeasedKey): Promise<boolean> {
    const rows = await this.sql.query({ name: 'card_roll_back', text: ROLL_BACK_SQL, values: [key.merchantId, key.key, key.token] });
    return rows.length > 0;
  }

  /** Up to `limit` unfinished keys for the completer, each leased to `tokenPrefix-<key>`. */
  async pick(graceSeconds: number, limit: number, leaseSeconds: number, tokenPrefix: string): Promise<LeasedKey[]> {
    const rows = await this.sql.query<LeasedRow & { key_merchant_id: string; lease_token: string }>({
      name: 'card_pick',
      text: PICK_SQL,
      values: [graceSeconds, limit, leaseSeconds, tokenPrefix],
    });
    return rows.map((row) => leasedOf(row.key_merchant_id, row.lease_token, row));
  }

  /** Unfinished keys by recovery point, and the age of the oldest (metrics); see CENSUS_SQL. */
  async census(): Promise<{ byPoint: Record<string, number>; oldestUnfinishedSeconds: number }> {
    const rows = await this.sql.query<{ recovery_point: string; keys: number; oldest: number | null }>({
      name: 'card_census',
      text: CENSUS_SQL,
    });
    const byPoint: Record<string, number> = { started: 0, acquirer_called: 0 };
    let oldest = 0;
    for (const row of rows) {
      byPoint[row.recovery_point] = row.keys;
      if (row.oldest !== null) oldest = Math.max(oldest, Number(row.oldest));
    }
    return { byPoint, oldestUnfinishedSeconds: oldest };
  }
}
