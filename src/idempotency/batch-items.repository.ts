import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import type { SqlTransaction } from '../database/sql.js';
import type { KeyedCall } from './idempotency.repository.js';
import { expiryAfter, isExpired, isLive, itemLockId } from './key-rules.js';

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
  async lockAndFind(tx: SqlTransaction, call: KeyedCall, index: number): Promise<string | undefined> {
    // Two statements, not one: a statement reads the snapshot taken when it started, so a lookup
    // in the statement that waited for the lock would miss the record the twin committed meanwhile.
    await tx.query({
      name: 'batch_item_lock',
      text: `SELECT pg_advisory_xact_lock(${itemLockId('$1', '$2', '$3')})`,
      values: [call.merchantId, call.key, index],
    });
    const rows = await tx.query<{ body: string }>({
      name: 'batch_item_find',
      text: `SELECT r.body FROM batch_items r
              WHERE r.merchant_id = $1 AND r.batch_key = $2 AND r.item_index = $3 AND r.fingerprint = $4 AND ${isLive('r')}`,
      values: [call.merchantId, call.key, index, call.fingerprint],
    });
    return rows[0]?.body;
  }

  async save(tx: SqlTransaction, call: KeyedCall, index: number, item: RecordedItem): Promise<void> {
    await tx.query({
      name: 'batch_item_save',
      text: `INSERT INTO batch_items AS r (merchant_id, batch_key, item_index, fingerprint, status, body, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, ${expiryAfter('$7')})
             ON CONFLICT (merchant_id, batch_key, item_index) DO UPDATE
                SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, body = EXCLUDED.body,
                    created_at = now(), expires_at = EXCLUDED.expires_at
              WHERE ${isExpired('r')} OR r.fingerprint <> EXCLUDED.fingerprint`,
      values: [call.merchantId, call.key, index, item.fingerprint, item.status, item.body, this.config.idempotencyTtlSeconds],
    });
  }
}
