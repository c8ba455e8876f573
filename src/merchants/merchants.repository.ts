import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows.js';

export interface MerchantRow {
  id: string;
  name: string;
  created_at: Date;
}

@Injectable()
export class MerchantsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The merchant and its first API key (hash only), in one statement. */
  async create(manager: EntityManager, id: string, name: string, keyHash: string): Promise<MerchantRow> {
    const rows = await queryRows<MerchantRow>(
      manager,
      `WITH merchant AS (
         INSERT INTO merchants (id, name) VALUES ($1, $2) RETURNING id, name, created_at
       ), api_key AS (
         INSERT INTO api_keys (merchant_id, key_hash) SELECT id, $3 FROM merchant
       )
       SELECT * FROM merchant`,
      [id, name, keyHash],
    );
    return rows[0]!;
  }

  async apiKeyExists(merchantId: string, keyHash: string): Promise<boolean> {
    const rows = await queryRows(this.dataSource.manager, 'SELECT 1 FROM api_keys WHERE merchant_id = $1 AND key_hash = $2', [
      merchantId,
      keyHash,
    ]);
    return rows.length > 0;
  }
}
