import { Injectable } from '@nestjs/common';
import { Sql, type SqlTransaction } from '../database/sql.js';

export interface AccountRow {
  id: string;
  currency: string;
  name: string | null;
  metadata: Record<string, string>;
  balance: string;
  held: string;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export interface AccountFields {
  currency: string;
  name: string | null;
  metadata: Record<string, string>;
}

const COLUMNS = 'id, currency, name, metadata, balance, held, version, created_at, updated_at';

/**
 * Customer accounts: what a client sets (create, upsert) and reads. Their balance and held amounts
 * change only in the money movements' single statements (deposits in the ledger repository,
 * charges, captures, cancels and refunds in the charges repository).
 */
@Injectable()
export class AccountsRepository {
  constructor(private readonly sql: Sql) {}

  async create(tx: SqlTransaction, merchantId: string, id: string, fields: AccountFields): Promise<AccountRow> {
    const rows = await tx.query<AccountRow>({
      name: 'account_create',
      text: `INSERT INTO accounts (merchant_id, id, kind, currency, name, metadata)
       VALUES ($1, $2, 'customer', $3, $4, $5)
       RETURNING ${COLUMNS}`,
      values: [merchantId, id, fields.currency, fields.name, JSON.stringify(fields.metadata)],
    });
    return rows[0]!;
  }

  /** Creates the account unless the id is taken (then undefined): the race-free half of an upsert. */
  async createIfAbsent(tx: SqlTransaction, merchantId: string, id: string, fields: AccountFields): Promise<AccountRow | undefined> {
    const rows = await tx.query<AccountRow>({
      name: 'account_create_if_absent',
      text: `INSERT INTO accounts (merchant_id, id, kind, currency, name, metadata)
       VALUES ($1, $2, 'customer', $3, $4, $5)
       ON CONFLICT (merchant_id, id) DO NOTHING
       RETURNING ${COLUMNS}`,
      values: [merchantId, id, fields.currency, fields.name, JSON.stringify(fields.metadata)],
    });
    return rows[0];
  }

  /**
   * The versioned conditional update: one statement, applied only if the version is still one of
   * `expectedVersions` (null: any). Zero rows means someone else changed it first (412).
   */
  async updateIfVersion(
    tx: SqlTransaction,
    merchantId: string,
    id: string,
    expectedVersions: number[] | null,
    fields: Omit<AccountFields, 'currency'>,
  ): Promise<AccountRow | undefined> {
    const rows = await tx.query<AccountRow>({
      name: 'account_update_if_version',
      text: `UPDATE accounts
          SET name = $3, metadata = $4, version = version + 1, updated_at = now()
        WHERE merchant_id = $1 AND id = $2 AND kind = 'customer'
          AND ($5::int[] IS NULL OR version = ANY($5::int[]))
       RETURNING ${COLUMNS}`,
      values: [merchantId, id, fields.name, JSON.stringify(fields.metadata), expectedVersions],
    });
    return rows[0];
  }

  /** Within the request's transaction (an upsert reading what it is about to change). */
  async find(tx: SqlTransaction, merchantId: string, id: string): Promise<AccountRow | undefined> {
    return this.findWith(tx, merchantId, id);
  }

  /** Outside any transaction (GET). */
  async findById(merchantId: string, id: string): Promise<AccountRow | undefined> {
    return this.findWith(this.sql, merchantId, id);
  }

  private async findWith(on: Sql | SqlTransaction, merchantId: string, id: string): Promise<AccountRow | undefined> {
    const rows = await on.query<AccountRow>({
      name: 'account_find',
      text: `SELECT ${COLUMNS} FROM accounts WHERE merchant_id = $1 AND id = $2 AND kind = 'customer'`,
      values: [merchantId, id],
    });
    return rows[0];
  }

  /** Newest first; `startingAfterSeq` is the cursor object's position. Fetches limit + 1 rows. */
  async list(merchantId: string, limit: number, startingAfterSeq: string | undefined): Promise<AccountRow[]> {
    return this.sql.query<AccountRow>({
      name: 'account_list',
      text: `SELECT ${COLUMNS} FROM accounts
        WHERE merchant_id = $1 AND kind = 'customer' AND ($2::bigint IS NULL OR seq < $2::bigint)
        ORDER BY seq DESC
        LIMIT $3`,
      values: [merchantId, startingAfterSeq ?? null, limit + 1],
    });
  }

  async seqOf(merchantId: string, id: string): Promise<string | undefined> {
    const rows = await this.sql.query<{ seq: string }>({
      name: 'account_seq',
      text: `SELECT seq FROM accounts WHERE merchant_id = $1 AND id = $2 AND kind = 'customer'`,
      values: [merchantId, id],
    });
    return rows[0]?.seq;
  }
}
