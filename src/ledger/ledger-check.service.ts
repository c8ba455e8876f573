import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { LedgerCheckRepository, type LedgerViolations } from './ledger-check.repository.js';

/** What one run did: undefined when another instance held the check. */
export interface LedgerCheckRun {
  violations: LedgerViolations;
  entriesRead: number;
  foldedThrough: number;
  durationSeconds: number;
}

/**
 * Checks the ledger's invariants every LEDGER_CHECK_INTERVAL_SECONDS, cheaply on a large ledger,
 * and leaves the result where /metrics reads it (every instance exports the last run of any).
 *
 * Entries are append-only, so each account's sum is kept (ledger_check_sums) up to a seq below
 * which every transaction that wrote an entry has ended; a run reads only the entries after it.
 * Where that seq may move is decided one run ahead: a run notes the entries' sequence and the
 * time (the candidate); any transaction holding a seq up to it began before that time. The next
 * run folds the candidate in once no transaction that began by then is still running
 * (pg_stat_activity), so a transaction committing late is never cut in two, and the sums plus the
 * tail are exactly the entries of the check's snapshot. The first two runs read the whole ledger.
 */
@Injectable()
export class LedgerCheckService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(LedgerCheckService.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<LedgerCheckRun | undefined> | undefined;

  constructor(
    private readonly repository: LedgerCheckRepository,
    metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    metrics.ledgerCheckResult = () => repository.lastResult();
  }

  onApplicationBootstrap(): void {
    if (this.config.ledgerCheckIntervalSeconds === 0) return;
    this.timer = setInterval(() => void this.runOnce().catch(() => undefined), this.config.ledgerCheckIntervalSeconds * 1000);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One run (a run already going in this process is joined). */
  runOnce(): Promise<LedgerCheckRun | undefined> {
    this.running ??= this.run()
      .catch((error: unknown) => {
        this.logger.warn({ msg: 'ledger check failed; will run again', err: String(error) });
        throw error;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<LedgerCheckRun | undefined> {
    const started = performance.now();
    const before = await this.repository.state();
    const opened = await this.repository.begin();
    if (!opened) return undefined;
    const { tx, state } = opened;
    try {
      // The candidate judged settled is still the one in the row (no other run moved it since).
      const fold = before.candidateSettled && state.candidateSeq !== null && state.candidateSeq === before.candidateSeq;
      const foldedThrough = fold ? Math.max(state.foldedThrough, state.candidateSeq!) : state.foldedThrough;
      if (foldedThrough > state.foldedThrough) await this.repository.fold(tx, state.foldedThrough, foldedThrough);
      const { violations, entriesRead } = await this.repository.violations(tx, foldedThrough);
      const durationSeconds = (performance.now() - started) / 1000;
      await this.repository.finish(tx, {
        foldedThrough,
        keepCandidate: !fold && state.candidateSeq !== null,
        violations,
        entriesRead,
        durationSeconds,
      });
      const broken = Object.entries(violations).filter(([, count]) => count > 0);
      if (broken.length > 0) this.logger.error({ msg: 'ledger invariants violated', violations: Object.fromEntries(broken) });
      return { violations, entriesRead, foldedThrough, durationSeconds };
    } finally {
      await tx.end();
    }
  }
}
