import { Injectable } from '@nestjs/common';
import { Sql, type SqlTransaction } from '../database/sql.js';
import { translateBalanceLimit } from '../ledger/ledger.errors.js';
import { addToBalanceTotalsSql, merchantBalanceAccountSql } from '../ledger/system-accounts.js';
import type { ChargeStatus } from './dto/charge.dto.js';

export interface ChargeRow {
  id: string;
  source_account_id: string;
  amount: string;
  currency: string;
  status: ChargeStatus;
  amount_captured: string;
  amount_refunded: string;
  description: string | null;
  metadata: Record<string, string>;
  created_at: Date;
  /** A card charge's (card-charges/): source_account_id is then null. */
  payment_method: string | null;
  decline_code: string | null;
}

export interface NewCharge {
  id: string;
  sourceAccountId: string;
  amount: number;
  currency: string;
  description: string | null;
  metadata: Record<string, string>;
}

/**
 * Ids of a movement's two ledger entries, made by the service: [the source account's side, the
 * merchant balance's side]. Each statement pairs them with its rows in that order (VALUES below).
 */
export type EntryIds = [string, string];

/** What the single charge statement found: the charge, or why there is none. */
export interface ChargeAttempt {
  charge: ChargeRow | undefined;
  /** The source account's currency; null when the merchant has no such account. */
  sourceCurrency: string | null;
}

const CHARGE_COLUMN_NAMES = [
  'id',
  'source_account_id',
  'amount',
  'currency',
  'status',
  'amount_captured',
  'amount_refunded',
  'description',
  'metadata',
  'created_at',
  'payment_method',
  'decline_code',
];
const CHARGE_COLUMNS = CHARGE_COLUMN_NAMES.join(', ');
/** The same columns of the charges row aliased `c` (an UPDATE ... FROM has two tables in scope). */
const CHARGE_COLUMNS_OF_C = CHARGE_COLUMN_NAMES.map((column) => `c.${column}`).join(', ');

// The source row as the statement found it, so that a charge that did not happen can be explained
// (404 / 422 / 402) without a second round trip.
const SOURCE_CTE = `source AS (
  SELECT currency FROM accounts WHERE merchant_id = $1 AND id = $2 AND kind = 'customer'
)`;

// Exactly one row whatever happened: `(SELECT 1)` is a one-row table, and each LEFT JOIN ... ON
// true adds a CTE's row when it has one and NULLs when it has none. So the caller always gets a
// row, and reads from its NULLs what did not happen (no source: 404; no charge: 422 or 402).
const ATTEMPT_RESULT = `SELECT source.currency AS source_currency, charge.*
  FROM (SELECT 1) AS one LEFT JOIN source ON true LEFT JOIN charge ON true`;

/**
 * A captured charge in one statement: debit the source only if it has the funds available
 * (guarded UPDATE: the database decides 402, no read-then-write race), write the charge and both
 * ledger entries (the credit on the merchant's append-only balance account, made on first use).
 */
const CAPTURED_CHARGE_SQL = `
WITH ${SOURCE_CTE},
debited AS (
  UPDATE accounts SET balance = balance - $4::bigint, updated_at = now()
   WHERE merchant_id = $1 AND id = $2 AND kind = 'customer' AND currency = $5 AND balance - held >= $4::bigint
  RETURNING id
), credited AS (
  INSERT INTO accounts (merchant_id, id, kind, currency, balance)
  SELECT $1, ${merchantBalanceAccountSql('$5')}, 'merchant_balance', $5, 0 FROM debited
  ON CONFLICT (merchant_id, id) DO NOTHING
), charge AS (
  INSERT INTO charges (merchant_id, id, source_account_id, amount, currency, status, amount_captured, description, metadata)
  SELECT $1, $3, $2, $4::bigint, $5, 'succeeded', $4::bigint, $6, $7::jsonb FROM debited
  RETURNING ${CHARGE_COLUMNS}
), entries AS (
  INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference)
  SELECT $1, e.id, e.account_id, e.amount, $5, 'charge', $3
    FROM debited
   CROSS JOIN LATERAL (VALUES ($8, $2, -$4::bigint), ($9, ${merchantBalanceAccountSql('$5')}, $4::bigint)) AS e (id, account_id, amount)
), totals AS (${addToBalanceTotalsSql('debited', '$5', '$4::bigint', '0')}
)
${ATTEMPT_RESULT}`;

/** An authorisation in one statement: hold the amount on the source if available, write the charge. */
const AUTHORIZED_CHARGE_SQL = `
WITH ${SOURCE_CTE},
held AS (
  UPDATE accounts SET held = held + $4::bigint, updated_at = now()
   WHERE merchant_id = $1 AND id = $2 AND kind = 'customer' AND currency = $5 AND balance - held >= $4::bigint
  RETURNING id
), charge AS (
  INSERT INTO charges (merchant_id, id, source_account_id, amount, currency, status, amount_captured, description, metadata)
  SELECT $1, $3, $2, $4::bigint, $5, 'authorized', 0, $6, $7::jsonb FROM held
  RETURNING ${CHARGE_COLUMNS}
), totals AS (${addToBalanceTotalsSql('held', '$5', '0', '$4::bigint')}
)
${ATTEMPT_RESULT}`;

/** The charge as the lifecycle statement found it (locked), so a refused transition can be explained. */
export interface TransitionAttempt<T> {
  result: T | undefined;
  /** Null when the merchant has no such charge. */
  found: { status: ChargeStatus; amount: number; amountCaptured: number; amountRefunded: number } | null;
}

interface TargetColumns {
  target_status: ChargeStatus | null;
  target_amount: string | null;
  target_captured: string | null;
  target_refunded: string | null;
}

// A lifecycle statement changes the charge only if the transition is allowed, in one UPDATE whose
// WHERE checks it, and reads the charge as `target` to explain a refusal (404, 409).
//
// Both read the statement's snapshot, taken when it started. A concurrent transition may have
// changed the charge since: READ COMMITTED then waits for it and re-checks the UPDATE's WHERE on
// the row's newest version. So the WHERE also requires the row to be still the version `target`
// read (TARGET_UNCHANGED); amounts the UPDATE derives from `target` are then right, and a row that
// changed meanwhile is left alone. The repository then locks the charge (its own statement, so the
// next one sees every committed change) and runs the statement again: the second of two concurrent
// transitions sees the first.
//
// Why not lock the row in `target` (FOR UPDATE) and join the UPDATE to it: PostgreSQL then builds
// the updated row from the version the snapshot saw, not the newest, for the columns the UPDATE
// does not set. A refund racing a capture wrote status authorized and nothing captured, which its
// CHECK refused (500).
const TARGET_CTE = `target AS (
  SELECT id, status, amount, amount_captured, amount_refunded, source_account_id, currency
    FROM charges WHERE merchant_id = $1 AND id = $2
)`;

const TARGET_UNCHANGED = `c.status = t.status AND c.amount_captured = t.amount_captured AND c.amount_refunded = t.amount_refunded`;

/** Locks the charge ($1 merchant, $2 id) so that the next statement sees its newest version. */
const LOCK_CHARGE_SQL = `SELECT 1 FROM charges WHERE merchant_id = $1 AND id = $2 FOR UPDATE`;

const TARGET_RESULT = `target.status AS target_status, target.amount AS target_amount,
       target.amount_captured AS target_captured, target.amount_refunded AS target_refunded`;

/** Capture an authorisation, fully or partly: take the captured amount, release the whole hold. */
const CAPTURE_SQL = `
WITH ${TARGET_CTE},
captured AS (
  UPDATE charges c SET status = 'succeeded', amount_captured = coalesce($3::bigint, t.amount), updated_at = now()
    FROM target t
   WHERE c.merchant_id = $1 AND c.id = t.id AND ${TARGET_UNCHANGED}
     AND t.status = 'authorized' AND coalesce($3::bigint, t.amount) <= t.amount
  RETURNING ${CHARGE_COLUMNS_OF_C}
), settled AS (
  UPDATE accounts a SET held = a.held - c.amount, balance = a.balance - c.amount_captured, updated_at = now()
    FROM captured c
   WHERE a.merchant_id = $1 AND a.id = c.source_account_id
), merchant_balance AS (
  INSERT INTO accounts (merchant_id, id, kind, currency, balance)
  SELECT $1, ${merchantBalanceAccountSql('c.currency')}, 'merchant_balance', c.currency, 0 FROM captured c
  ON CONFLICT (merchant_id, id) DO NOTHING
), entries AS (
  INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference)
  SELECT $1, e.id, e.account_id, e.amount, c.currency, 'capture', c.id
    FROM captured c
   CROSS JOIN LATERAL (VALUES ($4, c.source_account_id, -c.amount_captured),
                              ($5, ${merchantBalanceAccountSql('c.currency')}, c.amount_captured)) AS e (id, account_id, amount)
), totals AS (${addToBalanceTotalsSql('captured c', 'c.currency', 'c.amount_captured', '-c.amount')}
)
SELECT ${TARGET_RESULT}, captured.*
  FROM (SELECT 1) AS one LEFT JOIN target ON true LEFT JOIN captured ON true`;

/** Cancel an authorisation: release the hold. No money moved, so no entries. */
const CANCEL_SQL = `
WITH ${TARGET_CTE},
canceled AS (
  UPDATE charges c SET status = 'canceled', updated_at = now()
    FROM target t
   WHERE c.merchant_id = $1 AND c.id = t.id AND ${TARGET_UNCHANGED} AND t.status = 'authorized'
  RETURNING ${CHARGE_COLUMNS_OF_C}
), released AS (
  UPDATE accounts a SET held = a.held - c.amount, updated_at = now()
    FROM canceled c
   WHERE a.merchant_id = $1 AND a.id = c.source_account_id
), totals AS (${addToBalanceTotalsSql('canceled c', 'c.currency', '0', '-c.amount')}
)
SELECT ${TARGET_RESULT}, canceled.*
  FROM (SELECT 1) AS one LEFT JOIN target ON true LEFT JOIN canceled ON true`;

/**
 * Refund part or all of what is left of a captured charge: money goes back from the merchant's
 * balance to the source. The charge's amount_refunded can never pass amount_captured (checked
 * here, and by the charges_refunded_within_captured constraint).
 */
const REFUND_SQL = `
WITH ${TARGET_CTE},
refunded AS (
  UPDATE charges c SET amount_refunded = c.amount_refunded + coalesce($3::bigint, t.amount_captured - t.amount_refunded), updated_at = now()
    FROM target t
   WHERE c.merchant_id = $1 AND c.id = t.id AND ${TARGET_UNCHANGED} AND t.status = 'succeeded' AND t.source_account_id IS NOT NULL
     AND coalesce($3::bigint, t.amount_captured - t.amount_refunded) BETWEEN 1 AND t.amount_captured - t.amount_refunded
  RETURNING c.id, c.source_account_id, c.currency, coalesce($3::bigint, t.amount_captured - t.amount_refunded) AS refund_amount
), credited AS (
  UPDATE accounts a SET balance = a.balance + r.refund_amount, updated_at = now()
    FROM refunded r
   WHERE a.merchant_id = $1 AND a.id = r.source_account_id
), refund AS (
  INSERT INTO refunds (merchant_id, id, charge_id, amount, currency, reason)
  SELECT $1, $4, r.id, r.refund_amount, r.currency, $5 FROM refunded r
  RETURNING id, charge_id, amount, currency, reason, status, created_at
), entries AS (
  INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference)
  SELECT $1, e.id, e.account_id, e.amount, r.currency, 'refund', $4
    FROM refunded r
   CROSS JOIN LATERAL (VALUES ($6, r.source_account_id, r.refund_amount),
                              ($7, ${merchantBalanceAccountSql('r.currency')}, -r.refund_amount)) AS e (id, account_id, amount)
), totals AS (${addToBalanceTotalsSql('refunded r', 'r.currency', '-r.refund_amount', '0')}
)
SELECT ${TARGET_RESULT}, refund.*
  FROM (SELECT 1) AS one LEFT JOIN target ON true LEFT JOIN refund ON true`;

export interface RefundRow {
  id: string;
  charge_id: string;
  amount: string;
  currency: string;
  reason: string | null;
  status: 'succeeded';
  created_at: Date;
}

function attemptOf<T extends { id: string | null }>(row: T & TargetColumns): TransitionAttempt<T> {
  const { target_status, target_amount, target_captured, target_refunded, ...result } = row;
  return {
    result: result.id ? (result as unknown as T) : undefined,
    found:
      target_status === null
        ? null
        : {
            status: target_status,
            amount: Number(target_amount),
            amountCaptured: Number(target_captured),
            amountRefunded: Number(target_refunded),
          },
  };
}

/** $1 to $7 of both charge statements. */
function chargeParameters(merchantId: string, charge: NewCharge): unknown[] {
  return [
    merchantId,
    charge.sourceAccountId,
    charge.id,
    charge.amount,
    charge.currency,
    charge.description,
    JSON.stringify(charge.metadata),
  ];
}

@Injectable()
export class ChargesRepository {
  constructor(private readonly sql: Sql) {}

  /** A captured charge (status succeeded), or why there is none. */
  async createCaptured(tx: SqlTransaction, merchantId: string, charge: NewCharge, entryIds: EntryIds): Promise<ChargeAttempt> {
    return this.attemptCharge(tx, 'charge_captured', CAPTURED_CHARGE_SQL, [...chargeParameters(merchantId, charge), ...entryIds]);
  }

  /** An authorisation (status authorized, the amount held on the source), or why there is none. */
  async createAuthorized(tx: SqlTransaction, merchantId: string, charge: NewCharge): Promise<ChargeAttempt> {
    return this.attemptCharge(tx, 'charge_authorized', AUTHORIZED_CHARGE_SQL, chargeParameters(merchantId, charge));
  }

  private async attemptCharge(tx: SqlTransaction, name: string, sql: string, parameters: unknown[]): Promise<ChargeAttempt> {
    const rows = await tx.query<ChargeRow & { source_currency: string | null }>({ name: name, text: sql, values: parameters });
    const { source_currency: sourceCurrency, ...charged } = rows[0]!;
    return { charge: charged.id ? charged : undefined, sourceCurrency };
  }

  async capture(
    tx: SqlTransaction,
    merchantId: string,
    id: string,
    amount: number | null,
    entryIds: EntryIds,
  ): Promise<TransitionAttempt<ChargeRow>> {
    return this.transition<ChargeRow>(tx, 'charge_capture', CAPTURE_SQL, [merchantId, id, amount, ...entryIds]);
  }

  async cancel(tx: SqlTransaction, merchantId: string, id: string): Promise<TransitionAttempt<ChargeRow>> {
    return this.transition<ChargeRow>(tx, 'charge_cancel', CANCEL_SQL, [merchantId, id]);
  }

  async refund(
    tx: SqlTransaction,
    merchantId: string,
    chargeId: string,
    refund: { id: string; amount: number | null; reason: string | null; entryIds: EntryIds },
  ): Promise<TransitionAttempt<RefundRow>> {
    try {
      return await this.transition<RefundRow>(tx, 'charge_refund', REFUND_SQL, [
        merchantId,
        chargeId,
        refund.amount,
        refund.id,
        refund.reason,
        ...refund.entryIds,
      ]);
    } catch (error) {
      // The refund credits the source account, which may already hold close to the limit.
      throw translateBalanceLimit(error);
    }
  }

  /**
   * Runs a lifecycle statement ($1 merchant, $2 charge; see TARGET_CTE). A charge that exists but
   * was not changed may have been changed by a concurrent transition after the statement's snapshot:
   * lock it and run the statement again, which then decides on its newest version.
   */
  private async transition<T extends { id: string | null }>(
    tx: SqlTransaction,
    name: string,
    sql: string,
    parameters: unknown[],
  ): Promise<TransitionAttempt<T>> {
    const run = async () => attemptOf((await tx.query<T & TargetColumns>({ name: name, text: sql, values: parameters }))[0]!);
    const first = await run();
    if (first.result || !first.found) return first;
    await tx.query({ name: 'charge_lock', text: LOCK_CHARGE_SQL, values: parameters.slice(0, 2) });
    return run();
  }

  async find(merchantId: string, id: string): Promise<ChargeRow | undefined> {
    const rows = await this.sql.query<ChargeRow>({
      name: 'charge_find',
      text: `SELECT ${CHARGE_COLUMNS} FROM charges WHERE merchant_id = $1 AND id = $2`,
      values: [merchantId, id],
    });
    return rows[0];
  }

  /** Newest first, optionally from one source account; fetches limit + 1 rows. */
  async list(merchantId: string, limit: number, startingAfterSeq: string | undefined, source: string | undefined): Promise<ChargeRow[]> {
    return this.sql.query<ChargeRow>({
      name: 'charge_list',
      text: `SELECT ${CHARGE_COLUMNS} FROM charges
        WHERE merchant_id = $1
          AND ($2::text IS NULL OR source_account_id = $2)
          AND ($3::bigint IS NULL OR seq < $3::bigint)
        ORDER BY seq DESC
        LIMIT $4`,
      values: [merchantId, source ?? null, startingAfterSeq ?? null, limit + 1],
    });
  }

  async seqOf(merchantId: string, id: string): Promise<string | undefined> {
    const rows = await this.sql.query<{ seq: string }>({
      name: 'charge_seq',
      text: 'SELECT seq FROM charges WHERE merchant_id = $1 AND id = $2',
      values: [merchantId, id],
    });
    return rows[0]?.seq;
  }

  /**
   * The merchant's balance per currency, from its running totals: a few rows whatever its history.
   * Available lists the currencies the merchant has been paid in (its balance account exists);
   * pending those with authorisations open. Sums as exact decimal text: a total may pass 2^53.
   */
  async balances(
    merchantId: string,
  ): Promise<{ available: { currency: string; amount: string }[]; pending: { currency: string; amount: string }[] }> {
    const rows = await this.sql.query<{ currency: string; available: string; pending: string; paid: boolean }>({
      name: 'merchant_balances',
      text: `SELECT t.currency, sum(t.available)::text AS available, sum(t.pending)::text AS pending,
              EXISTS (SELECT 1 FROM accounts a WHERE a.merchant_id = $1 AND a.id = ${merchantBalanceAccountSql('t.currency')}) AS paid
         FROM balance_totals t
        WHERE t.merchant_id = $1
        GROUP BY t.currency ORDER BY t.currency`,
      values: [merchantId],
    });
    return {
      available: rows.filter((row) => row.paid).map((row) => ({ currency: row.currency, amount: row.available })),
      pending: rows.filter((row) => row.pending !== '0').map((row) => ({ currency: row.currency, amount: row.pending })),
    };
  }
}
