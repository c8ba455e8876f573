import { Injectable } from '@nestjs/common';
import { Sql, type SqlTransaction } from '../database/sql.js';
import type { AuditAction } from './dto/api-key.dto.js';

export interface ApiKeyRow {
  id: string;
  name: string;
  scopes: string[] | null;
  hint: string;
  status: 'active' | 'expired' | 'revoked';
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
  rolled_from: string | null;
}

export interface AuditEventRow {
  id: string;
  action: AuditAction;
  actor: string;
  request_id: string | null;
  created_at: Date;
}

/** A key as the guard needs it: valid now, and for how long it stays so (null: no expiry). */
export interface ValidKeyRow {
  id: string;
  scopes: string[] | null;
  expires_in_ms: number | null;
}

/** Who changes a key, for its audit event. */
export interface Actor {
  /** 'admin', or the id of the API key the request came with. */
  actor: string;
  requestId: string | null;
}

/** A new key's stored fields: the secret itself is never stored. */
export interface NewKey {
  id: string;
  keyHash: string;
  hint: string;
}

export type RevokeOutcome = { revoked: ApiKeyRow; keyHash: string } | 'not found' | 'last managing key';

const COLUMNS = `id, name, scopes, hint, created_at, expires_at, last_used_at, revoked_at, rolled_from,
  CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at <= now() THEN 'expired' ELSE 'active' END AS status`;

/** Active: neither revoked nor expired (on the database's clock). */
const ACTIVE = `revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`;

/**
 * A merchant's API keys and their audit events. Keys are stored as SHA-256 hashes; the secret
 * itself leaves the service once, in the response that made it.
 */
@Injectable()
export class ApiKeysRepository {
  constructor(private readonly sql: Sql) {}

  /**
   * The guard's lookup, outside any transaction: the key when it is active, with the time it has
   * left on the database's clock. It also notes the key's use, at most once a minute (a write
   * only when the last one is older), so last_used_at never costs the request's transaction.
   */
  async findValid(merchantId: string, keyHash: string): Promise<ValidKeyRow | undefined> {
    const rows = await this.sql.query<ValidKeyRow>({
      name: 'api_key_find_valid',
      text: `WITH used AS (
         UPDATE api_keys SET last_used_at = date_trunc('minute', now())
          WHERE merchant_id = $1 AND key_hash = $2 AND ${ACTIVE}
            AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
       )
       SELECT id, scopes, (extract(epoch FROM expires_at - now()) * 1000)::float8 AS expires_in_ms
         FROM api_keys WHERE merchant_id = $1 AND key_hash = $2 AND ${ACTIVE}`,
      values: [merchantId, keyHash],
    });
    return rows[0];
  }

  /** A new key with its audit event, in the request's transaction; undefined for an unknown merchant. */
  async create(
    tx: SqlTransaction,
    merchantId: string,
    key: NewKey,
    fields: { name: string; scopes: string[] | null; expiresAt: string | null },
    by: Actor,
    eventId: string,
  ): Promise<ApiKeyRow | undefined> {
    const rows = await tx.query<ApiKeyRow>({
      name: 'api_key_create',
      text: `WITH created AS (
         INSERT INTO api_keys (merchant_id, key_hash, id, name, scopes, hint, expires_at)
         SELECT id, $2, $3, $4, $5, $6, $7 FROM merchants WHERE id = $1
         RETURNING ${COLUMNS}
       ), event AS (
         INSERT INTO audit_events (merchant_id, id, action, api_key_id, actor, request_id)
         SELECT $1, $8, 'api_key.created', id, $9, $10 FROM created
       )
       SELECT * FROM created`,
      values: [merchantId, key.keyHash, key.id, fields.name, fields.scopes, key.hint, fields.expiresAt, eventId, by.actor, by.requestId],
    });
    return rows[0];
  }

  /**
   * Rolls an active key: a new key of the same name and scopes, and the old one's expiry brought
   * forward to now + overlap (never pushed back). One statement, with both audit events. Undefined
   * when there is no such active key.
   */
  async roll(
    tx: SqlTransaction,
    merchantId: string,
    id: string,
    overlapSeconds: number,
    key: NewKey,
    by: Actor,
    eventIds: [string, string],
  ): Promise<{ created: ApiKeyRow; oldKeyHash: string } | undefined> {
    const rows = await tx.query<ApiKeyRow & { old_key_hash: string }>({
      name: 'api_key_roll',
      text: `WITH old AS (
         UPDATE api_keys
            SET expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $3))
          WHERE merchant_id = $1 AND id = $2 AND ${ACTIVE}
         RETURNING id, name, scopes, key_hash
       ), created AS (
         INSERT INTO api_keys (merchant_id, key_hash, id, name, scopes, hint, rolled_from)
         SELECT $1, $4, $5, name, scopes, $6, id FROM old
         RETURNING ${COLUMNS}
       ), events AS (
         INSERT INTO audit_events (merchant_id, id, action, api_key_id, actor, request_id)
         SELECT $1, $7, 'api_key.rolled', id, $9, $10 FROM old
         UNION ALL
         SELECT $1, $8, 'api_key.created', id, $9, $10 FROM created
       )
       SELECT created.*, old.key_hash AS old_key_hash FROM created, old`,
      values: [merchantId, id, overlapSeconds, key.keyHash, key.id, key.hint, eventIds[0], eventIds[1], by.actor, by.requestId],
    });
    const row = rows[0];
    if (!row) return undefined;
    const { old_key_hash: oldKeyHash, ...created } = row;
    return { created, oldKeyHash };
  }

  /**
   * Revokes a key (a revoked one stays as it is: revoking twice is one revocation). With
   * `keepAManager`, refuses to revoke the merchant's last active, non-expiring key that can manage
   * keys. The merchant's row is locked first (FOR NO KEY UPDATE: inserts that reference the
   * merchant are not held up), so two revocations of a merchant's last two managing keys are
   * decided one after the other, the second on a snapshot that sees the first.
   */
  async revoke(
    tx: SqlTransaction,
    merchantId: string,
    id: string,
    keepAManager: boolean,
    by: Actor,
    eventId: string,
  ): Promise<RevokeOutcome> {
    // Both statements in one round trip: the second runs once the first holds the lock, on a
    // snapshot of its own.
    const [locked, rows] = (await tx.batch([
      { name: 'merchant_lock', text: `SELECT 1 FROM merchants WHERE id = $1 FOR NO KEY UPDATE`, values: [merchantId] },
      {
        name: 'api_key_revoke',
        text: `WITH revoked AS (
         UPDATE api_keys k SET revoked_at = now()
          WHERE merchant_id = $1 AND id = $2 AND revoked_at IS NULL
            AND (NOT $3
                 -- a key that expires, or cannot manage keys, is never the last managing key
                 OR k.expires_at IS NOT NULL OR NOT (k.scopes IS NULL OR 'keys:manage' = ANY (k.scopes))
                 OR EXISTS (SELECT 1 FROM api_keys o
                             WHERE o.merchant_id = $1 AND o.id <> $2 AND o.revoked_at IS NULL AND o.expires_at IS NULL
                               AND (o.scopes IS NULL OR 'keys:manage' = ANY (o.scopes))))
         RETURNING ${COLUMNS}, key_hash
       ), event AS (
         INSERT INTO audit_events (merchant_id, id, action, api_key_id, actor, request_id)
         SELECT $1, $4, 'api_key.revoked', id, $5, $6 FROM revoked
       )
       SELECT *, false AS refused FROM revoked
       UNION ALL
       -- Not revoked now: revoked before (as it is), or refused (still active).
       SELECT ${COLUMNS}, key_hash, revoked_at IS NULL AS refused
         FROM api_keys WHERE merchant_id = $1 AND id = $2 AND NOT EXISTS (SELECT 1 FROM revoked)`,
        values: [merchantId, id, keepAManager, eventId, by.actor, by.requestId],
      },
    ])) as [unknown[], (ApiKeyRow & { key_hash: string; refused: boolean })[]];
    if (locked.length === 0) return 'not found';
    const row = rows[0];
    if (!row) return 'not found';
    const { key_hash: keyHash, refused, ...revoked } = row;
    return refused ? 'last managing key' : { revoked, keyHash };
  }

  async find(merchantId: string, id: string): Promise<(ApiKeyRow & { history: AuditEventRow[] }) | undefined> {
    const rows = await this.sql.query<ApiKeyRow & { history: (Omit<AuditEventRow, 'created_at'> & { created_at: string })[] }>({
      name: 'api_key_find',
      text: `SELECT ${COLUMNS},
              coalesce((SELECT json_agg(json_build_object('id', e.id, 'action', e.action, 'actor', e.actor,
                                                           'request_id', e.request_id, 'created_at', e.created_at) ORDER BY e.seq)
                          FROM audit_events e WHERE e.merchant_id = k.merchant_id AND e.api_key_id = k.id), '[]') AS history
         FROM api_keys k WHERE merchant_id = $1 AND id = $2`,
      values: [merchantId, id],
    });
    const row = rows[0];
    return row && { ...row, history: row.history.map((event) => ({ ...event, created_at: new Date(event.created_at) })) };
  }

  /** Newest first; `startingAfterSeq` is the cursor key's position. Fetches limit + 1 rows. */
  async list(merchantId: string, limit: number, startingAfterSeq: string | undefined): Promise<ApiKeyRow[]> {
    return this.sql.query<ApiKeyRow>({
      name: 'api_key_list',
      text: `SELECT ${COLUMNS} FROM api_keys
        WHERE merchant_id = $1 AND ($2::bigint IS NULL OR seq < $2::bigint)
        ORDER BY seq DESC
        LIMIT $3`,
      values: [merchantId, startingAfterSeq ?? null, limit + 1],
    });
  }

  async seqOf(merchantId: string, id: string): Promise<string | undefined> {
    const rows = await this.sql.query<{ seq: string }>({
      name: 'api_key_seq',
      text: `SELECT seq FROM api_keys WHERE merchant_id = $1 AND id = $2`,
      values: [merchantId, id],
    });
    return rows[0]?.seq;
  }
}
