import { Injectable } from '@nestjs/common';
import { Sql, type SqlTransaction } from '../database/sql.js';
import { translateBalanceLimit } from './ledger.errors.js';
import { externalAccountSql } from './system-accounts.js';
import type { EntryType } from './dto/ledger.dto.js';

export interface DepositRow {
  id: string;
  account_id: string;
  amount: string;
  currency: string;
  description: string | null;
  created_at: Date;
}

export interface EntryRow {
  id: string;
  account_id: string;
  amount: string;
  currency: string;
  type: EntryType;
  reference: string;
  created_at: Date;
}

@Injectable()
export class LedgerRepository {
  constructor(private readonly sql: Sql) {}

  /**
   * A deposit in one statement: credit the customer account, write the deposit and both entries
   * (the other one on the merchant's external account: money entering the system). No row: no
   * such account for this merchant.
   */
  async deposit(
    tx: SqlTransaction,
    merchantId: string,
    accountId: string,
    amount: number,
    description: string | null,
    ids: { deposit: string; creditEntry: string; debitEntry: string },
  ): Promise<DepositRow | undefined> {
    let rows: DepositRow[];
    try {
      rows = await tx.query<DepositRow>({
        name: 'deposit',
        text: `WITH credited AS (
           UPDATE accounts SET balance = balance + $3::bigint, updated_at = now()
            WHERE merchant_id = $1 AND id = $2 AND kind = 'customer'
           RETURNING id, currency
         ), external AS (
           INSERT INTO accounts (merchant_id, id, kind, currency, balance)
           SELECT $1, ${externalAccountSql('currency')}, 'external', currency, 0 FROM credited
           ON CONFLICT (merchant_id, id) DO NOTHING
         ), deposit AS (
           INSERT INTO deposits (merchant_id, id, account_id, amount, currency, description)
           SELECT $1, $4, id, $3::bigint, currency, $5 FROM credited
           RETURNING id, account_id, amount, currency, description, created_at
         ), entries AS (
           INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference)
           SELECT $1, e.id, e.account_id, e.amount, credited.currency, 'deposit', $4
             FROM credited
            CROSS JOIN LATERAL (VALUES ($6, credited.id, $3::bigint),
                                       ($7, ${externalAccountSql('credited.currency')}, -$3::bigint)) AS e (id, account_id, amount)
         )
         SELECT * FROM deposit`,
        values: [merchantId, accountId, amount, ids.deposit, description, ids.creditEntry, ids.debitEntry],
      });
    } catch (error) {
      throw translateBalanceLimit(error);
    }
    return rows[0];
  }

  /** An account's entries, newest first; fetches limit + 1 rows. */
  async listEntries(merchantId: string, accountId: string, limit: number, startingAfterSeq: string | undefined): Promise<EntryRow[]> {
    return this.sql.query<EntryRow>({
      name: 'ledger_entries',
      text: `SELECT id, account_id, amount, currency, type, reference, created_at
         FROM ledger_entries
        WHERE merchant_id = $1 AND account_id = $2 AND ($3::bigint IS NULL OR seq < $3::bigint)
        ORDER BY seq DESC
        LIMIT $4`,
      values: [merchantId, accountId, startingAfterSeq ?? null, limit + 1],
    });
  }

  async entrySeq(merchantId: string, accountId: string, entryId: string): Promise<string | undefined> {
    const rows = await this.sql.query<{ seq: string }>({
      name: 'ledger_entry_seq',
      text: 'SELECT seq FROM ledger_entries WHERE merchant_id = $1 AND account_id = $2 AND id = $3',
      values: [merchantId, accountId, entryId],
    });
    return rows[0]?.seq;
  }
}
