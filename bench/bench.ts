/**
 * npm run bench: the payments service against the database work it asks for.
 *
 * The reference is pgbench's TPC-B transaction (BEGIN, three guarded UPDATEs, a SELECT, an INSERT,
 * END) on the same PostgreSQL server in the same run: it moves money between accounts and writes
 * a history row, which is what a charge does too. Load comes from wrk (a native generator, on its
 * own cores' share rather than the service's event loop), 16 connections by default.
 *
 * Phases, in order:
 * 1. cold: the first seconds of a freshly started service process, fresh-key charges;
 * 2. warm-up, then `--rounds` rounds of [charges, replays, pgbench], alternated so that noise hits
 *    all three alike; ratios are medians over the rounds;
 * 3. every other write route once (authorisations, captures, refunds, deposits, account upserts),
 *    against the warm charge rate;
 * 3b. `--rounds` rounds of [wallet charges, card charges through the simulated acquirer (its own
 *    process, testing/acquirer-process.ts) answering at once (the test card pm_test_ok), the same
 *    answering after 50 ms (pm_test_slow_50)]: each card rate against the wallet charges of its round;
 * 3c. webhooks: a receiver subscribed to charge.succeeded (in this process, verifying signatures);
 *    charges with no worker running (their deliveries queue up), the rate at which one worker
 *    (`npm run worker`, its own process) drains that queue, then charges with the worker delivering
 *    meanwhile, against the charges without it;
 * 4. with --keys N: N live idempotency records of other merchants, then the rounds again;
 * 5. with --history N: N charges of history for the merchant, then the reads.
 * It ends with one table and the ratio line. The exit code is 0 whether targets are met or not.
 *
 * Usage: npm run bench -- [--seconds 10] [--rounds 3] [--warmup 30] [--cold 15] [--connections 16]
 *                        [--keys 10000000] [--history 10000000] [--profile] [--quick]
 *
 * With --against <git ref>, two builds side by side instead (bench/ab.ts):
 *        npm run bench -- --against <ref> [--with <ref>] [--alternations 2] [--seconds 10] [--warmup 30]
 *                        [--connections 16] [--window 2000] [--keep-build] [--quick]
 *
 * With --sync-standby, a single PostgreSQL server beside a primary with a synchronous standby
 * (bench/sync-standby.ts): what synchronous replication costs per commit and in charges/s:
 *        npm run bench -- --sync-standby [--alternations 2] [--seconds 10] [--warmup 30] [--connections 16] [--quick]
 */
import { randomBytes } from 'node:crypto';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/database/embedded-postgres.js';
import { AcquirerProcess } from '../testing/acquirer-process.js';
import { ServiceProcess } from '../testing/service-process.js';
import { runAb } from './ab.js';
import { fillHistory, fillIdempotencyKeys, Pgbench } from './database.js';
import { measureCpu, microsecondsEach, type CpuUse } from './cpu.js';
import { parseOptions, type Options } from './options.js';
import { runSyncStandby } from './sync-standby.js';
import { failedAnswersBetween } from './statuses.js';
import { log, median, peakRssMiB, requireTools, serviceAnswers } from './tools.js';
import {
  ACQUIRER_LATENCIES_MS,
  authorize,
  capture,
  cardCharges,
  charges,
  deposit,
  idsOf,
  reads,
  recordCharges,
  refund,
  replays,
  setUp,
  upsert,
  type Merchant,
} from './workloads.js';
import { runWrk, type LoadResult, type Workload } from './wrk.js';
import { drainRate, startWorker, subscribeReceiver } from './webhooks.js';

/** Replays concentrate on a few keys, as the retries of a flaky network do. */
const REPLAY_KEYS = 20;
const PROFILE_DIR = '.data/bench-profile';

/**
 * A load phase's result, and a pgbench phase's, with the CPU it cost; a load's failed answers by
 * status, and its 202s (card charges the acquirer had not answered within CHARGE_WAIT_MS: wrk
 * counts them as done, but they are not).
 */
type MeasuredLoad = LoadResult & { cpu: CpuUse; failed: string; pending: number };
type MeasuredPgbench = Awaited<ReturnType<Pgbench['run']>> & { cpu: CpuUse };

interface Row {
  phase: string;
  result?: MeasuredLoad;
  pgbench?: MeasuredPgbench;
  ratio?: string;
}

async function main(): Promise<void> {
  const settings = parseOptions(process.argv.slice(2));
  await requireTools();
  if (settings.against !== undefined) return runAb(settings);
  if (settings.syncStandby) return runSyncStandby(settings);
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    log('starting an embedded PostgreSQL in .data/bench-pg');
    embedded = await startEmbeddedPostgres({ dataDir: '.data/bench-pg', database: 'payments_bench', recreateDatabase: true, log });
    databaseUrl = embedded.url;
  }
  const adminToken = randomBytes(24).toString('hex');
  const nodeOptions = settings.profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  // The card acquirer, its own process with its own journal, as in production: the card phases' test cards set its latency.
  const acquirer = await AcquirerProcess.start();
  const env = { ACQUIRER_URL: acquirer.url, WEBHOOK_ALLOW_HTTP_LOOPBACK: 'on' };
  let service = await ServiceProcess.start({ databaseUrl, adminToken, nodeOptions, env });
  const pgbench = await Pgbench.prepare(databaseUrl);
  const rows: Row[] = [];
  try {
    log('setting up a merchant with funded accounts');
    const merchant = await setUp(service.url, adminToken);
    const load = async (workload: Workload, seconds = settings.seconds): Promise<MeasuredLoad> => {
      const before = await serviceAnswers(service.url);
      const result = await measureCpu(service.pid, () => runWrk(service.url, merchant.apiKey, workload, seconds, settings.connections));
      const after = await serviceAnswers(service.url);
      return { ...result, failed: failedAnswersBetween(before, after), pending: (after.get(202) ?? 0) - (before.get(202) ?? 0) };
    };
    const runPgbench = (): Promise<MeasuredPgbench> => measureCpu(service.pid, () => pgbench.run(settings.seconds, settings.connections));

    // A new process on a warm database: what a restarted instance meets when traffic arrives.
    await service.kill('SIGTERM');
    service = await ServiceProcess.start({ databaseUrl, adminToken, nodeOptions, env });
    log(`cold: the first ${settings.cold} s of a new process`);
    const cold = await load(charges(merchant.sources), settings.cold);

    log(`warm-up: ${settings.warmup} s`);
    if (settings.warmup > 0) await load(charges(merchant.sources), settings.warmup);
    const replayKeys = await recordCharges(service.url, merchant, REPLAY_KEYS);
    const warm = await rounds(
      `${settings.rounds} rounds of charges, replays and pgbench`,
      settings,
      load,
      runPgbench,
      merchant,
      replayKeys,
    );
    rows.push({
      phase: `charges, cold (first ${settings.cold} s)`,
      result: cold,
      ratio: `${(cold.perSecond / warm.charges).toFixed(2)} × warm`,
    });
    rows.push(...warm.rows);

    log('every other write route');
    const authorizations = await load(authorize(merchant.sources));
    // As many again, unmeasured: each authorisation can be captured once, and captures may run
    // faster than authorisations did (a capture of one already captured answers 409).
    await load(authorize(merchant.sources));
    const authorized = await idsOf(databaseUrl, merchant.id, `status = 'authorized'`);
    const captured = await idsOf(databaseUrl, merchant.id, `status = 'succeeded' AND amount_refunded < amount_captured LIMIT 2000`);
    for (const [phase, workload] of [
      ['authorisations (capture: false)', null],
      ['captures', capture(authorized)],
      ['refunds (1 unit)', refund(captured)],
      ['deposits', deposit(merchant.sources)],
      ['account upserts (PUT, new id)', upsert()],
    ] as const) {
      const result = workload ? await load(workload) : authorizations;
      rows.push({ phase, result, ratio: `${(result.perSecond / warm.charges).toFixed(2)} × charges` });
    }

    // In rounds beside a phase of wallet charges, as the warm rounds are: each ratio is taken
    // against the wallet charges of its own round, minutes apart from the warm ones.
    log(`${settings.rounds} rounds of wallet charges and card charges through the acquirer`);
    const cardRounds: { wallet: MeasuredLoad; cards: MeasuredLoad[] }[] = [];
    for (let round = 0; round < settings.rounds; round++) {
      const wallet = await load(charges(merchant.sources));
      const cards: MeasuredLoad[] = [];
      for (const latencyMs of ACQUIRER_LATENCIES_MS) cards.push(await load(cardCharges(latencyMs)));
      log(
        `round ${round + 1}: wallet ${wallet.perSecond.toFixed(0)}/s, cards ${cards.map((card) => `${card.perSecond.toFixed(0)}/s`).join(', ')}`,
      );
      cardRounds.push({ wallet, cards });
    }
    ACQUIRER_LATENCIES_MS.forEach((latencyMs, i) => {
      const rates = cardRounds.map((round) => round.cards[i]!.perSecond);
      const result = cardRounds.find((round) => round.cards[i]!.perSecond === median(rates))!.cards[i]!;
      const ratio = median(cardRounds.map((round) => round.cards[i]!.perSecond / round.wallet.perSecond));
      // Each connection waits for the acquirer in every charge: it cannot make more than connections ÷ latency.
      const bound = latencyMs > 0 ? `, ≤ ${((settings.connections * 1000) / latencyMs).toFixed(0)}/s at ${settings.connections} conns` : '';
      rows.push({ phase: `card charges, acquirer ${latencyMs} ms`, result, ratio: `${ratio.toFixed(2)} × wallet charges beside${bound}` });
    });

    log('webhooks: charges without a worker, one worker draining their deliveries, charges while it delivers');
    const receiver = await subscribeReceiver(service.url, merchant.apiKey);
    try {
      const queued = await load(charges(merchant.sources));
      const worker = startWorker(databaseUrl);
      try {
        const drained = await drainRate(service.url, receiver);
        const delivering = await load(charges(merchant.sources));
        rows.push(
          {
            phase: 'charges, an endpoint subscribed, no worker',
            result: queued,
            ratio: `${(queued.perSecond / warm.charges).toFixed(2)} × warm`,
          },
          {
            phase: `webhook deliveries, one worker draining ${drained.delivered}`,
            ratio: `${drained.perSecond.toFixed(0)}/s (${(drained.perSecond / queued.perSecond).toFixed(2)} × the charges that wrote them)`,
          },
          {
            phase: 'charges while the worker delivers',
            result: delivering,
            ratio: `${(delivering.perSecond / queued.perSecond).toFixed(2)} × without it`,
          },
        );
      } finally {
        await worker.stop();
      }
    } finally {
      await receiver.stop();
    }

    if (settings.keys > 0) {
      log(`filling ${settings.keys} idempotency records of other merchants`);
      await fillIdempotencyKeys(databaseUrl, settings.keys);
      const full = await rounds(`${settings.keys} keys in the table`, settings, load, runPgbench, merchant, replayKeys);
      for (const row of full.rows) rows.push({ ...row, phase: `${row.phase}, ${settings.keys} keys` });
      rows.push({ phase: `charges with ${settings.keys} keys ÷ empty table`, ratio: (full.charges / warm.charges).toFixed(2) });
      // The two are minutes apart, and this machine's speed drifts by a fifth within an hour:
      // pgbench in the same rounds measures the drift, so this ratio of ratios leaves it out.
      rows.push({
        phase: `charges ÷ pgbench with ${settings.keys} keys ÷ the same, empty table`,
        ratio: (full.chargesPerPgbench / warm.chargesPerPgbench).toFixed(2),
      });
    }
    if (settings.history > 0) {
      log(`filling ${settings.history} charges of history`);
      await fillHistory(databaseUrl, merchant.id, merchant.sources[0]!, settings.history);
      for (const [phase, workload] of reads(merchant.sources[0]!)) {
        rows.push({ phase: `${phase}, ${settings.history} charges of history`, result: await load(workload) });
      }
      const during = await load(charges(merchant.sources));
      rows.push({ phase: `charges with that history`, result: during, ratio: `${(during.perSecond / warm.charges).toFixed(2)} × before` });
    }

    const rss = await peakRssMiB(service.pid);
    // At LOG_LEVEL=error a healthy run logs nothing: what it did log explains a failed answer.
    const logged = service.output().trim().split('\n').filter(Boolean);
    await service.kill('SIGTERM');
    print(rows, settings, { warm, cold, rss });
    if (logged.length > 0)
      console.log(`\nthe service logged ${logged.length} lines at LOG_LEVEL=error; the first ones:\n${logged.slice(0, 10).join('\n')}`);
    if (settings.profile) log(`CPU profile written to ${PROFILE_DIR}/ (open it in Chrome DevTools > Performance, or speedscope)`);
  } finally {
    await service.kill('SIGTERM');
    await acquirer.close();
    await pgbench.drop().catch(() => undefined);
    await embedded?.stop();
  }
}

interface Rounds {
  rows: Row[];
  charges: number;
  replays: number;
  tps: number;
  /** The median over the rounds of charges ÷ pgbench. */
  chargesPerPgbench: number;
}

async function rounds(
  what: string,
  settings: Options,
  load: (workload: Workload) => Promise<MeasuredLoad>,
  runPgbench: () => Promise<MeasuredPgbench>,
  merchant: Merchant,
  replayKeys: { key: string; body: string }[],
): Promise<Rounds> {
  log(what);
  const results: { charges: MeasuredLoad; replays: MeasuredLoad; pgbench: MeasuredPgbench }[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    const chargeResult = await load(charges(merchant.sources));
    const replayResult = await load(replays(replayKeys));
    const pgbenchResult = await runPgbench();
    log(
      `round ${round + 1}: charges ${chargeResult.perSecond.toFixed(0)}/s, replays ${replayResult.perSecond.toFixed(0)}/s, pgbench ${pgbenchResult.tps.toFixed(0)} tps`,
    );
    results.push({ charges: chargeResult, replays: replayResult, pgbench: pgbenchResult });
  }
  const middle = (pick: (r: (typeof results)[number]) => { perSecond: number }) =>
    results.find((r) => pick(r).perSecond === median(results.map((x) => pick(x).perSecond)))!;
  const chargeRatio = median(results.map((r) => r.charges.perSecond / r.pgbench.tps));
  const replayRatio = median(results.map((r) => r.replays.perSecond / r.pgbench.tps));
  const tps = median(results.map((r) => r.pgbench.tps));
  return {
    charges: median(results.map((r) => r.charges.perSecond)),
    replays: median(results.map((r) => r.replays.perSecond)),
    tps,
    chargesPerPgbench: chargeRatio,
    rows: [
      { phase: 'pgbench TPC-B -M prepared', pgbench: results.find((r) => r.pgbench.tps === tps)!.pgbench, ratio: '1.00' },
      { phase: 'charges, fresh keys, warm', result: middle((r) => r.charges).charges, ratio: `${chargeRatio.toFixed(2)} × pgbench` },
      { phase: `replays of ${REPLAY_KEYS} keys`, result: middle((r) => r.replays).replays, ratio: `${replayRatio.toFixed(2)} × pgbench` },
    ],
  };
}

// ------------------------------------------------------------------------------------------------
// Report

/** A phase's failures: the count, then which statuses (from the service) and socket errors (wrk's). */
function failures(result: MeasuredLoad): string {
  const which = [
    result.failed,
    result.errors > 0 ? `socket errors: ${result.errors}` : '',
    result.pending > 0 ? `202 pending: ${result.pending}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `${result.non2xx + result.errors}${which ? ` (${which})` : ''}`;
}

function print(rows: Row[], settings: Options, summary: { warm: Rounds; cold: LoadResult; rss: number | undefined }): void {
  const header = ['phase', 'per second', 'p50 ms', 'p99 ms', 'non-2xx', 'CPU µs each', 'service µs each', 'ratio'];
  const micros = (value: number | undefined) => value?.toFixed(0) ?? '';
  const cells = rows.map((row) => [
    row.phase,
    (row.result?.perSecond ?? row.pgbench?.tps)?.toFixed(0) ?? '',
    row.result ? row.result.p50Ms.toFixed(1) : '',
    row.result ? row.result.p99Ms.toFixed(1) : '',
    row.result ? failures(row.result) : '',
    row.result
      ? micros(microsecondsEach(row.result.cpu.machineMs, row.result.requests))
      : micros(row.pgbench && microsecondsEach(row.pgbench.cpu.machineMs, row.pgbench.transactions)),
    row.result ? micros(microsecondsEach(row.result.cpu.serviceMs, row.result.requests)) : '',
    row.ratio ?? '',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => row[column]!.length)));
  const line = (values: string[]) => `| ${values.map((value, column) => value.padEnd(widths[column]!)).join(' | ')} |`;
  console.log(`\n${settings.connections} connections, phases of ${settings.seconds} s, ${settings.rounds} rounds (medians)\n`);
  console.log(line(header));
  console.log(`| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`);
  for (const row of cells) console.log(line(row));
  console.log(
    '\nCPU µs each: busy time of all cores (service, PostgreSQL, wrk or pgbench, the kernel) per request or transaction; service µs each: the service process alone.',
  );
  const { warm, cold, rss } = summary;
  console.log(
    `\ncharges ÷ pgbench ${(warm.charges / warm.tps).toFixed(2)} (target ≥ 1.0) · replays ÷ pgbench ${(warm.replays / warm.tps).toFixed(2)} (≥ 2.0)` +
      ` · cold ÷ warm ${(cold.perSecond / warm.charges).toFixed(2)} (≥ 0.8) · peak RSS ${rss?.toFixed(0) ?? '?'} MiB (≤ 200)`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
