import { Injectable } from '@nestjs/common';
import { Sql, type SqlTransaction } from '../database/sql.js';
import type { DisabledReason, EndpointStatus, Subscription } from './dto/webhook-endpoint.dto.js';

export interface EndpointRow {
  id: string;
  url: string;
  events: Subscription[];
  description: string | null;
  status: EndpointStatus;
  disabled_reason: DisabledReason | null;
  secret: string;
  previous_secret_expires_at: Date | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export interface EndpointChanges {
  url: string | undefined;
  events: Subscription[] | undefined;
  /** undefined: unchanged; null: cleared. */
  description: string | null | undefined;
  status: EndpointStatus | undefined;
}

// The previous secret counts only until it expires: past that, it reads as none.
const COLUMNS = `id, url, events, description, status, disabled_reason, secret,
  CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END AS previous_secret_expires_at,
  version, created_at, updated_at`;

@Injectable()
export class WebhookEndpointsRepository {
  constructor(private readonly sql: Sql) {}

  async create(
    tx: SqlTransaction,
    merchantId: string,
    endpoint: { id: string; url: string; events: Subscription[]; description: string | null; secret: string },
  ): Promise<EndpointRow> {
    const rows = await tx.query<EndpointRow>({
      name: 'webhook_endpoint_create',
      text: `INSERT INTO webhook_endpoints (merchant_id, id, url, events, description, secret)
        VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      values: [merchantId, endpoint.id, endpoint.url, endpoint.events, endpoint.description, endpoint.secret],
    });
    return rows[0]!;
  }

  async find(merchantId: string, id: string): Promise<EndpointRow | undefined> {
    return this.findWith(this.sql, merchantId, id);
  }

  async findIn(tx: SqlTransaction, merchantId: string, id: string): Promise<EndpointRow | undefined> {
    return this.findWith(tx, merchantId, id);
  }

  private async findWith(on: Sql | SqlTransaction, merchantId: string, id: string): Promise<EndpointRow | undefined> {
    const rows = await on.query<EndpointRow>({
      name: 'webhook_endpoint_find',
      text: `SELECT ${COLUMNS} FROM webhook_endpoints WHERE merchant_id = $1 AND id = $2`,
      values: [merchantId, id],
    });
    return rows[0];
  }

  /** Newest first; fetches limit + 1 rows. */
  async list(merchantId: string, limit: number, startingAfterSeq: string | undefined): Promise<EndpointRow[]> {
    return this.sql.query<EndpointRow>({
      name: 'webhook_endpoint_list',
      text: `SELECT ${COLUMNS} FROM webhook_endpoints
        WHERE merchant_id = $1 AND ($2::bigint IS NULL OR seq < $2::bigint)
        ORDER BY seq DESC LIMIT $3`,
      values: [merchantId, startingAfterSeq ?? null, limit + 1],
    });
  }

  async seqOf(merchantId: string, id: string): Promise<string | undefined> {
    const rows = await this.sql.query<{ seq: string }>({
      name: 'webhook_endpoint_seq',
      text: 'SELECT seq FROM webhook_endpoints WHERE merchant_id = $1 AND id = $2',
      values: [merchantId, id],
    });
    return rows[0]?.seq;
  }

  /**
   * The versioned update: applied only while the version is one of `expectedVersions` (null: any).
   * Enabling clears the reason and the failing streak; disabling records 'requested'.
   */
  async updateIfVersion(
    tx: SqlTransaction,
    merchantId: string,
    id: string,
    expectedVersions: number[] | null,
    changes: EndpointChanges,
  ): Promise<EndpointRow | undefined> {
    const rows = await tx.query<EndpointRow>({
      name: 'webhook_endpoint_update',
      text: `UPDATE webhook_endpoints
          SET url = coalesce($3, url), events = coalesce($4, events),
              description = CASE WHEN $5 THEN $6 ELSE description END,
              status = coalesce($7, status),
              disabled_reason = CASE $7 WHEN 'enabled' THEN NULL WHEN 'disabled' THEN 'requested' ELSE disabled_reason END,
              failing_since = CASE WHEN $7 = 'enabled' THEN NULL ELSE failing_since END,
              version = version + 1, updated_at = now()
        WHERE merchant_id = $1 AND id = $2 AND ($8::int[] IS NULL OR version = ANY ($8::int[]))
        RETURNING ${COLUMNS}`,
      values: [
        merchantId,
        id,
        changes.url ?? null,
        changes.events ?? null,
        changes.description !== undefined,
        changes.description ?? null,
        changes.status ?? null,
        expectedVersions,
      ],
    });
    return rows[0];
  }

  /** A new secret; the current one keeps signing until `overlapSeconds` from now (0: it stops). */
  async rollSecret(
    tx: SqlTransaction,
    merchantId: string,
    id: string,
    secret: string,
    overlapSeconds: number,
  ): Promise<EndpointRow | undefined> {
    const rows = await tx.query<EndpointRow>({
      name: 'webhook_endpoint_roll_secret',
      text: `UPDATE webhook_endpoints
          SET previous_secret = CASE WHEN $4::int > 0 THEN secret END,
              previous_secret_expires_at = CASE WHEN $4::int > 0 THEN now() + make_interval(secs => $4::int) END,
              secret = $3, version = version + 1, updated_at = now()
        WHERE merchant_id = $1 AND id = $2
        RETURNING ${COLUMNS}`,
      values: [merchantId, id, secret, overlapSeconds],
    });
    return rows[0];
  }

  /** Deletes the endpoint and its deliveries; false when there was none. */
  async delete(tx: SqlTransaction, merchantId: string, id: string): Promise<boolean> {
    const rows = await tx.query({
      name: 'webhook_endpoint_delete',
      text: 'DELETE FROM webhook_endpoints WHERE merchant_id = $1 AND id = $2 RETURNING 1',
      values: [merchantId, id],
    });
    return rows.length > 0;
  }
}
