import { Sql } from '../src/database/sql.js';
import pg from 'pg';
import { TestApp } from './support/test-app.js';

// The schema's half of docs/scaling.md: the database can be distributed by merchant (Citus, with
// merchant_id as the distribution column of every merchant table) because every key of merchant
// data includes merchant_id, and every statement the requests send names its merchant, so that
// each one can be routed to one shard.

/**
 * Tables that are the database's own bookkeeping, not merchant data: the migrations', the
 * ledger check's one row of state (a reference table under Citus; its sums are per merchant), and
 * the replication fences (a row per server process, written so that a commit waits for the
 * standby: under Citus, local to each node).
 */
const NOT_MERCHANT_DATA = ['schema_migrations', 'typeorm_metadata', 'ledger_check', 'replication_fences'];

interface ConstraintRow {
  table: string;
  name: string;
  type: 'p' | 'u' | 'f';
  columns: string[];
  referenced_table: string | null;
  referenced_columns: string[] | null;
}

/** The column a table is distributed by: merchant_id, or the merchant's own id in merchants. */
const distributionColumn = (table: string) => (table === 'merchants' ? 'id' : 'merchant_id');

describe('the schema, distributable by merchant', () => {
  let db: pg.Client;

  beforeAll(async () => {
    db = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await db.connect();
  });

  afterAll(() => db.end());

  async function merchantTables(): Promise<string[]> {
    const { rows } = await db.query<{ table: string }>(
      `SELECT c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND NOT (c.relname = ANY($1)) ORDER BY 1`,
      [NOT_MERCHANT_DATA],
    );
    return rows.map((row) => row.table);
  }

  it('every table of merchant data has its merchant in a column (merchant_id, or id in merchants)', async () => {
    const tables = await merchantTables();
    expect(tables).toEqual(
      expect.arrayContaining(['accounts', 'api_keys', 'balance_totals', 'batch_items', 'charges', 'deposits', 'idempotency_keys']),
    );
    const { rows } = await db.query<{ table: string; column: string }>(
      `SELECT table_name AS table, column_name AS column FROM information_schema.columns WHERE table_schema = 'public'`,
    );
    for (const table of tables) {
      expect({ table, has: rows.some((row) => row.table === table && row.column === distributionColumn(table)) }).toEqual({
        table,
        has: true,
      });
    }
  });

  it('every primary key, unique constraint, unique index and foreign key of merchant data includes merchant_id', async () => {
    const tables = await merchantTables();
    const { rows: constraints } = await db.query<ConstraintRow>(
      `SELECT t.relname AS table, k.conname AS name, k.contype AS type,
              array(SELECT a.attname FROM unnest(k.conkey) AS c(n) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = c.n)::text[] AS columns,
              r.relname AS referenced_table,
              CASE WHEN k.confrelid <> 0 THEN
                array(SELECT a.attname FROM unnest(k.confkey) AS c(n) JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = c.n)::text[]
              END AS referenced_columns
         FROM pg_constraint k
         JOIN pg_class t ON t.oid = k.conrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         LEFT JOIN pg_class r ON r.oid = k.confrelid
        WHERE n.nspname = 'public' AND k.contype IN ('p', 'u', 'f') AND t.relname = ANY($1)`,
      [tables],
    );
    expect(constraints.filter((row) => row.type === 'p').map((row) => row.table)).toEqual(expect.arrayContaining(tables));
    const offending = constraints.filter((row) => {
      if (!row.columns.includes(distributionColumn(row.table))) return true;
      if (row.type !== 'f') return false;
      // Co-located: the referenced key is the referenced table's distribution column, at the same place.
      const at = row.columns.indexOf(distributionColumn(row.table));
      return row.referenced_columns?.[at] !== distributionColumn(row.referenced_table!);
    });
    expect(offending).toEqual([]);

    const { rows: uniqueIndexes } = await db.query<{ table: string; name: string; columns: string[] }>(
      `SELECT t.relname AS table, i.relname AS name,
              array(SELECT a.attname FROM unnest(x.indkey) AS c(n) JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = c.n)::text[] AS columns
         FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = 'public' AND x.indisunique AND t.relname = ANY($1)`,
      [tables],
    );
    expect(uniqueIndexes.filter((index) => !index.columns.includes(distributionColumn(index.table)))).toEqual([]);
  });

  it('every statement of the hot path names its merchant: merchant_id = $1 (the merchant) or its literal', async () => {
    const app = await TestApp.start();
    try {
      const merchant = await app.merchant('routed');
      const tables = await merchantTables();
      const sent = recordStatements(app);

      // The requests of a merchant: its accounts, money in, charges and their lifecycle, a batch,
      // replays (from the database: a fresh instance's memory knows nothing), reads and lists.
      const source = await merchant.account(100_000);
      const upserted = await merchant.request('PUT', '/v1/accounts/routed-wallet', { body: { currency: 'usd', name: 'w' } });
      expect(upserted.status).toBe(201);
      const charge = await merchant.post('/v1/charges', { amount: 500, currency: 'usd', source }, 'routed-charge');
      const held = await merchant.post('/v1/charges', { amount: 300, currency: 'usd', source, capture: false });
      const other = await merchant.post('/v1/charges', { amount: 100, currency: 'usd', source, capture: false });
      expect((await merchant.post(`/v1/charges/${held.body.id}/capture`, { amount: 200 })).status).toBe(200);
      expect((await merchant.post(`/v1/charges/${other.body.id}/cancel`)).status).toBe(200);
      expect((await merchant.post(`/v1/charges/${charge.body.id}/refunds`, { amount: 50 })).status).toBe(201);
      expect((await merchant.post('/v1/charges/batch', { charges: [{ amount: 1, currency: 'usd', source }] })).status).toBe(200);
      expect((await merchant.post('/v1/charges', { amount: 1, currency: 'usd', source: 'no-such-account' })).status).toBe(404);
      const replay = await TestApp.start();
      try {
        const again = await replay.request('POST', '/v1/charges', {
          token: merchant.apiKey,
          body: { amount: 500, currency: 'usd', source },
          key: 'routed-charge',
        });
        expect(again.headers.get('idempotent-replayed')).toBe('true');
      } finally {
        await replay.close();
      }
      for (const path of [
        '/v1/accounts',
        `/v1/accounts/${source}`,
        `/v1/accounts/${source}/entries`,
        '/v1/charges',
        `/v1/charges/${charge.body.id}`,
        '/v1/balance',
      ]) {
        expect((await merchant.get(path)).status).toBe(200);
      }
      expect((await merchant.get(`/v1/charges?starting_after=${charge.body.id}`)).status).toBe(200);

      const statements = sent.splice(0).flatMap(({ text, values }) => splitStatements(text).map((sql) => ({ sql, values })));
      const touching = statements.filter(({ sql }) => tablesOf(sql, tables).length > 0);
      expect(touching.length).toBeGreaterThan(15);
      const unrouted = touching
        .map(({ sql, values }) => ({ sql: sql.replace(/\s+/g, ' ').slice(0, 300), why: unroutedBecause(sql, values, merchant.id, tables) }))
        .filter((statement) => statement.why !== undefined);
      expect(unrouted).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('the check above finds a statement that does not name its merchant', () => {
    const tables = ['charges', 'accounts'];
    expect(unroutedBecause('SELECT * FROM charges WHERE id = $1', ['ch_1'], 'mer_1', tables)).toBeDefined();
    expect(unroutedBecause('SELECT * FROM charges WHERE merchant_id = $1', ['mer_2'], 'mer_1', tables)).toBeDefined();
    expect(
      unroutedBecause('UPDATE charges c SET x = 1 FROM accounts a WHERE c.merchant_id = $1', ['mer_1'], 'mer_1', tables),
    ).toBeDefined();
    expect(unroutedBecause("INSERT INTO charges (merchant_id, id) VALUES ('mer_2', 'x')", [], 'mer_1', tables)).toBeDefined();
    expect(unroutedBecause('SELECT * FROM charges c WHERE c.merchant_id = $1', ['mer_1'], 'mer_1', tables)).toBeUndefined();
    expect(unroutedBecause("INSERT INTO accounts (merchant_id, id) SELECT 'mer_1', 'x'", [], 'mer_1', tables)).toBeUndefined();
  });
});

/** Every statement the application's pool sends from now on, as sent (text and parameters). */
function recordStatements(app: TestApp): { text: string; values: unknown[] }[] {
  const sent: { text: string; values: unknown[] }[] = [];
  app.app.get(Sql).watch((statement) => sent.push({ text: statement.text, values: statement.values ?? [] }));
  return sent;
}

/** The statements of an SQL text, without quoted semicolons (a statement may be several). */
function splitStatements(text: string): string[] {
  const statements: string[] = [];
  let current = '';
  let quoted = false;
  for (const char of text) {
    if (char === "'") quoted = !quoted;
    if (char === ';' && !quoted) {
      statements.push(current);
      current = '';
    } else current += char;
  }
  statements.push(current);
  return statements.map((statement) => statement.trim()).filter(Boolean);
}

function tablesOf(sql: string, tables: string[]): string[] {
  return tables.filter((table) => new RegExp(`\\b(FROM|JOIN|UPDATE|INTO)\\s+${table}\\b`, 'i').test(sql));
}

/**
 * Why a statement would not be routed to the merchant's shard, or undefined when it would: every
 * table it reads, changes or deletes from is filtered by `[alias.]merchant_id = <merchant>`, every
 * row it inserts has the merchant as its merchant_id, and <merchant> is $1 with the merchant's id
 * as its value, or the merchant's id as a literal.
 */
function unroutedBecause(sql: string, values: unknown[], merchantId: string, tables: string[]): string | undefined {
  const literal = `'${merchantId.replaceAll("'", "''")}'`;
  const merchant = `(\\$1\\b|${literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')})`;
  if (/\$1\b/.test(sql) && values[0] !== merchantId) return `$1 is ${JSON.stringify(values[0])}, not the merchant`;
  for (const table of tables) {
    for (const match of sql.matchAll(
      new RegExp(
        `\\b(FROM|JOIN|UPDATE|DELETE\\s+FROM)\\s+${table}\\b(?:\\s+(?:AS\\s+)?(?!WHERE|SET|ON|LEFT|JOIN|CROSS|ORDER|GROUP|LIMIT|FOR)(\\w+))?`,
        'gi',
      ),
    )) {
      const alias = match[2] ? `${match[2]}\\.` : '';
      const filter = new RegExp(`(^|[^\\w.])${alias}merchant_id\\s*=\\s*${merchant}`, 'i');
      if (!filter.test(sql)) return `${table}${match[2] ? ` ${match[2]}` : ''} is not filtered by merchant_id`;
    }
    for (const match of sql.matchAll(
      new RegExp(`\\bINSERT\\s+INTO\\s+${table}\\s*\\(\\s*merchant_id\\b[^)]*\\)\\s*(VALUES\\s*\\(|SELECT\\s+)\\s*([^,\\s]+)`, 'gi'),
    )) {
      if (!new RegExp(`^${merchant}$`).test(match[2]!)) return `rows inserted into ${table} have merchant_id ${match[2]}`;
    }
    if (new RegExp(`\\bINSERT\\s+INTO\\s+${table}\\s*\\((?!\\s*merchant_id\\b)`, 'i').test(sql))
      return `rows inserted into ${table} do not start with merchant_id`;
  }
  return undefined;
}
