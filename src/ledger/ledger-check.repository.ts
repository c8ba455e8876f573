import { Injectable } from '@nestjs/common';
import { Sql, type SqlTransaction } from '../database/sql.js';

/** The invariants the check counts violations of (testing/ledger-invariants.ts has the full-scan oracle). */
export const LEDGER_INVARIANTS = [
  'unbalanced_currencies',
  'balances_off_their_entries',
  'negative_available',
  'held_off_authorisations',
  'balance_totals_off_the_ledger',
] as const;
export type LedgerInvariant = (typeof LEDGER_INVARIANTS)[number];
export type LedgerViolations = Record<LedgerInvariant, number>;

/** Where the sums reach, and the next fold's candidate (see LedgerCheckService). */
export interface LedgerCheckState {
  foldedThrough: number;
  candidateSeq: number | null;
  /** Whether every transaction that could hold an entry up to candidateSeq had ended when asked. */
  candidateSettled: boolean;
}

/** The last run's result, shared by every instance: what /metrics exports. */
export interface LedgerCheckResult {
  checkedAt: number | null;
  durationSeconds: number | null;
  violations: Partial<LedgerViolations>;
}

/**
 * The bound on one statement of the check, server and client side. Past the first two runs (the
 * whole ledger, once read and once folded) a run reads the accounts and the recent entries only.
 */
const CHECK_STATEMENT_TIMEOUT_SECONDS = 600;

/** The one check at a time, across instances (a transaction-scoped advisory lock). */
const CHECK_LOCK = `hashtextextended('ledger_check', 0)`;

@Injectable()
export class LedgerCheckRepository {
  constructor(private readonly sql: Sql) {}

  /**
   * The state, and whether the candidate has settled: no client transaction of this database that
   * began at or before the candidate's time is still running. Asked before the check's own
   * transaction starts, so every transaction it saw ended is visible to the check's snapshot.
   */
  async state(): Promise<LedgerCheckState> {
    const rows = await this.sql.query<{ folded_through: string; candidate_seq: string | null; settled: boolean }>({
      name: 'ledger_check_state',
      text: `SELECT c.folded_through, c.candidate_seq,
                    c.candidate_at IS NOT NULL AND NOT EXISTS (
                      SELECT 1 FROM pg_stat_activity a
                       WHERE a.datname = current_database() AND a.backend_type = 'client backend'
                         AND a.pid <> pg_backend_pid() AND a.xact_start <= c.candidate_at) AS settled
               FROM ledger_check c`,
    });
    const row = rows[0];
    return {
      foldedThrough: Number(row?.folded_through ?? 0),
      candidateSeq: row?.candidate_seq === null || row === undefined ? null : Number(row.candidate_seq),
      candidateSettled: row?.settled ?? false,
    };
  }

  /**
   * The check's transaction: REPEATABLE READ, so that every statement reads one snapshot, with room
   * for the first runs on a large ledger (the request path's statement_timeout is 5 s; SET LOCAL
   * ends with the transaction, so behind a transaction pooler too). Undefined when another
   * instance is running the check.
   */
  async begin(): Promise<{ tx: SqlTransaction; state: Omit<LedgerCheckState, 'candidateSettled'> } | undefined> {
    const tx = await this.sql.begin({
      after: [
        { name: 'ledger_check_isolation', text: 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ' },
        { name: 'ledger_check_timeout', text: `SET LOCAL statement_timeout = '${CHECK_STATEMENT_TIMEOUT_SECONDS}s'` },
      ],
    });
    try {
      const rows = await tx.query<{ mine: boolean; folded_through: string; candidate_seq: string | null }>({
        name: 'ledger_check_lock',
        text: `SELECT pg_try_advisory_xact_lock(${CHECK_LOCK}) AS mine, folded_through, candidate_seq FROM ledger_check`,
      });
      const row = rows[0];
      if (!row?.mine) {
        await tx.end();
        return undefined;
      }
      return {
        tx,
        state: { foldedThrough: Number(row.folded_through), candidateSeq: row.candidate_seq === null ? null : Number(row.candidate_seq) },
      };
    } catch (error) {
      await tx.end();
      throw error;
    }
  }

  /** Adds the entries with seq in (from, through] to the accounts' sums: each ended transaction's, whole. */
  async fold(tx: SqlTransaction, from: number, through: number): Promise<void> {
    await tx.query({
      name: 'ledger_check_fold',
      text: `INSERT INTO ledger_check_sums (merchant_id, account_id, currency, total)
             SELECT merchant_id, account_id, currency, sum(amount) FROM ledger_entries
              WHERE seq > $1 AND seq <= $2 GROUP BY 1, 2, 3
             ON CONFLICT (merchant_id, account_id) DO UPDATE SET total = ledger_check_sums.total + excluded.total`,
      values: [from, through],
      timeoutMs: (CHECK_STATEMENT_TIMEOUT_SECONDS + 5) * 1000,
    });
  }

  /**
   * Every invariant, counted at the transaction's snapshot: each account's entries are its folded
   * sum plus its entries after `foldedThrough` (the table's tail, read through the BRIN index),
   * compared with the accounts, the open authorisations (a partial index) and the balance totals.
   * What it reads grows with the accounts and the tail, not with the ledger's history.
   */
  async violations(tx: SqlTransaction, foldedThrough: number): Promise<{ violations: LedgerViolations; entriesRead: number }> {
    const rows = await tx.query<Record<LedgerInvariant | 'entries_read', string>>({
      name: 'ledger_check_violations',
      text: `WITH tail AS MATERIALIZED (
               SELECT merchant_id, account_id, currency, sum(amount) AS total, count(*) AS entries
                 FROM ledger_entries WHERE seq > $1 GROUP BY 1, 2, 3),
             sums AS MATERIALIZED (
               SELECT merchant_id, account_id, currency, sum(total) AS total
                 FROM (SELECT merchant_id, account_id, currency, total FROM ledger_check_sums
                       UNION ALL SELECT merchant_id, account_id, currency, total FROM tail) s
                GROUP BY 1, 2, 3),
             open AS MATERIALIZED (
               SELECT merchant_id, source_account_id AS account_id, currency, sum(amount - amount_captured) AS pending
                 FROM charges WHERE status = 'authorized' GROUP BY 1, 2, 3),
             customers AS (
               SELECT a.balance, a.held, coalesce(s.total, 0) AS entries, coalesce(o.pending, 0) AS authorised
                 FROM accounts a
                 LEFT JOIN sums s ON s.merchant_id = a.merchant_id AND s.account_id = a.id
                 LEFT JOIN open o ON o.merchant_id = a.merchant_id AND o.account_id = a.id
                WHERE a.kind = 'customer'),
             totals AS (SELECT merchant_id, currency, sum(available) AS available, sum(pending) AS pending
                          FROM balance_totals GROUP BY 1, 2),
             ledger AS (SELECT s.merchant_id, s.currency, sum(s.total) AS available
                          FROM sums s JOIN accounts a ON a.merchant_id = s.merchant_id AND a.id = s.account_id
                         WHERE a.kind = 'merchant_balance' GROUP BY 1, 2),
             pending AS (SELECT merchant_id, currency, sum(pending) AS pending FROM open GROUP BY 1, 2)
             SELECT (SELECT count(*) FROM (SELECT 1 FROM sums GROUP BY currency HAVING sum(total) <> 0) u) AS unbalanced_currencies,
                    c.balances_off_their_entries, c.negative_available, c.held_off_authorisations,
                    (SELECT count(*)
                       FROM totals t
                       FULL JOIN ledger l ON l.merchant_id = t.merchant_id AND l.currency = t.currency
                       FULL JOIN pending p ON p.merchant_id = coalesce(t.merchant_id, l.merchant_id)
                                          AND p.currency = coalesce(t.currency, l.currency)
                      WHERE coalesce(t.available, 0) <> coalesce(l.available, 0)
                         OR coalesce(t.pending, 0) <> coalesce(p.pending, 0)) AS balance_totals_off_the_ledger,
                    (SELECT coalesce(sum(entries), 0) FROM tail) AS entries_read
               FROM (SELECT count(*) FILTER (WHERE balance <> entries) AS balances_off_their_entries,
                            count(*) FILTER (WHERE held < 0 OR balance - held < 0) AS negative_available,
                            count(*) FILTER (WHERE held <> authorised) AS held_off_authorisations
                       FROM customers) c`,
      values: [foldedThrough],
      timeoutMs: (CHECK_STATEMENT_TIMEOUT_SECONDS + 5) * 1000,
    });
    const row = rows[0]!;
    const violations = Object.fromEntries(LEDGER_INVARIANTS.map((name) => [name, Number(row[name])])) as LedgerViolations;
    return { violations, entriesRead: Number(row.entries_read) };
  }

  /**
   * Records the run and commits. `candidateSeq` undefined: the entries' sequence as it stands now,
   * with the time after it was read (every transaction holding a seq up to it began before then).
   */
  async finish(
    tx: SqlTransaction,
    run: { foldedThrough: number; keepCandidate: boolean; violations: LedgerViolations; entriesRead: number; durationSeconds: number },
  ): Promise<void> {
    await tx.commit([
      {
        name: 'ledger_check_finish',
        text: `UPDATE ledger_check
                  SET folded_through = $1,
                      candidate_seq = CASE WHEN $2 THEN candidate_seq
                                           ELSE coalesce(pg_sequence_last_value(pg_get_serial_sequence('ledger_entries', 'seq')::regclass), 0) END,
                      candidate_at = CASE WHEN $2 THEN candidate_at ELSE clock_timestamp() END,
                      checked_at = clock_timestamp(), duration_seconds = $3, entries_read = $4, violations = $5`,
        values: [run.foldedThrough, run.keepCandidate, run.durationSeconds, run.entriesRead, JSON.stringify(run.violations)],
      },
    ]);
  }

  /** The last run's result (one row, read when /metrics is scraped). */
  async lastResult(): Promise<LedgerCheckResult> {
    const rows = await this.sql.query<{
      checked_at: number | null;
      duration_seconds: number | null;
      violations: Partial<LedgerViolations>;
    }>({
      name: 'ledger_check_result',
      text: `SELECT extract(epoch from checked_at)::float8 AS checked_at, duration_seconds, violations FROM ledger_check`,
    });
    const row = rows[0];
    return { checkedAt: row?.checked_at ?? null, durationSeconds: row?.duration_seconds ?? null, violations: row?.violations ?? {} };
  }
}
