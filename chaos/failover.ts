import pg from 'pg';
import { FailoverFormation, type FormationNode, missingFailoverBinaries, missingFailoverMessage } from '../testing/failover-formation.js';
import { PgBouncer } from '../testing/pgbouncer.js';
import { findBinary } from '../testing/system-binaries.js';
import { checkScenario } from './checker.js';
import { FailoverClock, type FailoverTime } from './failover-time.js';
import { ChaosClient, History } from './client.js';
import { sleep } from './cluster.js';
import { Random } from './random.js';
import { newMerchant, type ScenarioResult, type Settings } from './scenarios.js';
import { startService } from './service.js';
import { Workload } from './workload.js';

const SCENARIO = {
  name: '18. failover: primary lost',
  checks: 'sync standby promoted; every 2xx on the new primary once; old primary back as standby',
};

type Fault = 'kill' | 'stop-immediate' | 'cut';

/**
 * 18. The service on a pg_auto_failover formation (testing/failover-formation.ts: a monitor, a
 * primary and a synchronous standby, PostgreSQL 15) through PgBouncer and HAProxy's primary check,
 * under the mixed workload and keyed double submits, while the primary is lost at random moments:
 * SIGKILL of its postmaster (its keeper starts it again), `pg_autoctl stop --immediate` (the
 * monitor promotes the standby), or its network cut (standby, monitor and clients lose it; it
 * demotes itself, the standby is promoted). During the switch answers are 503 with Retry-After;
 * afterwards the checks run against the node that is primary then, and every node but it is a
 * standby holding the same ledger. Failover time (first 503 to first 2xx of a probe) is reported
 * as a distribution over the faults.
 */
export async function failoverFaults(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const missing = [...missingFailoverBinaries(), ...(findBinary('pgbouncer') ? [] : ['pgbouncer'])];
  if (missing.length > 0) {
    const message = missingFailoverMessage(missing, 'The failover scenario');
    const violations = message === undefined ? [] : [message];
    return { ...SCENARIO, checks: `not run: ${message ?? 'SKIP_FAILOVER_TESTS=1'}`, requests: 0, faults: 0, violations, seconds: 0 };
  }

  const formation = await FailoverFormation.start();
  const pgbouncer = await PgBouncer.start({ upstreamUrl: formation.url });
  const service = await startService(pgbouncer.url, { DATABASE_PREPARED_STATEMENTS: 'off' });
  const history = new History();
  const random = new Random(settings.seed);
  const failoverTimes: number[] = [];
  let faults = 0;
  try {
    const merchant = await newMerchant(service.url, 'failover', random);
    // The probe's deposits are its own merchant's: the checks read the workload's merchant only.
    const prober = await newMerchant(service.url, 'failover-probe', random);
    const probeClient = new ChaosClient(new History(), prober.apiKey, () => [service.url], random);
    const probeAccount = String((await probeClient.send('POST', '/v1/accounts', { currency: 'usd' })).final?.body?.id);
    const client = new ChaosClient(history, merchant.apiKey, () => [service.url], random);
    const workload = await Workload.setUp(client, random);
    let running = true;
    const load = Promise.all([workload.run(4, () => running), workload.storm(3, () => running)]);

    const kinds: Fault[] = settings.quick ? ['stop-immediate', 'cut'] : ['kill', 'stop-immediate', 'cut', 'stop-immediate', 'cut', 'kill'];
    for (const kind of kinds) {
      await sleep(random.int(500, 1_500));
      const victim = await formation.primary();
      history.databaseFault = true;
      let faultAt: number | undefined = undefined;
      const probe = probeFailover(service.url, prober.apiKey, probeAccount, random, () => faultAt);
      await injectFault(formation, victim, kind);
      faultAt = Date.now();
      faults++;
      const measured = await probe.measured;
      if (measured === undefined) {
        history.violations.push(`after the ${kind} of ${victim.name}: no 2xx within 60 s; ${await formation.describeNodes()}`);
      } else failoverTimes.push(measured.failoverMs);
      await bringBack(formation, victim, kind);
      await formation.waitForSync();
      // Pools drop the connections HAProxy cut; from here on a 503 is a violation.
      await sleep(2_000);
      history.databaseFault = false;
      console.log(
        `  failover: ${kind} of ${victim.name}: first 503 to first 2xx ${measured?.failoverMs ?? '∞'} ms (slowest deposit ${measured?.stallMs ?? '∞'} ms); now ${JSON.stringify(await formation.states())}`,
      );
    }
    await sleep(1_000);
    running = false;
    await load;

    const checked = await checkScenario(formation.url, merchant.id, history, client, service.url);
    const splitBrain = await standbysAgree(formation, merchant.id);
    const violations = [...service.unexpectedExits, ...history.violations, ...checked, ...splitBrain];
    const distribution = describeDistribution(failoverTimes);
    console.log(`  failover times (first 503 to first 2xx), ${failoverTimes.length} faults: ${distribution}`);
    const checks = `${SCENARIO.checks}; failover ${distribution}`;
    return { ...SCENARIO, checks, requests: history.requests, faults, violations, seconds: (Date.now() - started) / 1000 };
  } finally {
    await service.kill('SIGTERM');
    await pgbouncer.remove();
    await formation.stop();
  }
}

async function injectFault(formation: FailoverFormation, victim: FormationNode, kind: Fault): Promise<void> {
  if (kind === 'kill') await formation.killPostmaster(victim);
  else if (kind === 'stop-immediate') await formation.stopImmediate(victim);
  else await formation.cut(victim);
}

/** After a stop the node is started again, after a cut its links come back: it rejoins as the monitor says. */
async function bringBack(formation: FailoverFormation, victim: FormationNode, kind: Fault): Promise<void> {
  if (kind === 'kill') return; // its keeper restarts postgres by itself
  // The standby must be promoted first: the victim then comes back as its standby.
  await formation.primary(60_000, victim);
  if (kind === 'stop-immediate') formation.startKeeper(victim);
  else await formation.restore(victim);
}

/**
 * Keyed deposits every 100 ms from the fault on, read by a FailoverClock (failover-time.ts);
 * undefined when it has no figure within 60 s.
 */
function probeFailover(
  baseUrl: string,
  apiKey: string,
  account: string,
  random: Random,
  faultAt: () => number | undefined,
): { measured: Promise<FailoverTime | undefined> } {
  const clock = new FailoverClock(faultAt);
  const measured = (async () => {
    for (const giveUpAt = Date.now() + 60_000; Date.now() < giveUpAt; await sleep(100)) {
      const sentAt = Date.now();
      const status = await fetch(`${baseUrl}/v1/accounts/${account}/deposits`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'idempotency-key': random.uuid(), 'content-type': 'application/json' },
        body: JSON.stringify({ amount: 1 }),
        signal: AbortSignal.timeout(20_000),
      }).then(
        (response) => response.status,
        () => 0,
      );
      const time = clock.read({ sentAt, answeredAt: Date.now(), status });
      if (time) return time;
    }
    return undefined;
  })();
  return { measured };
}

/**
 * No split brain: one node takes writes, every other is in recovery, and once it has replayed
 * what the primary wrote, holds exactly the primary's ledger for the merchant.
 */
async function standbysAgree(formation: FailoverFormation, merchantId: string): Promise<string[]> {
  const primary = await formation.primary();
  const ledgerOf = async (node: FormationNode, waitFor?: string) => {
    const client = new pg.Client({ connectionString: node.url, application_name: 'chaos-checker' });
    await client.connect();
    try {
      for (let i = 0; waitFor && i < 100; i++) {
        const { rows } = await client.query<{ caught: boolean }>(`SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught`, [waitFor]);
        if (rows[0]?.caught) break;
        await sleep(100);
      }
      const { rows } = await client.query<{ recovery: boolean; entries: string }>(
        `SELECT pg_is_in_recovery() AS recovery,
                (SELECT count(*) || ' entries, sum ' || coalesce(sum(amount), 0) || ', ' || (SELECT count(*) FROM charges WHERE merchant_id = $1) || ' charges'
                   FROM ledger_entries WHERE merchant_id = $1) AS entries`,
        [merchantId],
      );
      const lsn = (
        await client.query<{ lsn: string | null }>(
          'SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS lsn',
        )
      ).rows[0]?.lsn;
      return { ...rows[0]!, lsn };
    } finally {
      await client.end();
    }
  };
  const onPrimary = await ledgerOf(primary);
  const violations = onPrimary.recovery ? [`${primary.name}, the monitor's primary, is in recovery`] : [];
  for (const node of formation.nodes.filter((candidate) => candidate !== primary)) {
    const onStandby = await ledgerOf(node, onPrimary.lsn ?? undefined);
    if (!onStandby.recovery) violations.push(`split brain: ${node.name} takes writes too`);
    if (onStandby.entries !== onPrimary.entries)
      violations.push(`${node.name} holds ${onStandby.entries}, the primary ${primary.name} ${onPrimary.entries}`);
  }
  return violations;
}

function describeDistribution(times: number[]): string {
  if (times.length === 0) return 'no failover measured';
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return `min ${seconds(sorted[0]!)}, median ${seconds(at(0.5))}, p90 ${seconds(at(0.9))}, max ${seconds(sorted.at(-1)!)} over ${times.length} (${sorted.map(seconds).join(', ')})`;
}
