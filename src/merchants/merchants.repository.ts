import { Injectable } from '@nestjs/common';
import type { SqlTransaction } from '../database/sql.js';

export interface MerchantRow {
  id: string;
  name: string;
  created_at: Date;
}

@Injectable()
export class MerchantsRepository {
  /**
   * The merchant and its first API key (hash only: an unrestricted secret key that never
   * expires, so the merchant can manage keys from the start), in one statement.
   */
  async create(tx: SqlTransaction, id: string, name: string, key: { id: string; hash: string; hint: string }): Promise<MerchantRow> {
    const rows = await tx.query<MerchantRow>({
      name: 'merchant_create',
      text: `WITH merchant AS (
         INSERT INTO merchants (id, name) VALUES ($1, $2) RETURNING id, name, created_at
       ), api_key AS (
         INSERT INTO api_keys (merchant_id, key_hash, id, name, hint) SELECT id, $3, $4, 'Secret key', $5 FROM merchant
       )
       SELECT * FROM merchant`,
      values: [id, name, key.hash, key.id, key.hint],
    });
    return rows[0]!;
  }
}
