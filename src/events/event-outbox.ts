import type { EventType } from './event-types.js';

/**
 * The event of an effect as SQL that travels with the effect: its row in `events` and one pending
 * delivery per endpoint of the merchant that is enabled and subscribed to the type (or to `*`),
 * in one statement. Every table is named with the merchant (routed by merchant: docs/scaling.md). Two data-modifying CTEs, `event` and `event_deliveries`, to put in an effect's
 * own WITH (card-charges' tx3) or to run alone (eventStatement). Arguments are SQL expressions
 * ($n parameters); `from` gates the event on the effect's CTE having a row.
 */
export function eventCtes(sql: { from?: string; merchant: string; id: string; type: string; data: string }): string {
  const source = sql.from === undefined ? '' : ` FROM ${sql.from}`;
  return `event AS (
  INSERT INTO events (merchant_id, id, type, data)
  SELECT ${sql.merchant}, ${sql.id}, ${sql.type}, ${sql.data}::json${source}
  RETURNING id, type
), event_deliveries AS (
  INSERT INTO webhook_deliveries (merchant_id, event_id, endpoint_id)
  SELECT ${sql.merchant}, e.id, w.id
    FROM event e JOIN webhook_endpoints w
      ON w.merchant_id = ${sql.merchant} AND w.status = 'enabled' AND (e.type = ANY (w.events) OR '*' = ANY (w.events))
)`;
}

/** What an effect's event holds, as the service builds it. */
export interface NewEvent {
  id: string;
  type: EventType;
  /** The object as the API answered it (a ChargeDto, a RefundDto, …). */
  object: object;
}
