import { randomBytes } from 'node:crypto';
import { FailoverFormation, missingFailoverBinaries } from '../testing/failover-formation.js';
import { ServiceProcess } from '../testing/service-process.js';
import { formatAbTable, middle, type FigureRow } from './ab-plan.js';
import { Pgbench, sql, type PgbenchResult } from './database.js';
import type { Options } from './options.js';
import { settingsWithoutReplication, SingleServer } from './single-server.js';
import { failedAnswersBetween } from './statuses.js';
import { log, serviceAnswers } from './tools.js';
import { charges, setUp, type Merchant } from './workloads.js';
import { runWrk, type LoadResult } from './wrk.js';

// npm run bench -- --sync-standby: what a synchronous standby costs. A single PostgreSQL 15 server
// and the primary of a pg_auto_failover formation (testing/failover-formation.ts: monitor, primary,
// synchronous standby, all on this machine) with the same settings but replication, each with a
// service process of its own; their phases alternated in one run (single, sync, single, sync …).
//
// The service reaches the primary directly, not through the formation's HAProxy: HAProxy adds a hop
// of its own, and what is measured here is the cost of replication alone. The standby streams from
// the primary directly too (cuttable: false), so the commits' wait holds no proxy of this process.

type Side = 'single' | 'sync';

interface Server {
  side: Side;
  databaseUrl: string;
  service: ServiceProcess;
  merchant: Merchant;
  pgbench: Pgbench;
  alternations: Alternation[];
}

/** One server's phases in one alternation. */
interface Alternation {
  charges: LoadResult & { failed: string };
  /** pgbench TPC-B at the run's connections, and at one client (each commit waits alone). */
  tpcb: PgbenchResult;
  tpcbOne: PgbenchResult;
}

export async function runSyncStandby(settings: Options): Promise<void> {
  const missing = missingFailoverBinaries();
  if (missing.length > 0)
    throw new Error(`--sync-standby needs ${missing.join(' and ')}: apt-get install -y postgresql-15-auto-failover haproxy`);
  const adminToken = randomBytes(24).toString('hex');
  /** What to end, latest first: each service process and pgbench's database. */
  const cleanups: (() => Promise<unknown>)[] = [];
  log('starting the formation: a pg_auto_failover monitor, a primary and its synchronous standby (PostgreSQL 15)');
  const formation = await FailoverFormation.start({ cuttable: false });
  let single: SingleServer | undefined;
  try {
    const primary = await formation.primary();
    const standbyNames = await synchronousStandby(primary.url);
    log(`the primary's synchronous_standby_names: ${standbyNames}`);
    const [checksums] = await sql(primary.url, ['SHOW data_checksums']);
    log('starting a single PostgreSQL 15 with the primary settings, replication left out');
    single = await SingleServer.start(await settingsWithoutReplication(primary.url), {
      dataChecksums: (checksums!.rows[0] as { data_checksums: string }).data_checksums === 'on',
      database: 'payments',
    });
    const start = async (side: Side, databaseUrl: string): Promise<Server> => {
      const service = await ServiceProcess.start({ databaseUrl, adminToken });
      cleanups.push(() => service.kill('SIGTERM'));
      const pgbench = await Pgbench.prepare(databaseUrl);
      cleanups.push(() => pgbench.drop().catch(() => undefined));
      return { side, databaseUrl, service, pgbench, merchant: await setUp(service.url, adminToken), alternations: [] };
    };
    const sides = [await start('single', single.url('payments')), await start('sync', primary.url)];

    const chargePhase = async (server: Server, seconds = settings.seconds) => {
      const before = await serviceAnswers(server.service.url);
      const result = await runWrk(
        server.service.url,
        server.merchant.apiKey,
        charges(server.merchant.sources),
        seconds,
        settings.connections,
      );
      return { ...result, failed: failedAnswersBetween(before, await serviceAnswers(server.service.url)) };
    };
    for (const server of sides) {
      log(`warm-up of ${server.side}: ${settings.warmup} s of charges`);
      if (settings.warmup > 0) await chargePhase(server, settings.warmup);
    }

    const namesSeen = new Set<string>();
    for (let alternation = 1; alternation <= settings.alternations; alternation++) {
      for (const server of sides) {
        const fresh = await chargePhase(server);
        const tpcb = await server.pgbench.run(settings.seconds, settings.connections);
        const tpcbOne = await server.pgbench.run(settings.seconds, 1);
        server.alternations.push({ charges: fresh, tpcb, tpcbOne });
        // pg_auto_failover drops a lagging standby from the names (wait_primary): the figures are of sync replication only while they hold it.
        if (server.side === 'sync') namesSeen.add(await synchronousStandby(primary.url));
        log(
          `${server.side}, alternation ${alternation}: charges ${fresh.perSecond.toFixed(0)}/s (p99 ${fresh.p99Ms.toFixed(1)} ms), ` +
            `TPC-B ${tpcb.tps.toFixed(0)} tps at ${settings.connections} clients, ${tpcbOne.tps.toFixed(0)} tps (mean ${tpcbOne.meanMs.toFixed(2)} ms) at 1`,
        );
      }
    }
    print(settings, sides[0]!, sides[1]!, [...namesSeen]);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await single?.stop();
    await formation.stop();
  }
}

/**
 * The primary's synchronous_standby_names, once pg_stat_replication has a standby in sync (or in a
 * quorum, as pg_auto_failover's `ANY 1 (...)` makes it); a refusal otherwise: without one, the
 * figures would be of a primary committing alone.
 */
async function synchronousStandby(primaryUrl: string): Promise<string> {
  const [names, replication] = await sql(primaryUrl, [
    'SHOW synchronous_standby_names',
    `SELECT application_name, sync_state FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')`,
  ]);
  const setting = (names!.rows[0] as { synchronous_standby_names: string }).synchronous_standby_names;
  if (setting === '' || replication!.rowCount === 0)
    throw new Error(`the primary has no synchronous standby (synchronous_standby_names '${setting}', ${replication!.rowCount} in sync)`);
  return setting;
}

function print(settings: Options, single: Server, sync: Server, namesSeen: string[]): void {
  const row = (figure: string, pick: (alternation: Alternation) => number, digits: number): FigureRow => ({
    figure,
    a: single.alternations.map(pick),
    b: sync.alternations.map(pick),
    digits,
  });
  const c = settings.connections;
  const rows = [
    row('fresh-key charges/s', (x) => x.charges.perSecond, 0),
    row('fresh-key charges p50 ms', (x) => x.charges.p50Ms, 1),
    row('fresh-key charges p99 ms', (x) => x.charges.p99Ms, 1),
    row(`pgbench TPC-B tps, ${c} clients`, (x) => x.tpcb.tps, 0),
    row(`pgbench TPC-B mean ms, ${c} clients`, (x) => x.tpcb.meanMs, 2),
    row(`pgbench TPC-B p99 ms, ${c} clients`, (x) => x.tpcb.p99Ms, 1),
    row('pgbench TPC-B tps, 1 client', (x) => x.tpcbOne.tps, 0),
    row('pgbench TPC-B mean ms, 1 client', (x) => x.tpcbOne.meanMs, 3),
    row('pgbench TPC-B p99 ms, 1 client', (x) => x.tpcbOne.p99Ms, 2),
  ];
  const failed = [...single.alternations, ...sync.alternations].map((x) => x.charges.failed).filter(Boolean);
  console.log(
    `\nsync standby: ${settings.alternations} alternation${settings.alternations === 1 ? '' : 's'} (single, sync, …), ${c} connections, ` +
      `phases of ${settings.seconds} s; medians over the alternations, their range in parentheses\n`,
  );
  console.log('single = one PostgreSQL 15, the primary settings but replication');
  console.log(`sync   = the primary of a pg_auto_failover formation, synchronous_standby_names = ${namesSeen.join(' then ')}\n`);
  console.log(formatAbTable(rows, { a: 'single', b: 'primary + sync standby', ratio: 'sync/single' }));
  const difference = (pick: (alternation: Alternation) => number, digits: number) => {
    const [a, b] = [middle(single.alternations.map(pick)), middle(sync.alternations.map(pick))];
    return a === undefined || b === undefined ? '?' : (b - a).toFixed(digits);
  };
  console.log(
    `\nwhat synchronous replication costs per commit (mean TPC-B latency, sync − single): ${difference((x) => x.tpcbOne.meanMs, 3)} ms at 1 client ` +
      `(the wait for the standby's flush), ${difference((x) => x.tpcb.meanMs, 2)} ms at ${c} clients; per charge at ${c} connections: ` +
      `p50 ${difference((x) => x.charges.p50Ms, 1)} ms, p99 ${difference((x) => x.charges.p99Ms, 1)} ms` +
      `\nThe monitor, the standby and HAProxy's checks run on this machine: on a shared machine, other people's work is in the figures too.` +
      (failed.length > 0 ? `\nFailed answers: ${failed.join('; ')}` : '\nFailed answers: none'),
  );
}
