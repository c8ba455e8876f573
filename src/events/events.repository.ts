import { Injectable } from '@nestjs/common';
import { Sql, type SqlTransaction } from '../database/sql.js';
import { eventCtes, type NewEvent } from './event-outbox.js';
import type { EventType } from './event-types.js';

export interface EventRow {
  id: string;
  type: EventType;
  data: Record<string, unknown>;
  api_version: string | null;
  created_at: Date;
}

const COLUMNS = 'id, type, data, api_version, created_at';

const RECORD_EVENT_SQL = `WITH ${eventCtes({ merchant: '$1', id: '$2', type: '$3', data: '$4' })}
SELECT 1`;

export interface EventFilter {
  type: EventType | undefined;
  createdGte: string | undefined;
  createdLt: string | undefined;
}

@Injectable()
export class EventsRepository {
  constructor(private readonly sql: Sql) {}

  /**
   * The event and its deliveries, sent with the transaction's COMMIT: it commits with the effect or
   * not at all, and costs the request a statement, not a round trip.
   */
  recordWithCommit(tx: SqlTransaction, merchantId: string, event: NewEvent): void {
    tx.sendWithCommit({
      name: 'event_record',
      text: RECORD_EVENT_SQL,
      values: [merchantId, event.id, event.type, JSON.stringify(event.object)],
    });
  }

  async find(merchantId: string, id: string): Promise<EventRow | undefined> {
    const rows = await this.sql.query<EventRow>({
      name: 'event_find',
      text: `SELECT ${COLUMNS} FROM events WHERE merchant_id = $1 AND id = $2`,
      values: [merchantId, id],
    });
    return rows[0];
  }

  /** Newest first; fetches limit + 1 rows. */
  async list(merchantId: string, limit: number, startingAfterSeq: string | undefined, filter: EventFilter): Promise<EventRow[]> {
    return this.sql.query<EventRow>({
      name: 'event_list',
      text: `SELECT ${COLUMNS} FROM events
        WHERE merchant_id = $1
          AND ($2::bigint IS NULL OR seq < $2::bigint)
          AND ($3::text IS NULL OR type = $3)
          AND ($4::timestamptz IS NULL OR created_at >= $4::timestamptz)
          AND ($5::timestamptz IS NULL OR created_at < $5::timestamptz)
        ORDER BY seq DESC
        LIMIT $6`,
      values: [merchantId, startingAfterSeq ?? null, filter.type ?? null, filter.createdGte ?? null, filter.createdLt ?? null, limit + 1],
    });
  }

  async seqOf(merchantId: string, id: string): Promise<string | undefined> {
    const rows = await this.sql.query<{ seq: string }>({
      name: 'event_seq',
      text: 'SELECT seq FROM events WHERE merchant_id = $1 AND id = $2',
      values: [merchantId, id],
    });
    return rows[0]?.seq;
  }

  /**
   * The event sent again: a pending delivery, due now with a fresh schedule, to each enabled
   * endpoint subscribed to its type (or only to `endpointId`). Undefined: no such event.
   */
  async redeliver(tx: SqlTransaction, merchantId: string, id: string, endpointId: string | null): Promise<string[] | undefined> {
    const rows = await tx.query<{ found: boolean; endpoint_id: string | null }>({
      name: 'event_redeliver',
      text: `WITH e AS (
          SELECT merchant_id, id, type FROM events WHERE merchant_id = $1 AND id = $2
        ), again AS (
          INSERT INTO webhook_deliveries AS d (merchant_id, event_id, endpoint_id)
          SELECT e.merchant_id, e.id, w.id
            FROM e JOIN webhook_endpoints w
              ON w.merchant_id = e.merchant_id AND w.status = 'enabled'
             AND ($3::text IS NULL AND (e.type = ANY (w.events) OR '*' = ANY (w.events)) OR w.id = $3)
          ON CONFLICT (merchant_id, event_id, endpoint_id) DO UPDATE
             SET status = 'pending', attempts = 0, next_attempt_at = now(), claim_token = NULL, created_at = now(), delivered_at = NULL
          RETURNING d.endpoint_id
        )
        SELECT EXISTS (SELECT 1 FROM e) AS found, again.endpoint_id
          FROM (SELECT 1) AS one LEFT JOIN again ON true`,
      values: [merchantId, id, endpointId],
    });
    if (!rows[0]?.found) return undefined;
    return rows.flatMap((row) => (row.endpoint_id === null ? [] : [row.endpoint_id])).sort();
  }

  /** Events older than the retention, in a batch (their deliveries go with them); how many. */
  async purgeOlderThan(retentionSeconds: number, batchSize: number): Promise<number> {
    const rows = await this.sql.query<{ removed: number }>({
      name: 'event_purge',
      text: `WITH gone AS (
          DELETE FROM events
           WHERE (merchant_id, id) IN (
                 SELECT merchant_id, id FROM events
                  WHERE created_at < now() - make_interval(secs => $1)
                  LIMIT $2
                    FOR UPDATE SKIP LOCKED)
          RETURNING 1
        )
        SELECT count(*)::int AS removed FROM gone`,
      values: [retentionSeconds, batchSize],
    });
    return rows[0]?.removed ?? 0;
  }
}
