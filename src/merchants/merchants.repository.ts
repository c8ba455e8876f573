import { Injectable } from '@nestjs/common';
import { Sql, type SqlTransaction } from '../database/sql.js';

export interface MerchantRow {
  id: string;
  name: string;
  created_at: Date;
}

@Injectable()
export class MerchantsRepository {
  constructor(private readonly sql: Sql) {}

  /** The merchant and its first API key (hash only), in one statement. */
  async create(tx: SqlTransaction, id: string, name: string, keyHash: string): Promise<MerchantRow> {
    const rows = await tx.query<MerchantRow>({
      name: 'merchant_create',
      text: `WITH merchant AS (
         INSERT INTO merchants (id, name) VALUES ($1, $2) RETURNING id, name, created_at
       ), api_key AS (
         INSERT INTO api_keys (merchant_id, key_hash) SELECT id, $3 FROM merchant
       )
       SELECT * FROM merchant`,
      values: [id, name, keyHash],
    });
    return rows[0]!;
  }

  async apiKeyExists(merchantId: string, keyHash: string): Promise<boolean> {
    const rows = await this.sql.query({
      name: 'api_key_exists',
      text: 'SELECT 1 FROM api_keys WHERE merchant_id = $1 AND key_hash = $2',
      values: [merchantId, keyHash],
    });
    return rows.length > 0;
  }
}
