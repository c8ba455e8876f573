import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox of events and the webhooks that deliver them (events/, webhooks/).
 *
 * events: one row per effect, written in the effect's transaction (same statement or same COMMIT),
 * `data` the object as the API answered it then. Kept 30 days (EventsPurgeService).
 *
 * webhook_endpoints: a merchant's receivers, each with the event types it wants, its signing secret
 * and, during a roll, the previous secret until `previous_secret_expires_at`.
 *
 * webhook_deliveries: one row per event and endpoint subscribed (and enabled) when the event was
 * written, in the same statement as the event: the delivery worker only claims rows, it never fans out.
 * A row is pending until delivered or given up; `next_attempt_at` is both its backoff and its lease
 * (a claim pushes it past the attempt's timeout, so a worker that dies mid-delivery leaves a row that
 * comes due again), `claim_token` lets only the claimant record the attempt's outcome.
 */
export class EventsAndWebhooks1732460000000 implements MigrationInterface {
  name = 'EventsAndWebhooks1732460000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE events (
        merchant_id text        NOT NULL,
        id          text        NOT NULL,
        seq         bigint      GENERATED ALWAYS AS IDENTITY,
        type        text        NOT NULL,
        data        json        NOT NULL,
        api_version text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT events_pkey PRIMARY KEY (merchant_id, id),
        CONSTRAINT events_merchant_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id)
      )`);
    await db.query(`CREATE INDEX events_list_idx ON events (merchant_id, seq)`);
    await db.query(`CREATE INDEX events_created_idx ON events (created_at)`);

    await db.query(`
      CREATE TABLE webhook_endpoints (
        merchant_id                text        NOT NULL,
        id                         text        NOT NULL,
        seq                        bigint      GENERATED ALWAYS AS IDENTITY,
        url                        text        NOT NULL,
        events                     text[]      NOT NULL,
        description                text,
        status                     text        NOT NULL DEFAULT 'enabled',
        disabled_reason            text,
        secret                     text        NOT NULL,
        previous_secret            text,
        previous_secret_expires_at timestamptz,
        failing_since              timestamptz,
        version                    integer     NOT NULL DEFAULT 1,
        created_at                 timestamptz NOT NULL DEFAULT now(),
        updated_at                 timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (merchant_id, id),
        CONSTRAINT webhook_endpoints_merchant_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id),
        CONSTRAINT webhook_endpoints_status_check CHECK (status IN ('enabled', 'disabled')),
        CONSTRAINT webhook_endpoints_events_check CHECK (cardinality(events) > 0)
      )`);
    await db.query(`CREATE INDEX webhook_endpoints_list_idx ON webhook_endpoints (merchant_id, seq)`);

    await db.query(`
      CREATE TABLE webhook_deliveries (
        merchant_id     text        NOT NULL,
        event_id        text        NOT NULL,
        endpoint_id     text        NOT NULL,
        status          text        NOT NULL DEFAULT 'pending',
        attempts        integer     NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        claim_token     text,
        last_status     integer,
        last_error      text,
        created_at      timestamptz NOT NULL DEFAULT now(),
        delivered_at    timestamptz,
        CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (merchant_id, event_id, endpoint_id),
        CONSTRAINT webhook_deliveries_event_fkey FOREIGN KEY (merchant_id, event_id) REFERENCES events (merchant_id, id) ON DELETE CASCADE,
        CONSTRAINT webhook_deliveries_endpoint_fkey FOREIGN KEY (merchant_id, endpoint_id)
          REFERENCES webhook_endpoints (merchant_id, id) ON DELETE CASCADE,
        CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'delivered', 'failed'))
      )`);
    await db.query(`CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`);
    await db.query(`CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (merchant_id, endpoint_id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE webhook_deliveries`);
    await db.query(`DROP TABLE webhook_endpoints`);
    await db.query(`DROP TABLE events`);
  }
}
