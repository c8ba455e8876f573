import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The foundation: merchants and their API keys, ledger accounts, deposits, charges, double-entry
 * ledger entries and idempotency records.
 *
 * Every primary and unique key of merchant-owned data starts with merchant_id, so the schema can be
 * distributed by merchant (Citus) without change. Money is bigint minor units everywhere.
 */
export class InitialSchema1732350000000 implements MigrationInterface {
  name = 'InitialSchema1732350000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE merchants (
        id          text        NOT NULL,
        name        text        NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT merchants_pkey PRIMARY KEY (id)
      )`);

    // The key itself is never stored: only its SHA-256. The key embeds the merchant id, so the
    // lookup is by (merchant_id, key_hash) and stays on the merchant's shard.
    await db.query(`
      CREATE TABLE api_keys (
        merchant_id text        NOT NULL,
        key_hash    text        NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT api_keys_pkey PRIMARY KEY (merchant_id, key_hash),
        CONSTRAINT api_keys_merchant_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id)
      )`);

    // Ledger accounts. 'customer' accounts are the wallets of the API; each merchant also gets, per
    // currency and on first use, a 'merchant_balance' account (where charges land) and an 'external'
    // account (the other side of deposits: money entering the system). System account ids contain a
    // ':' so they can never collide with a client-chosen id (^[A-Za-z0-9_-]{1,64}$).
    await db.query(`
      CREATE TABLE accounts (
        merchant_id text        NOT NULL,
        id          text        NOT NULL,
        kind        text        NOT NULL DEFAULT 'customer',
        currency    text        NOT NULL,
        name        text,
        metadata    jsonb       NOT NULL DEFAULT '{}'::jsonb,
        balance     bigint      NOT NULL DEFAULT 0,
        held        bigint      NOT NULL DEFAULT 0,
        version     integer     NOT NULL DEFAULT 1,
        seq         bigint      GENERATED ALWAYS AS IDENTITY,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT accounts_pkey PRIMARY KEY (merchant_id, id),
        CONSTRAINT accounts_merchant_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id),
        CONSTRAINT accounts_kind_check CHECK (kind IN ('customer', 'merchant_balance', 'external')),
        CONSTRAINT accounts_currency_check CHECK (currency ~ '^[a-z]{3}$'),
        CONSTRAINT accounts_held_not_negative CHECK (held >= 0),
        CONSTRAINT accounts_available_not_negative CHECK (kind <> 'customer' OR balance - held >= 0),
        -- Amounts travel as JSON numbers: keep every balance exactly representable in a double.
        CONSTRAINT accounts_balance_safe_range CHECK (balance BETWEEN -9007199254740991 AND 9007199254740991)
      )`);
    await db.query(`CREATE INDEX accounts_customer_list_idx ON accounts (merchant_id, seq) WHERE kind = 'customer'`);

    await db.query(`
      CREATE TABLE deposits (
        merchant_id text        NOT NULL,
        id          text        NOT NULL,
        account_id  text        NOT NULL,
        amount      bigint      NOT NULL,
        currency    text        NOT NULL,
        description text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT deposits_pkey PRIMARY KEY (merchant_id, id),
        CONSTRAINT deposits_account_fkey FOREIGN KEY (merchant_id, account_id) REFERENCES accounts (merchant_id, id),
        CONSTRAINT deposits_amount_check CHECK (amount BETWEEN 1 AND 100000000000)
      )`);

    await db.query(`
      CREATE TABLE charges (
        merchant_id       text        NOT NULL,
        id                text        NOT NULL,
        source_account_id text        NOT NULL,
        amount            bigint      NOT NULL,
        currency          text        NOT NULL,
        status            text        NOT NULL,
        amount_captured   bigint      NOT NULL DEFAULT 0,
        amount_refunded   bigint      NOT NULL DEFAULT 0,
        description       text,
        metadata          jsonb       NOT NULL DEFAULT '{}'::jsonb,
        seq               bigint      GENERATED ALWAYS AS IDENTITY,
        created_at        timestamptz NOT NULL DEFAULT now(),
        updated_at        timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT charges_pkey PRIMARY KEY (merchant_id, id),
        CONSTRAINT charges_source_fkey FOREIGN KEY (merchant_id, source_account_id) REFERENCES accounts (merchant_id, id),
        CONSTRAINT charges_status_check CHECK (status IN ('authorized', 'succeeded', 'canceled')),
        CONSTRAINT charges_amount_check CHECK (amount BETWEEN 1 AND 100000000000),
        CONSTRAINT charges_captured_within_amount CHECK (amount_captured BETWEEN 0 AND amount),
        CONSTRAINT charges_refunded_within_captured CHECK (amount_refunded BETWEEN 0 AND amount_captured)
      )`);
    await db.query(`CREATE INDEX charges_list_idx ON charges (merchant_id, seq)`);
    await db.query(`CREATE INDEX charges_source_list_idx ON charges (merchant_id, source_account_id, seq)`);

    // Double-entry ledger: every movement writes entries that sum to zero per currency, and each
    // account's balance equals the sum of its entries (checked by the tests after every suite).
    await db.query(`
      CREATE TABLE ledger_entries (
        merchant_id text        NOT NULL,
        id          text        NOT NULL,
        account_id  text        NOT NULL,
        amount      bigint      NOT NULL,
        currency    text        NOT NULL,
        type        text        NOT NULL,
        reference   text        NOT NULL,
        seq         bigint      GENERATED ALWAYS AS IDENTITY,
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ledger_entries_pkey PRIMARY KEY (merchant_id, id),
        CONSTRAINT ledger_entries_account_fkey FOREIGN KEY (merchant_id, account_id) REFERENCES accounts (merchant_id, id),
        CONSTRAINT ledger_entries_type_check CHECK (type IN ('deposit', 'charge', 'capture', 'refund')),
        CONSTRAINT ledger_entries_amount_not_zero CHECK (amount <> 0)
      )`);
    await db.query(`CREATE INDEX ledger_entries_account_idx ON ledger_entries (merchant_id, account_id, seq)`);

    // One row per (merchant, Idempotency-Key): the request fingerprint and the recorded response.
    // It is written in the same transaction as the request's effect. merchant_id is '_admin' for
    // requests authenticated with the admin token (POST /v1/merchants).
    await db.query(`
      CREATE TABLE idempotency_keys (
        merchant_id text        NOT NULL,
        key         text        NOT NULL,
        fingerprint text        NOT NULL,
        status      smallint    NOT NULL,
        body        text        NOT NULL,
        headers     jsonb       NOT NULL DEFAULT '{}'::jsonb,
        created_at  timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz NOT NULL,
        CONSTRAINT idempotency_keys_pkey PRIMARY KEY (merchant_id, key)
      )`);
    await db.query(`CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ['idempotency_keys', 'ledger_entries', 'charges', 'deposits', 'accounts', 'api_keys', 'merchants']) {
      await db.query(`DROP TABLE ${table}`);
    }
  }
}
