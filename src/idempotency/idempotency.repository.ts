import { Injectable } from '@nestjs/common';
import type { HandlerResponse } from '../common/run-handler.js';
import { Sql, SqlTransaction, type Statement } from '../database/sql.js';
import { sqlState, violatedConstraint } from '../common/database-errors.js';
import { expiryAfter, isExpired, isLive, KEY_IN_USE_SQLSTATE, keyLockId, secondsLeft, secondsSinceRecorded } from './key-rules.js';

/** A response as recorded against a key, replayed byte for byte. */
export type RecordedResponse = HandlerResponse;

/** A key and its merchant. */
export interface KeyRef {
  merchantId: string;
  key: string;
}

/** A request with a key: what makes it "the same request" (request-fingerprint.ts). */
export interface KeyedCall extends KeyRef {
  fingerprint: string;
}

/** When a record was written, and until when it is kept. */
export interface RecordTimes {
  /** For the Idempotency-Expires header. */
  expiresAt: Date;
  /** How long it is still kept, by the database's clock (key-rules.ts secondsLeft). */
  secondsLeft: number;
}

/** What is kept against a key. */
export interface StoredKey extends RecordTimes {
  fingerprint: string;
  /** How long ago it was recorded (or claimed), by the database's clock: a duplicate's age. */
  ageSeconds: number;
  /** Undefined while the key is claimed by a request that records item by item and has not finished. */
  response: RecordedResponse | undefined;
  /**
   * The server commits through a synchronous standby: what it shows may not be on the standby yet
   * (see confirmOnStandby), so a replay waits for that first.
   */
  standbyConfirms: boolean;
}

/** The outcome of claiming a key for a request that records item by item. */
export type Claim = 'claimed' | 'already ours' | 'taken';

interface RecordRow {
  /** Null in a row of LOOK_AT_KEY that found no record. */
  fingerprint: string | null;
  status: number | null;
  body: string | null;
  headers: Record<string, string> | null;
  expires_at: Date;
  seconds_left: number;
  age_seconds: number;
  standby_confirms: boolean;
}

/**
 * Whether the server's commits wait for a synchronous standby. A record read there may be one the
 * standby never got: a commit is flushed on the primary before it waits for the standby, so a
 * primary restarted in place (crash recovery), or a commit whose wait was cancelled, shows it
 * before the standby has it. Empty in pg_auto_failover's wait_primary, and on a single server.
 */
const STANDBY_CONFIRMS = `current_setting('synchronous_standby_names') <> '' AS standby_confirms`;

/** The key's live record ($1 merchant, $2 key), with its times by the database's clock. */
export const FIND_RECORD: Statement = {
  name: 'idempotency_find',
  text: `SELECT r.fingerprint, r.status, r.body, r.headers, r.expires_at,
                ${secondsLeft('r')} AS seconds_left, ${secondsSinceRecorded('r')} AS age_seconds, ${STANDBY_CONFIRMS}
           FROM idempotency_keys r
          WHERE r.merchant_id = $1 AND r.key = $2 AND ${isLive('r')}`,
};

/**
 * The key's live record, and whether a request with the key is in flight: it holds the key's lock,
 * which this statement tries to take (outside a transaction, a lock taken is let go as the
 * statement ends). The one-row `(SELECT 1)` makes the answer a row whether or not a record exists.
 */
const LOOK_AT_KEY = `
  SELECT NOT pg_try_advisory_xact_lock(${keyLockId('$1', '$2')}) AS in_flight,
         r.fingerprint, r.status, r.body, r.headers, r.expires_at,
         ${secondsLeft('r')} AS seconds_left, ${secondsSinceRecorded('r')} AS age_seconds, ${STANDBY_CONFIRMS}
    FROM (SELECT 1) AS one
    LEFT JOIN idempotency_keys r ON r.merchant_id = $1 AND r.key = $2 AND ${isLive('r')}`;

/** The record of a new key's response; the key's claim removed an expired one, so a plain INSERT. */
const INSERT_RECORD = `
  INSERT INTO idempotency_keys AS r (merchant_id, key, fingerprint, status, body, headers, expires_at)
  VALUES ($1, $2, $3, $4, $5, $6, ${expiryAfter('$7')})
  RETURNING r.expires_at, ${secondsLeft('r')} AS seconds_left`;

// A claim (see claim()): a live row of the key wins; an expired one counts as absent and is replaced.
const INSERT_UNLESS_LIVE = `
  INSERT INTO idempotency_keys AS r (merchant_id, key, fingerprint, status, body, headers, expires_at)
  VALUES ($1, $2, $3, NULL, NULL, '{}', ${expiryAfter('$4')})
  ON CONFLICT (merchant_id, key) DO UPDATE
     SET fingerprint = EXCLUDED.fingerprint, status = NULL, body = NULL, headers = '{}',
         created_at = now(), expires_at = EXCLUDED.expires_at
   WHERE ${isExpired('r')}
  RETURNING r.expires_at`;

function storedKeyOf(row: RecordRow | undefined): StoredKey | undefined {
  if (!row || row.fingerprint === null) return undefined;
  const response = row.status === null ? undefined : { status: Number(row.status), body: row.body ?? '', headers: row.headers ?? {} };
  return {
    fingerprint: row.fingerprint,
    expiresAt: new Date(row.expires_at),
    secondsLeft: Number(row.seconds_left),
    ageSeconds: Math.max(0, Number(row.age_seconds)),
    response,
    standbyConfirms: row.standby_confirms === true,
  };
}

/** The idempotency records in PostgreSQL. */
@Injectable()
export class IdempotencyRepository {
  constructor(private readonly sql: Sql) {}

  /**
   * The opening of a new key's transaction, sent in one round trip with the handler's first
   * statement: the key's live record, read outside the transaction (a committed record never
   * changes before it expires, so a replay needs nothing more), then BEGIN and the key's claim
   * (idempotency_claim_key), which refuses a key in use with KEY_IN_USE_SQLSTATE and so keeps
   * every later statement of the transaction from taking effect.
   */
  async open(call: KeyRef): Promise<SqlTransaction> {
    return this.sql.begin({
      before: [{ ...FIND_RECORD, values: [call.merchantId, call.key] }],
      after: [{ name: 'idempotency_claim_key', text: 'SELECT idempotency_claim_key($1, $2)', values: [call.merchantId, call.key] }],
    });
  }

  /** What the opening's lookup found. */
  static foundAtOpening(rows: unknown[][]): StoredKey | undefined {
    return storedKeyOf(rows[0]?.[0] as RecordRow | undefined);
  }

  /** Whether the opening failed because the key is in use (in flight or recorded). */
  static refusedKey(error: unknown): boolean {
    return sqlState(error) === KEY_IN_USE_SQLSTATE;
  }

  /** The key's live record, outside any transaction: one round trip. */
  async find(key: KeyRef): Promise<StoredKey | undefined> {
    const rows = await this.sql.query<RecordRow>({ ...FIND_RECORD, values: [key.merchantId, key.key] });
    return storedKeyOf(rows[0]);
  }

  /**
   * Returns once the synchronous standby has every commit this server shows now: a transaction
   * that writes (this connection's row of replication_fences) waits at COMMIT for the standby to
   * confirm the WAL up to its commit record, and everything before it. One round trip, and the
   * standby's flush.
   */
  async confirmOnStandby(): Promise<void> {
    const tx = await this.sql.begin();
    try {
      await tx.commit([
        {
          name: 'replication_fence',
          text: `INSERT INTO replication_fences AS f (backend_pid, fenced_at) VALUES (pg_backend_pid(), now())
                 ON CONFLICT (backend_pid) DO UPDATE SET fenced_at = now()`,
        },
      ]);
    } finally {
      await tx.end();
    }
  }

  /** The key's live record, and whether a request with the key holds its lock: one round trip. */
  async look(key: KeyRef): Promise<{ stored: StoredKey | undefined; inFlight: boolean }> {
    const rows = await this.sql.query<RecordRow & { in_flight: boolean }>({
      name: 'idempotency_look',
      text: LOOK_AT_KEY,
      values: [key.merchantId, key.key],
    });
    return { stored: storedKeyOf(rows[0]), inFlight: rows[0]?.in_flight ?? false };
  }

  /**
   * Records the response as the transaction's last statement, with its COMMIT: one round trip, and
   * the effect and its record commit together or not at all. Undefined when a record of the key is
   * there all the same (the INSERT fails, which aborts the transaction, effect and all).
   */
  async recordAndCommit(
    tx: SqlTransaction,
    call: KeyedCall,
    response: RecordedResponse,
    ttlSeconds: number,
  ): Promise<RecordTimes | undefined> {
    try {
      const [rows] = await tx.commit([
        {
          name: 'idempotency_record',
          text: INSERT_RECORD,
          values: [
            call.merchantId,
            call.key,
            call.fingerprint,
            response.status,
            response.body,
            JSON.stringify(response.headers),
            ttlSeconds,
          ],
        },
      ]);
      const row = rows?.[0] as { expires_at: Date; seconds_left: number };
      return { expiresAt: new Date(row.expires_at), secondsLeft: Number(row.seconds_left) };
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
  async claim(tx: SqlTransaction, call: KeyedCall, ttlSeconds: number): Promise<Claim> {
    // The key's lock first, as every other request with the key takes it before its effect: the
    // other order (the effect's row locks, then the key) deadlocks with a single charge of the key.
    await tx.query({
      name: 'idempotency_lock_key',
      text: `SELECT pg_advisory_xact_lock(${keyLockId('$1', '$2')})`,
      values: [call.merchantId, call.key],
    });
    const inserted = await tx.query({
      name: 'idempotency_claim',
      text: INSERT_UNLESS_LIVE,
      values: [call.merchantId, call.key, call.fingerprint, ttlSeconds],
    });
    if (inserted.length > 0) return 'claimed';
    const live = await tx.query<RecordRow>({ ...FIND_RECORD, values: [call.merchantId, call.key] });
    return live[0]?.fingerprint === call.fingerprint ? 'already ours' : 'taken';
  }

  /**
   * Records the response of a request that claimed its key (see claim). Undefined when the claim
   * holds a response already (a twin run of the same request finished first) or is gone.
   */
  async complete(call: KeyedCall, response: RecordedResponse): Promise<RecordTimes | undefined> {
    const rows = await this.sql.query<{ expires_at: Date; seconds_left: number }>({
      name: 'idempotency_complete',
      text: `UPDATE idempotency_keys AS r SET status = $4, body = $5, headers = $6
              WHERE r.merchant_id = $1 AND r.key = $2 AND r.fingerprint = $3 AND r.status IS NULL AND ${isLive('r')}
             RETURNING r.expires_at, ${secondsLeft('r')} AS seconds_left`,
      values: [call.merchantId, call.key, call.fingerprint, response.status, response.body, JSON.stringify(response.headers)],
    });
    return rows[0] && { expiresAt: new Date(rows[0].expires_at), secondsLeft: Number(rows[0].seconds_left) };
  }

  /**
   * Deletes up to `batchSize` expired keys, and up to as many expired batch item records. SKIP
   * LOCKED keeps the purge out of the way of requests that are replacing an expired key right now.
   */
  /**
   * Seconds since the oldest expired record the purge would remove expired (0: none): the purge's
   * lag. Two probes of the expiry indexes, from their oldest end.
   */
  async oldestExpiredAgeSeconds(): Promise<number> {
    const rows = await this.sql.query<{ age: number | null }>({
      name: 'idempotency_oldest_expired',
      text: `SELECT extract(epoch from clock_timestamp() - least(
                (SELECT min(expires_at) FROM idempotency_keys r
                  WHERE ${isExpired('r')}
                    AND r.recovery_point IS DISTINCT FROM 'started' AND r.recovery_point IS DISTINCT FROM 'acquirer_called'),
                (SELECT min(expires_at) FROM batch_items r WHERE ${isExpired('r')})))::float8 AS age`,
    });
    return Math.max(0, rows[0]?.age ?? 0);
  }

  async purgeExpired(batchSize: number): Promise<number> {
    const rows = await this.sql.query<{ removed: number }>({
      name: 'idempotency_purge',
      text: `WITH keys AS (
         DELETE FROM idempotency_keys
          WHERE (merchant_id, key) IN (
                SELECT merchant_id, key FROM idempotency_keys r
                 WHERE ${isExpired('r')}
                   -- an unfinished card charge's key stays until it is finished (card-charges/)
                   AND r.recovery_point IS DISTINCT FROM 'started' AND r.recovery_point IS DISTINCT FROM 'acquirer_called'
                 LIMIT $1
                   FOR UPDATE SKIP LOCKED)
         RETURNING 1
       ), items AS (
         DELETE FROM batch_items
          WHERE (merchant_id, batch_key, item_index) IN (
                SELECT merchant_id, batch_key, item_index FROM batch_items r
                 WHERE ${isExpired('r')}
                 LIMIT $1
                   FOR UPDATE SKIP LOCKED)
         RETURNING 1
       )
       SELECT greatest((SELECT count(*) FROM keys), (SELECT count(*) FROM items))::int AS removed`,
      values: [batchSize],
    });
    return rows[0]?.removed ?? 0;
  }
}
