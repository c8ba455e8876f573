import { Injectable } from '@nestjs/common';
import { Sql } from '../database/sql.js';
import type { EventType } from '../events/event-types.js';

/** A delivery this worker claimed, with what it needs to send it. */
export interface ClaimedDelivery {
  merchantId: string;
  eventId: string;
  endpointId: string;
  claimToken: string;
  /** This attempt's number, from 1. */
  attempt: number;
  url: string;
  /** The endpoint's secret, then the previous one while a roll's overlap lasts. */
  secrets: string[];
  event: { id: string; type: EventType; data: Record<string, unknown>; api_version: string | null; created_at: Date };
}

interface ClaimedRow {
  merchant_id: string;
  event_id: string;
  endpoint_id: string;
  claim_token: string;
  attempts: number;
  url: string;
  secret: string;
  previous_secret: string | null;
  type: EventType;
  data: Record<string, unknown>;
  api_version: string | null;
  event_created_at: Date;
}

/** How an attempt ended, as the worker records it. */
export type AttemptOutcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; status: number | null; error: string; delayMs: number; disableAfterSeconds: number }
  | { kind: 'give_up'; status: number | null; error: string; disableAfterSeconds: number }
  | { kind: 'gone'; status: 410 };

/**
 * Due deliveries to enabled endpoints, oldest due first, claimed in one statement: locked with SKIP
 * LOCKED (two workers never take the same row, nor wait for each other), the attempt counted, and
 * next_attempt_at pushed past the attempt's timeout: that is the claim's lease. A worker that dies
 * mid-attempt leaves the row to come due again then; one that finishes records its outcome only
 * while the claim is still its own (claim_token).
 */
const CLAIM_SQL = `
WITH due AS (
  SELECT d.merchant_id, d.event_id, d.endpoint_id
    FROM webhook_deliveries d
    JOIN webhook_endpoints w ON w.merchant_id = d.merchant_id AND w.id = d.endpoint_id AND w.status = 'enabled'
   WHERE d.status = 'pending' AND d.next_attempt_at <= now()
   ORDER BY d.next_attempt_at
   LIMIT $1
     FOR UPDATE OF d SKIP LOCKED
), claimed AS (
  UPDATE webhook_deliveries d
     SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2::float8 / 1000),
         claim_token = $3 || ':' || d.attempts + 1
    FROM due
   WHERE d.merchant_id = due.merchant_id AND d.event_id = due.event_id AND d.endpoint_id = due.endpoint_id
  RETURNING d.merchant_id, d.event_id, d.endpoint_id, d.claim_token, d.attempts
)
SELECT c.merchant_id, c.event_id, c.endpoint_id, c.claim_token, c.attempts, w.url, w.secret,
       CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END AS previous_secret,
       e.type, e.data, e.api_version, e.created_at AS event_created_at
  FROM claimed c
  JOIN events e ON e.merchant_id = c.merchant_id AND e.id = c.event_id
  JOIN webhook_endpoints w ON w.merchant_id = c.merchant_id AND w.id = c.endpoint_id`;

/**
 * The attempt's outcome, only under this claim. The endpoint's failing streak starts at its first
 * failure and ends at any success; a failure after the streak has lasted `disableAfterSeconds`
 * disables the endpoint (reason failing), and 410 Gone disables it at once (reason gone).
 */
const RECORD_SQL = `
WITH attempt AS (
  UPDATE webhook_deliveries d
     SET status = CASE $5 WHEN 'delivered' THEN 'delivered' WHEN 'retry' THEN 'pending' ELSE 'failed' END,
         delivered_at = CASE WHEN $5 = 'delivered' THEN now() END,
         next_attempt_at = CASE WHEN $5 = 'retry' THEN now() + make_interval(secs => $8::float8 / 1000) ELSE d.next_attempt_at END,
         last_status = $6, last_error = $7, claim_token = NULL
   WHERE d.merchant_id = $1 AND d.event_id = $2 AND d.endpoint_id = $3 AND d.claim_token = $4
  RETURNING d.merchant_id, d.endpoint_id
), endpoint AS (
  UPDATE webhook_endpoints w
     SET failing_since = CASE WHEN $5 = 'delivered' THEN NULL ELSE coalesce(w.failing_since, now()) END,
         status = CASE
           WHEN $5 = 'gone' THEN 'disabled'
           WHEN $5 IN ('retry', 'give_up') AND w.failing_since <= now() - make_interval(secs => $9::float8) THEN 'disabled'
           ELSE w.status END,
         disabled_reason = CASE
           WHEN w.status = 'disabled' THEN w.disabled_reason
           WHEN $5 = 'gone' THEN 'gone'
           WHEN $5 IN ('retry', 'give_up') AND w.failing_since <= now() - make_interval(secs => $9::float8) THEN 'failing'
           END,
         version = CASE
           WHEN w.status = 'enabled' AND ($5 = 'gone' OR $5 IN ('retry', 'give_up') AND w.failing_since <= now() - make_interval(secs => $9::float8))
           THEN w.version + 1 ELSE w.version END,
         updated_at = now()
    FROM attempt a
   WHERE w.merchant_id = a.merchant_id AND w.id = a.endpoint_id
     AND ($5 <> 'delivered' OR w.failing_since IS NOT NULL)
  RETURNING w.status
)
SELECT (SELECT count(*) FROM attempt)::int AS recorded, (SELECT status FROM endpoint) AS endpoint_status`;

@Injectable()
export class WebhookDeliveriesRepository {
  constructor(private readonly sql: Sql) {}

  async claim(limit: number, leaseMs: number, token: string): Promise<ClaimedDelivery[]> {
    const rows = await this.sql.query<ClaimedRow>({ name: 'webhook_claim', text: CLAIM_SQL, values: [limit, leaseMs, token] });
    return rows.map((row) => ({
      merchantId: row.merchant_id,
      eventId: row.event_id,
      endpointId: row.endpoint_id,
      claimToken: row.claim_token,
      attempt: Number(row.attempts),
      url: row.url,
      secrets: row.previous_secret === null ? [row.secret] : [row.secret, row.previous_secret],
      event: { id: row.event_id, type: row.type, data: row.data, api_version: row.api_version, created_at: row.event_created_at },
    }));
  }

  /** False when the claim was no longer this worker's (its lease lapsed and another took the row, or a redelivery reset it). */
  async record(delivery: ClaimedDelivery, outcome: AttemptOutcome): Promise<{ recorded: boolean; endpointDisabled: boolean }> {
    const status = outcome.kind === 'delivered' || outcome.kind === 'gone' ? outcome.status : outcome.status;
    const error = outcome.kind === 'retry' || outcome.kind === 'give_up' ? outcome.error : null;
    const rows = await this.sql.query<{ recorded: number; endpoint_status: string | null }>({
      name: 'webhook_record',
      text: RECORD_SQL,
      values: [
        delivery.merchantId,
        delivery.eventId,
        delivery.endpointId,
        delivery.claimToken,
        outcome.kind,
        status,
        error,
        outcome.kind === 'retry' ? outcome.delayMs : 0,
        outcome.kind === 'retry' || outcome.kind === 'give_up' ? outcome.disableAfterSeconds : 0,
      ],
    });
    return { recorded: rows[0]!.recorded > 0, endpointDisabled: rows[0]!.endpoint_status === 'disabled' };
  }

  /** Pending deliveries to enabled endpoints, and the age of the oldest event among them (metrics). */
  async census(): Promise<{ queueDepth: number; oldestUndeliveredSeconds: number }> {
    const rows = await this.sql.query<{ depth: number; oldest: number | null }>({
      name: 'webhook_census',
      text: `SELECT count(*)::int AS depth, extract(epoch from clock_timestamp() - min(e.created_at))::float8 AS oldest
               FROM webhook_deliveries d
               JOIN webhook_endpoints w ON w.merchant_id = d.merchant_id AND w.id = d.endpoint_id AND w.status = 'enabled'
               JOIN events e ON e.merchant_id = d.merchant_id AND e.id = d.event_id
              WHERE d.status = 'pending'`,
    });
    return { queueDepth: rows[0]?.depth ?? 0, oldestUndeliveredSeconds: Math.max(0, Number(rows[0]?.oldest ?? 0)) };
  }
}
