import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * API keys become a resource a merchant manages: several keys, each with an id, a name, optional
 * scopes (NULL: an unrestricted secret key, as every key made before this migration), an optional
 * expiry (a rolled key's overlap), a revocation time and a coarse last use. A hint (the key's
 * prefix and the last four characters of its secret) lets a person tell keys apart; keys made
 * before this migration have only the prefix, since their secret was never stored.
 *
 * audit_events records who created, rolled or revoked which key, when, from which request.
 */
export class ApiKeyResource1732450000000 implements MigrationInterface {
  name = 'ApiKeyResource1732450000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE api_keys
        ADD COLUMN id           text,
        ADD COLUMN name         text,
        ADD COLUMN scopes       text[],
        ADD COLUMN hint         text,
        ADD COLUMN expires_at   timestamptz,
        ADD COLUMN revoked_at   timestamptz,
        ADD COLUMN last_used_at timestamptz,
        ADD COLUMN rolled_from  text,
        ADD COLUMN seq          bigint GENERATED ALWAYS AS IDENTITY`);
    await db.query(`
      UPDATE api_keys
         SET id = 'key_' || substr(key_hash, 1, 20), name = 'Secret key', hint = 'sk_' || merchant_id || '.…'`);
    await db.query(`
      ALTER TABLE api_keys
        ALTER COLUMN id SET NOT NULL,
        ALTER COLUMN name SET NOT NULL,
        ALTER COLUMN hint SET NOT NULL,
        ADD CONSTRAINT api_keys_id_key UNIQUE (merchant_id, id),
        ADD CONSTRAINT api_keys_scopes_check CHECK (scopes IS NULL OR cardinality(scopes) > 0)`);
    await db.query(`CREATE INDEX api_keys_list_idx ON api_keys (merchant_id, seq)`);

    await db.query(`
      CREATE TABLE audit_events (
        merchant_id text        NOT NULL,
        id          text        NOT NULL,
        seq         bigint      GENERATED ALWAYS AS IDENTITY,
        action      text        NOT NULL,
        api_key_id  text        NOT NULL,
        actor       text        NOT NULL,
        request_id  text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT audit_events_pkey PRIMARY KEY (merchant_id, id),
        CONSTRAINT audit_events_merchant_fkey FOREIGN KEY (merchant_id) REFERENCES merchants (id),
        CONSTRAINT audit_events_action_check CHECK (action IN ('api_key.created', 'api_key.rolled', 'api_key.revoked'))
      )`);
    await db.query(`CREATE INDEX audit_events_key_idx ON audit_events (merchant_id, api_key_id, seq)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE audit_events`);
    await db.query(`DROP INDEX api_keys_list_idx`);
    await db.query(`
      ALTER TABLE api_keys
        DROP CONSTRAINT api_keys_scopes_check,
        DROP CONSTRAINT api_keys_id_key,
        DROP COLUMN id, DROP COLUMN name, DROP COLUMN scopes, DROP COLUMN hint, DROP COLUMN expires_at,
        DROP COLUMN revoked_at, DROP COLUMN last_used_at, DROP COLUMN rolled_from, DROP COLUMN seq`);
  }
}
