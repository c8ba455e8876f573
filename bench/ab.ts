import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/database/embedded-postgres.js';
import { ServiceProcess } from '../testing/service-process.js';
import {
  abSchedule,
  figureRows,
  formatAbTable,
  keysOutsideWindow,
  missingCounters,
  tpcbBeside,
  type Block,
  type Build,
  type KeyRun,
  type PhaseFigures,
} from './ab-plan.js';
import { localPostmaster, measureCpu, microsecondsEach, type CpuUse } from './cpu.js';
import { Pgbench, sql, withDatabase } from './database.js';
import type { Options } from './options.js';
import { answersByStatus, failedAnswersBetween, idempotencyOutcomes } from './statuses.js';
import { log, peakRssMiB, serviceMetrics } from './tools.js';
import { prepareOtherBuild } from './other-build.js';
import { charges, recordCharges, replays, replaysOfOldKeys, setUp, type Merchant } from './workloads.js';
import { runWrk, wrkThreads, type LoadResult, type Workload } from './wrk.js';

// npm run bench -- --against <ref>: the build of <ref> (A) and this checkout's (B, or --with <ref>'s), alternated in
// one run on one PostgreSQL server, each build in a database of its own (their migrations differ),
// with pgbench's TPC-B beside every build's phases. Both services run for the whole run (each warm),
// and only one is under load at a time.

const execFileAsync = promisify(execFile);
/** Replays of recent keys concentrate on a few, as the retries of a flaky network do. */
const RECENT_KEYS = 20;

interface BuildUnderTest {
  build: Build;
  label: string;
  databaseUrl: string;
  service: ServiceProcess;
  merchant: Merchant;
  recentKeys: { key: string; body: string }[];
  /** Every charge phase's keys, oldest first. */
  chargePhases: { prefix: string; sentByThread: number[] }[];
  blocks: Block[];
  /** The fewest keys a replay phase outside the memory window walked through. */
  fewestOldKeys: number;
}

export async function runAb(settings: Options): Promise<void> {
  const repo = process.cwd();
  const other = await prepareOtherBuild(repo, settings.against!, { keep: settings.keepBuild, log });
  const otherB = settings.with === undefined ? undefined : await prepareOtherBuild(repo, settings.with, { keep: settings.keepBuild, log });
  let embedded: EmbeddedDatabase | undefined;
  const processes: ServiceProcess[] = [];
  let pgbench: Pgbench | undefined;
  try {
    let serverUrl = process.env.DATABASE_URL;
    if (!serverUrl) {
      log('starting an embedded PostgreSQL in .data/bench-pg');
      embedded = await startEmbeddedPostgres({ dataDir: '.data/bench-pg', database: 'payments_bench', recreateDatabase: true, log });
      serverUrl = embedded.url;
    }
    const adminToken = randomBytes(24).toString('hex');
    const start = async (build: Build, label: string, cwd: string | undefined): Promise<BuildUnderTest> => {
      const database = `payments_bench_${build.toLowerCase()}`;
      await sql(withDatabase(serverUrl, 'postgres'), [`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`, `CREATE DATABASE ${database}`]);
      log(`starting ${build}: ${label}`);
      const databaseUrl = withDatabase(serverUrl, database);
      const service = await ServiceProcess.start({ databaseUrl, adminToken, cwd });
      processes.push(service);
      const merchant = await setUp(service.url, adminToken);
      return { build, label, databaseUrl, service, merchant, recentKeys: [], chargePhases: [], blocks: [], fewestOldKeys: Infinity };
    };
    const builds = {
      A: await start('A', other.label, other.dir),
      B: otherB ? await start('B', otherB.label, otherB.dir) : await start('B', await thisCheckout(repo), undefined),
    };
    pgbench = await Pgbench.prepare(serverUrl);
    const postmaster = await localPostmaster(serverUrl);

    /** A load phase; a replay phase also counts its keyed requests that ran as new (its keys were never recorded). */
    const load = async (under: BuildUnderTest, workload: Workload, seconds = settings.seconds, replay = false) => {
      const before = await metricsOf(under);
      const result = await measureCpu(
        under.service.pid,
        () => runWrk(under.service.url, under.merchant.apiKey, workload, seconds, settings.connections),
        postmaster,
      );
      const after = await settled(under);
      const failed = failedAnswersBetween(answersByStatus(before), answersByStatus(after));
      if (failed || result.errors > 0) log(`  ${under.build}: failed answers: ${failed || 'none'}; socket errors: ${result.errors}`);
      const ranAsNew = replay ? (idempotencyOutcomes(after).get('new') ?? 0) - (idempotencyOutcomes(before).get('new') ?? 0) : 0;
      if (ranAsNew > 0) log(`  ${under.build}: ${ranAsNew} replays ran as new charges: their keys had no record`);
      return { ...result, figures: { ...figuresOf(result), failed: result.non2xx + result.errors + ranAsNew } };
    };
    const chargePhase = async (under: BuildUnderTest, seconds?: number) => {
      const result = await load(under, charges(under.merchant.sources), seconds);
      under.chargePhases.push({ prefix: result.prefix, sentByThread: result.sentByThread });
      return result;
    };

    for (const under of [builds.A, builds.B]) {
      log(`warm-up of ${under.build}: ${settings.warmup} s of charges`);
      if (settings.warmup > 0) await chargePhase(under, settings.warmup);
      under.recentKeys = await recordCharges(under.service.url, under.merchant, RECENT_KEYS);
    }

    const steps = abSchedule(settings.alternations);
    const tps: (number | undefined)[] = [];
    const tpsP99: (number | undefined)[] = [];
    const pending: { under: BuildUnderTest; index: number; block: Omit<Block, 'tpcb' | 'tpcbP99Ms'> }[] = [];
    for (const [index, step] of steps.entries()) {
      if (step.kind === 'pgbench') {
        const reference = await pgbench.run(settings.seconds, settings.connections);
        [tps[index], tpsP99[index]] = [reference.tps, reference.p99Ms];
        log(`pgbench: ${reference.tps.toFixed(0)} tps (p99 ${reference.p99Ms.toFixed(1)} ms)`);
        continue;
      }
      const under = builds[step.build];
      const fresh = await chargePhase(under);
      const recent = await load(under, replays(under.recentKeys), settings.seconds, true);
      const oldKeys = await withRecords(under, keysOutsideWindow(under.chargePhases, settings.window, settings.connections));
      const walked = oldKeys.reduce((sum, run) => sum + run.count - (run.missing?.length ?? 0), 0);
      under.fewestOldKeys = Math.min(under.fewestOldKeys, walked);
      if (walked <= settings.window)
        log(`  only ${walked} keys outside the window of ${settings.window}: once walked, they come from memory (longer phases)`);
      const old = await load(
        under,
        replaysOfOldKeys(under.merchant.sources, oldKeys, wrkThreads(settings.connections)),
        settings.seconds,
        true,
      );
      log(
        `${step.build}, alternation ${step.alternation}: charges ${fresh.perSecond.toFixed(0)}/s (p99 ${fresh.p99Ms.toFixed(1)} ms), ` +
          `recent replays ${recent.perSecond.toFixed(0)}/s, replays of ${walked} older keys ${old.perSecond.toFixed(0)}/s`,
      );
      pending.push({ under, index, block: { charges: fresh.figures, recent: recent.figures, old: old.figures } });
    }
    for (const { under, index, block } of pending)
      under.blocks.push({ ...block, tpcb: tpcbBeside(steps, tps, index), tpcbP99Ms: tpcbBeside(steps, tpsP99, index) });

    const rss = { a: await peakRssMiB(builds.A.service.pid), b: await peakRssMiB(builds.B.service.pid) };
    const logged = [builds.A, builds.B].map((under) => ({
      build: under.build,
      lines: under.service.output().trim().split('\n').filter(Boolean),
    }));
    print(settings, builds.A, builds.B, rss);
    for (const { build, lines } of logged) {
      if (lines.length > 0)
        console.log(`\n${build} logged ${lines.length} lines at LOG_LEVEL=error; the first ones:\n${lines.slice(0, 10).join('\n')}`);
    }
  } finally {
    for (const service of processes) await service.kill('SIGTERM');
    await pgbench?.drop().catch(() => undefined);
    await embedded?.stop();
    await other.remove();
    await otherB?.remove();
  }
}

/**
 * A build's /metrics text, or nothing from a build that has none (another ref may not): its failed
 * answers by status and its replays that ran as new then go uncounted, and the run says so once.
 */
async function metricsOf(under: BuildUnderTest): Promise<string> {
  return serviceMetrics(under.service.url).catch((error: unknown) => {
    if (!warnedNoMetrics.has(under.build))
      log(`  ${under.build} has no /metrics (${String(error)}): its failures by status are not counted`);
    warnedNoMetrics.add(under.build);
    return '';
  });
}
const warnedNoMetrics = new Set<Build>();

/**
 * Reads /metrics until the count of answers stops moving: requests still in flight when wrk
 * stopped are answered, and counted, before the next phase's first reading.
 */
async function settled(under: BuildUnderTest): Promise<string> {
  const answered = (text: string) => [...answersByStatus(text).values()].reduce((sum, n) => sum + n, 0);
  let text = await metricsOf(under);
  for (let tries = 0; tries < 50; tries++) {
    await sleep(200);
    const next = await metricsOf(under);
    if (answered(next) === answered(text)) return next;
    text = next;
  }
  return text;
}

const missingByRun = new Map<string, number[]>();

/**
 * The runs with the counters whose key has no record, read from the build's database: a request in
 * flight when wrk stopped may never have been answered, and replayed it would run as a new charge.
 */
async function withRecords(under: BuildUnderTest, runs: KeyRun[]): Promise<KeyRun[]> {
  return Promise.all(
    runs.map(async (run) => {
      const id = `${under.build}:${run.prefix}-${run.thread}-${run.count}`;
      let missing = missingByRun.get(id);
      if (!missing) {
        // A build whose records live elsewhere: nothing is passed over, and replays that run as new are counted.
        const recorded = await sql(
          under.databaseUrl,
          [`SELECT key FROM idempotency_keys WHERE merchant_id = $1 AND key LIKE $2`],
          [under.merchant.id, `${run.prefix}-${run.thread}-%`],
        ).then(
          ([result]) => result!.rows.map((row: { key: string }) => row.key),
          () => undefined,
        );
        missing = recorded === undefined ? [] : missingCounters(run, recorded);
        missingByRun.set(id, missing);
      }
      return { ...run, missing };
    }),
  );
}

function figuresOf(result: LoadResult & { cpu: CpuUse }): PhaseFigures {
  return {
    perSecond: result.perSecond,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    serviceUs: microsecondsEach(result.cpu.serviceMs, result.requests),
    databaseUs: microsecondsEach(result.cpu.databaseMs, result.requests),
    machineUs: microsecondsEach(result.cpu.machineMs, result.requests),
    failed: result.non2xx + result.errors,
  };
}

/** This checkout as a label: its commit and subject, and whether it has changes not committed. */
async function thisCheckout(repo: string): Promise<string> {
  const git = async (...args: string[]) => (await execFileAsync('git', args, { cwd: repo })).stdout.trim();
  const [line, status] = await Promise.all([git('log', '-1', '--format=%h: %s'), git('status', '--porcelain', '--untracked-files=no')]);
  const short = line.length > 68 ? `${line.slice(0, 65)}…` : line;
  return `${short}${status ? ' (+ changes not committed)' : ''}`;
}

function print(settings: Options, a: BuildUnderTest, b: BuildUnderTest, rss: { a: number | undefined; b: number | undefined }): void {
  console.log(
    `\nA/B: ${settings.alternations} alternation${settings.alternations === 1 ? '' : 's'} (pgbench, A, pgbench, B, …), ${settings.connections} connections, ` +
      `phases of ${settings.seconds} s; medians over the alternations, their range in parentheses\n`,
  );
  console.log(`A = ${a.label}\nB = ${b.label}\n`);
  console.log(formatAbTable(figureRows(a.blocks, b.blocks, rss)));
  const fewest = Math.min(a.fewestOldKeys, b.fewestOldKeys);
  console.log(
    `\n× TPC-B: the figure ÷ the mean of the pgbench phases just before and after that build's phases.` +
      `\nReplays outside the memory window: keys of the build's earlier charge phases (at least ${fewest} of them), walked in order,` +
      ` leaving out the latest phase's last ${settings.window} answers, so no key is asked again within ${fewest} answers` +
      (fewest > settings.window
        ? `, more than the ${settings.window} a process keeps (--window).`
        : `: FEWER than the ${settings.window} a process keeps, so once walked they came from memory; run longer phases.`) +
      `\nFailed answers: not 2xx, socket errors, and replays that ran as new charges (none, when every replayed key had its record).` +
      `\nCPU µs per request: the service process's own (user + system); PostgreSQL's server processes' (a server on this machine);` +
      ` the machine's: all cores' busy time, whatever ran (on a shared machine, other people's work too).`,
  );
}
