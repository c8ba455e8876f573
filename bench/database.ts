import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { sqlState } from '../src/common/database-errors.js';

const execFileAsync = promisify(execFile);
const PGBENCH_DATABASE = 'pgbench_bench';

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** libpq's environment for `url`, so the password is in neither pgbench's argv nor its errors. */
function libpqEnv(url: string): NodeJS.ProcessEnv {
  const parsed = new URL(url);
  return {
    ...process.env,
    PGHOST: parsed.hostname,
    PGPORT: parsed.port || '5432',
    PGUSER: decodeURIComponent(parsed.username),
    PGPASSWORD: decodeURIComponent(parsed.password),
    PGDATABASE: decodeURIComponent(parsed.pathname.slice(1)),
  };
}

/** Runs statements on the database at `url`, one after the other, with the parameters each names. */
export async function sql(url: string, statements: string[], parameters: unknown[] = []): Promise<pg.QueryResult[]> {
  const client = new pg.Client({ connectionString: url, statement_timeout: 0 });
  await client.connect();
  try {
    const results: pg.QueryResult[] = [];
    for (const statement of statements) {
      // Each statement gets the parameters it names ($1 … $n), no more: PostgreSQL refuses extras.
      const used = Math.max(0, ...[...statement.matchAll(/\$(\d+)/g)].map((match) => Number(match[1])));
      results.push(await client.query(statement, parameters.slice(0, used)));
    }
    return results;
  } finally {
    await client.end();
  }
}

export interface PgbenchResult {
  tps: number;
  transactions: number;
  meanMs: number;
  p99Ms: number;
}

/** The reference: pgbench's TPC-B on a scale-1 database of the same server. */
export class Pgbench {
  private constructor(private readonly serverUrl: string) {}

  static async prepare(serverUrl: string): Promise<Pgbench> {
    const maintenance = withDatabase(serverUrl, 'postgres');
    await sql(maintenance, [`DROP DATABASE IF EXISTS ${PGBENCH_DATABASE} WITH (FORCE)`, `CREATE DATABASE ${PGBENCH_DATABASE}`]);
    await execFileAsync('pgbench', ['-i', '-s', '1', '-q'], { env: libpqEnv(withDatabase(serverUrl, PGBENCH_DATABASE)) });
    return new Pgbench(serverUrl);
  }

  /**
   * TPC-B transactions per second, how many ran, their mean latency (pgbench's own figure) and
   * their p99 (from pgbench's log of every transaction): `-c connections -j 2 -M prepared`, as long
   * as a service phase. The p99 says what the server itself takes at that concurrency: a service's
   * p99 cannot be below it for long.
   */
  async run(seconds: number, connections: number): Promise<PgbenchResult> {
    const logs = await mkdtemp(path.join(tmpdir(), 'pgbench-log-'));
    try {
      const args = ['-c', String(connections), '-j', String(Math.min(2, connections)), '-M', 'prepared', '-T', String(seconds), '-n'];
      args.push('--log', `--log-prefix=${path.join(logs, 'tx')}`);
      const { stdout } = await execFileAsync('pgbench', args, { env: libpqEnv(withDatabase(this.serverUrl, PGBENCH_DATABASE)) });
      const tps = /^tps = ([\d.]+) \(without initial connection time\)$/m.exec(stdout)?.[1];
      const transactions = /^number of transactions actually processed: (\d+)/m.exec(stdout)?.[1];
      const meanMs = /^latency average = ([\d.]+) ms$/m.exec(stdout)?.[1];
      if (tps === undefined || transactions === undefined || meanMs === undefined)
        throw new Error(`pgbench printed no tps, transaction count or average latency:\n${stdout}`);
      const latencies: number[] = [];
      for (const file of await readdir(logs)) latencies.push(...transactionLatenciesUs(await readFile(path.join(logs, file), 'utf8')));
      return { tps: Number(tps), transactions: Number(transactions), meanMs: Number(meanMs), p99Ms: percentile(latencies, 0.99) / 1000 };
    } finally {
      await rm(logs, { recursive: true, force: true });
    }
  }

  async drop(): Promise<void> {
    await sql(withDatabase(this.serverUrl, 'postgres'), [`DROP DATABASE IF EXISTS ${PGBENCH_DATABASE} WITH (FORCE)`]);
  }
}

/** The latency, µs, of each transaction in a pgbench log (`client_id transaction_no time script_no epoch µs`). */
export function transactionLatenciesUs(log: string): number[] {
  return log
    .split('\n')
    .map((line) => Number(line.split(' ')[2]))
    .filter((us) => Number.isFinite(us) && us >= 0);
}

/** The value below which `share` of `values` fall (nearest rank); 0 for none. */
export function percentile(values: number[], share: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)]!;
}

/**
 * `count` live idempotency records of other merchants (as many merchants as a large fleet has),
 * written by one generate_series insert: what a busy service's table holds.
 */
export async function fillIdempotencyKeys(url: string, count: number): Promise<void> {
  await sql(url, [
    `INSERT INTO idempotency_keys (merchant_id, key, fingerprint, status, body, headers, expires_at)
     SELECT 'mer_other_' || (i % 5000), md5(i::text) || '-' || i, md5('fingerprint' || i), 201,
            '{"id":"ch_' || i || '","object":"charge","amount":100,"currency":"usd","status":"succeeded"}',
            '{"content-type":"application/json; charset=utf-8"}', now() + interval '1 day'
       FROM generate_series(1, ${count}) AS i`,
    'VACUUM ANALYZE idempotency_keys',
  ]);
  await checkpoint(url);
}

/**
 * `count` captured charges of the merchant with their ledger entries and balance totals, drawn
 * from one source account, as if it had taken them over months: history for the reads to face.
 */
export async function fillHistory(url: string, merchantId: string, source: string, count: number): Promise<void> {
  await sql(
    url,
    [
      `INSERT INTO charges (merchant_id, id, source_account_id, amount, currency, status, amount_captured, created_at, updated_at)
       SELECT $1, 'ch_hist_' || i, $2, 1, 'usd', 'succeeded', 1, now() - interval '30 days', now() - interval '30 days'
         FROM generate_series(1, ${count}) AS i`,
      `INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference, created_at)
       SELECT $1, 'ent_hist_' || i || side, CASE side WHEN 'a' THEN $2 ELSE 'balance:usd' END,
              CASE side WHEN 'a' THEN -1 ELSE 1 END, 'usd', 'charge', 'ch_hist_' || i, now() - interval '30 days'
         FROM generate_series(1, ${count}) AS i CROSS JOIN (VALUES ('a'), ('b')) AS sides (side)`,
      // The source paid for them: the history came out of a deposit as large.
      `INSERT INTO ledger_entries (merchant_id, id, account_id, amount, currency, type, reference)
       VALUES ($1, 'ent_hist_dep_a', $2, ${count}, 'usd', 'deposit', 'dep_hist'), ($1, 'ent_hist_dep_b', 'external:usd', -${count}, 'usd', 'deposit', 'dep_hist')`,
      `INSERT INTO deposits (merchant_id, id, account_id, amount, currency) VALUES ($1, 'dep_hist', $2, least(${count}, 100000000000), 'usd')`,
      `INSERT INTO balance_totals (merchant_id, currency, slot, available) VALUES ($1, 'usd', 0, ${count})
       ON CONFLICT (merchant_id, currency, slot) DO UPDATE SET available = balance_totals.available + ${count}`,
      'VACUUM ANALYZE charges',
      'VACUUM ANALYZE ledger_entries',
    ],
    [merchantId, source],
  );
  await checkpoint(url);
}

/**
 * Writes a fill's gigabytes of dirty pages now, rather than in a checkpoint during the phases that
 * follow. CHECKPOINT needs a superuser or pg_checkpoint: a DATABASE_URL without either goes on
 * without it (SQLSTATE 42501, insufficient_privilege).
 */
async function checkpoint(url: string): Promise<void> {
  await sql(url, ['CHECKPOINT']).catch((error: unknown) => {
    if (sqlState(error) !== '42501') throw error;
  });
}
