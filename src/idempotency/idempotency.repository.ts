import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { preparedRows, queryRows } from '../database/query-rows.js';
import type { FusedTransaction } from '../database/transaction.js';
import type { PipelinedStatement } from '../database/pipeline.js';
import { sqlState, violatedConstraint } from '../common/database-errors.js';

/** A response as recorded against a key, replayed byte for byte. */
export interface RecordedResponse {
  status: number;
  body: string;
  /** content-type, and location / etag where the first response had them. */
  headers: Record<string, string>;
}

/** What is kept against a key. */
export interface StoredKey {
  fingerprint: string;
  /** When the key was recorded (or claimed): a duplicate's age is measured from it. */
  createdAt: Date;
  expiresAt: Date;
  /** Undefined while the key is claimed by a request that records item by item and has not finished. */
  response: RecordedResponse | undefined;
}

export interface KeyLock {
  /** False while another transaction holds the key (a request with it is in flight). */
  locked: boolean;
  stored: StoredKey | undefined;
}

/** When a record was written, and until when it is kept. */
export interface RecordTimes {
  createdAt: Date;
  expiresAt: Date;
}

/** The outcome of claiming a key for a request that records item by item. */
export type Claim = 'claimed' | 'already ours' | 'taken';

/** A key's record as read, or a row of NULLs when there is none (the lookup's LEFT JOIN). */
interface RecordRow {
  fingerprint: string | null;
  status: number | null;
  body: string | null;
  headers: Record<string, string> | null;
  created_at: Date | null;
  expires_at: Date | null;
}

interface LockRow extends RecordRow {
  locked: boolean;
}

/**
 * The advisory lock of the key ($1 merchant, $2 key) that a request holds while it runs. The
 * database function idempotency_open_key takes the same lock (migrations/…IdempotencyOpenKey).
 */
export const KEY_LOCK_ID = 'hashtextextended($1 || chr(10) || $2, 0)';

/** The SQLSTATE with which idempotency_open_key refuses a key that is in flight or recorded. */
export const KEY_IN_USE_SQLSTATE = 'IK409';

/**
 * One round trip: take the key's transaction-scoped advisory lock (without waiting) and read what
 * is recorded for it. The lock makes a concurrent request with the same key answer "in progress"
 * instead of queueing on a row lock; the primary key is the final guard. The one-row `(SELECT 1)`
 * makes the answer a row whether or not a record exists. Whoever gets the lock also removes an
 * expired record of the key (the key is new again), as idempotency_open_key does: the record's
 * insert then needs no DELETE of its own. (A CTE that calls a volatile function is evaluated once.)
 */
const lockAndFindSql = (merchant: string, key: string) =>
  `WITH key_lock AS (
     SELECT pg_try_advisory_xact_lock(hashtextextended(${merchant} || chr(10) || ${key}, 0)) AS locked
   ), dropped_expired AS (
     DELETE FROM idempotency_keys
      WHERE merchant_id = ${merchant} AND key = ${key} AND expires_at <= now() AND (SELECT locked FROM key_lock)
   )
   SELECT (SELECT locked FROM key_lock) AS locked, r.fingerprint, r.status, r.body, r.headers, r.created_at, r.expires_at
     FROM (SELECT 1) AS one
     LEFT JOIN idempotency_keys r ON r.merchant_id = ${merchant} AND r.key = ${key} AND r.expires_at > now()`;

function keyLockOf(row: LockRow | undefined): KeyLock {
  return { locked: row?.locked ?? false, stored: storedKeyOf(row) };
}

function storedKeyOf(row: RecordRow | undefined): StoredKey | undefined {
  if (!row || row.fingerprint === null) return undefined;
  const response = row.status === null ? undefined : { status: Number(row.status), body: row.body ?? '', headers: row.headers ?? {} };
  return {
    fingerprint: row.fingerprint,
    createdAt: new Date(row.created_at ?? Date.now()),
    expiresAt: new Date(row.expires_at ?? Date.now()),
    response,
  };
}

const INSERT_RECORD = `
  INSERT INTO idempotency_keys (merchant_id, key, fingerprint, status, body, headers, expires_at)
  VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
  RETURNING created_at, expires_at`;

// A claim (see claim()): a live row of the key wins; an expired one counts as absent (the key is
// new again) and is replaced.
const INSERT_UNLESS_LIVE = `
  INSERT INTO idempotency_keys (merchant_id, key, fingerprint, status, body, headers, expires_at)
  VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
  ON CONFLICT (merchant_id, key) DO UPDATE
     SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, body = EXCLUDED.body,
         headers = EXCLUDED.headers, created_at = now(), expires_at = EXCLUDED.expires_at
   WHERE idempotency_keys.expires_at <= now()
  RETURNING expires_at`;

@Injectable()
export class IdempotencyRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * One round trip: take the key's transaction-scoped advisory lock (without waiting) and read
   * what is recorded for it. The lock makes a concurrent request with the same key answer
   * "in progress" instead of queueing on a row lock; the primary key is the final guard.
   */
  async lockAndFind(manager: EntityManager, merchantId: string, key: string): Promise<KeyLock> {
    const rows = await preparedRows<LockRow>(manager, 'idempotency_lock_and_find', lockAndFindSql('$1', '$2'), [merchantId, key]);
    return keyLockOf(rows[0]);
  }

  /** lockAndFind as the first statement of a fused transaction: one round trip with its BEGIN. */
  async beginAndLockAndFind(transaction: FusedTransaction, merchantId: string, key: string): Promise<KeyLock> {
    const [, rows] = await transaction.send(`BEGIN; ${lockAndFindSql(transaction.literal(merchantId), transaction.literal(key))}`);
    return keyLockOf(rows?.[0] as LockRow | undefined);
  }

  /**
   * After the key's opening refused it (KEY_IN_USE_SQLSTATE): roll the aborted transaction back
   * and read the key's live record, in one round trip. No lock: a recorded answer is replayed
   * whoever holds it. Undefined when there is none (the key's request is still in flight).
   */
  async rollbackAndFind(transaction: FusedTransaction, merchantId: string, key: string): Promise<StoredKey | undefined> {
    const [merchant, keyText] = [transaction.literal(merchantId), transaction.literal(key)];
    const [, rows] = await transaction.send(
      `ROLLBACK; SELECT fingerprint, status, body, headers, created_at, expires_at
                   FROM idempotency_keys WHERE merchant_id = ${merchant} AND key = ${keyText} AND expires_at > now()`,
    );
    return storedKeyOf(rows?.[0] as RecordRow | undefined);
  }

  /**
   * BEGIN and the key's opening, to go out with the handler's first statement (FusedTransaction
   * openWith): the opening fails with KEY_IN_USE_SQLSTATE when the key is in flight or recorded,
   * and the server then skips the handler's statement.
   */
  openingStatements(merchantId: string, key: string): PipelinedStatement[] {
    return [
      { name: 'begin', text: 'BEGIN' },
      { name: 'idempotency_open_key', text: 'SELECT idempotency_open_key($1, $2)', values: [merchantId, key] },
    ];
  }

  /**
   * Records the response in the request's transaction, as its last statements, with its COMMIT: one
   * round trip, and the effect and its record commit together or not at all. An expired record of
   * the key is gone already: the key's opening or lookup removed it under the key's lock. Returns
   * the expiry, or undefined when a record of the key is there all the same: then the INSERT fails
   * (no ON CONFLICT here), which aborts the transaction and skips the COMMIT, effect and all, and
   * the caller looks the key up again.
   */
  async recordAndCommit(
    transaction: FusedTransaction,
    merchantId: string,
    key: string,
    fingerprint: string,
    response: RecordedResponse,
    ttlSeconds: number,
  ): Promise<RecordTimes | undefined> {
    try {
      const [inserted] = await transaction.pipeline([
        {
          name: 'idempotency_record',
          text: INSERT_RECORD,
          values: [merchantId, key, fingerprint, response.status, response.body, JSON.stringify(response.headers), ttlSeconds],
        },
        { name: 'commit', text: 'COMMIT' },
      ]);
      return { createdAt: new Date(inserted?.[0]?.created_at as Date), expiresAt: new Date(inserted?.[0]?.expires_at as Date) };
    } catch (error) {
      if (sqlState(error) === '23505' && violatedConstraint(error) === 'idempotency_keys_pkey') return undefined;
      throw error;
    }
  }

  /**
   * Claims the key, with no response yet, in the transaction of a request's first effect (an item
   * of a batch), so the claim commits with that effect or not at all. 'already ours': a run of
   * the same request (same fingerprint) claimed it earlier. 'taken': another request holds it.
   */
  async claim(tx: EntityManager, merchantId: string, key: string, fingerprint: string, ttlSeconds: number): Promise<Claim> {
    // The key's lock first, as every other request with the key takes it before its effect: the
    // other order (the effect's row locks, then the key) deadlocks with a single charge of the key.
    await queryRows(tx, `SELECT pg_advisory_xact_lock(${KEY_LOCK_ID})`, [merchantId, key]);
    const inserted = await preparedRows<{ expires_at: Date }>(tx, 'idempotency_claim', INSERT_UNLESS_LIVE, [
      merchantId,
      key,
      fingerprint,
      null,
      null,
      '{}',
      ttlSeconds,
    ]);
    if (inserted.length > 0) return 'claimed';
    const live = await queryRows<{ fingerprint: string }>(
      tx,
      `SELECT fingerprint FROM idempotency_keys WHERE merchant_id = $1 AND key = $2 AND expires_at > now()`,
      [merchantId, key],
    );
    return live[0]?.fingerprint === fingerprint ? 'already ours' : 'taken';
  }

  /**
   * Records the response of a request that claimed its key (see claim). Returns the expiry, or
   * undefined when the claim holds a response already (a twin run of the same request finished
   * first) or is gone.
   */
  async complete(
    manager: EntityManager,
    merchantId: string,
    key: string,
    fingerprint: string,
    response: RecordedResponse,
  ): Promise<RecordTimes | undefined> {
    const rows = await queryRows<{ created_at: Date; expires_at: Date }>(
      manager,
      `UPDATE idempotency_keys SET status = $4, body = $5, headers = $6
        WHERE merchant_id = $1 AND key = $2 AND fingerprint = $3 AND status IS NULL AND expires_at > now()
       RETURNING created_at, expires_at`,
      [merchantId, key, fingerprint, response.status, response.body, JSON.stringify(response.headers)],
    );
    return rows[0] && { createdAt: rows[0].created_at, expiresAt: rows[0].expires_at };
  }

  /**
   * Deletes up to `batchSize` expired keys, and up to as many expired batch item records. SKIP
   * LOCKED keeps the purge out of the way of requests that are replacing an expired key right now.
   */
  async purgeExpired(batchSize: number): Promise<number> {
    const rows = await queryRows<{ removed: number }>(
      this.dataSource.manager,
      `WITH keys AS (
         DELETE FROM idempotency_keys
          WHERE (merchant_id, key) IN (
                SELECT merchant_id, key FROM idempotency_keys
                 WHERE expires_at <= now()
                 LIMIT $1
                   FOR UPDATE SKIP LOCKED)
         RETURNING 1
       ), items AS (
         DELETE FROM batch_items
          WHERE (merchant_id, batch_key, item_index) IN (
                SELECT merchant_id, batch_key, item_index FROM batch_items
                 WHERE expires_at <= now()
                 LIMIT $1
                   FOR UPDATE SKIP LOCKED)
         RETURNING 1
       )
       SELECT greatest((SELECT count(*) FROM keys), (SELECT count(*) FROM items))::int AS removed`,
      [batchSize],
    );
    return rows[0]?.removed ?? 0;
  }
}
