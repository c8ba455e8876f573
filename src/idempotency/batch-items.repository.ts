import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { queryRows } from '../database/query-rows.js';

export interface RecordedItem {
  fingerprint: string;
  status: number;
  body: string;
}

/**
 * Per-item records of a request that commits item by item (ItemRunner). Each is written in the
 * same transaction as the item's effect, after taking the item's lock.
 */
@Injectable()
export class BatchItemsRepository {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /**
   * Locks the item for this transaction (waiting for a twin run of the same request that is running
   * it) and returns its recorded outcome. A record of another fingerprint is left from an earlier,
   * expired use of the key, whose claim this request has since taken: it counts as absent.
   */
  async lockAndFind(tx: EntityManager, merchantId: string, key: string, index: number, fingerprint: string): Promise<string | undefined> {
    // Two statements, not one: a statement reads the snapshot taken when it started, so a lookup
    // in the statement that waited for the lock would miss the record the twin committed meanwhile.
    await queryRows(tx, `SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(10) || $2 || chr(10) || $3, 1))`, [
      merchantId,
      key,
      index,
    ]);
    const rows = await queryRows<{ body: string }>(
      tx,
      `SELECT body FROM batch_items
        WHERE merchant_id = $1 AND batch_key = $2 AND item_index = $3 AND fingerprint = $4 AND expires_at > now()`,
      [merchantId, key, index, fingerprint],
    );
    return rows[0]?.body;
  }

  async save(tx: EntityManager, merchantId: string, key: string, index: number, item: RecordedItem): Promise<void> {
    await queryRows(
      tx,
      `INSERT INTO batch_items (merchant_id, batch_key, item_index, fingerprint, status, body, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
       ON CONFLICT (merchant_id, batch_key, item_index) DO UPDATE
          SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, body = EXCLUDED.body,
              created_at = now(), expires_at = EXCLUDED.expires_at
        WHERE batch_items.expires_at <= now() OR batch_items.fingerprint <> EXCLUDED.fingerprint`,
      [merchantId, key, index, item.fingerprint, item.status, item.body, this.config.idempotencyTtlSeconds],
    );
  }
}
