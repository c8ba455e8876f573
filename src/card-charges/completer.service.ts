import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { inSpan, keyHash, setSpanAttributes } from '../telemetry/spans.js';
import { CardChargesRepository } from './card-charges.repository.js';
import { CardChargesService } from './card-charges.service.js';

const BATCH_SIZE = 50;
/** Batches per run, so one run never holds on for long. */
const MAX_BATCHES_PER_RUN = 20;

/** What one run did. */
export interface CompleterRun {
  rolledBack: number;
  finished: number;
  undecided: number;
  lostLease: number;
}

/**
 * Drives unfinished card keys that nobody retries: older than COMPLETER_GRACE_SECONDS, not
 * attempted within it, lease free or expired. It takes each one's lease (SKIP LOCKED, in batches)
 * and runs the same advance() as a client's retry: a key at `started` is rolled back (its request
 * never left), one at `acquirer_called` is resolved by a repeat or the lookup. Runs in the service
 * behind COMPLETER_ENABLED, or as its own process (npm run completer).
 */
@Injectable()
export class CompleterService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(CompleterService.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CompleterRun> | undefined;

  constructor(
    private readonly keys: CardChargesRepository,
    private readonly cards: CardChargesService,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    metrics.cardKeyCensus = () => keys.census();
  }

  onApplicationBootstrap(): void {
    if (!this.config.completerEnabled) return;
    this.timer = setInterval(() => void this.runOnce().catch(() => undefined), this.config.completerIntervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One run (a run already going is joined). `graceSeconds` overrides COMPLETER_GRACE_SECONDS. */
  runOnce(graceSeconds = this.config.completerGraceSeconds): Promise<CompleterRun> {
    this.running ??= this.run(graceSeconds).finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(graceSeconds: number): Promise<CompleterRun> {
    const done: CompleterRun = { rolledBack: 0, finished: 0, undecided: 0, lostLease: 0 };
    try {
      for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
        const picked = await this.keys.pick(graceSeconds, BATCH_SIZE, this.config.idempotencyLeaseSeconds, `completer-${randomUUID()}`);
        for (const key of picked) {
          this.metrics.countLeaseTakeover('completer');
          // Each key's push is a trace of its own (nothing of the request that left it is at hand).
          const advanced = await inSpan(
            'card_charge.complete',
            () => ({
              'merchant.id': key.merchantId,
              'idempotency.key_hash': keyHash(key.merchantId, key.key),
              'charge.id': key.charge.id,
              'card_charge.recovery_point': key.recoveryPoint,
            }),
            async () => {
              const result = await this.cards.advance(key, 'completer');
              setSpanAttributes({ 'card_charge.completer_action': result.kind });
              return result;
            },
          );
          const action = advanced.kind === 'unavailable' ? 'undecided' : advanced.kind;
          this.metrics.countCompleter(action);
          if (action === 'rolled_back') done.rolledBack++;
          else if (action === 'finished') done.finished++;
          else if (action === 'lost_lease') done.lostLease++;
          else done.undecided++;
        }
        if (picked.length < BATCH_SIZE) break;
      }
    } catch (error) {
      this.logger.warn({ msg: 'completer run failed; the next one retries', err: String(error) });
    }
    if (done.rolledBack + done.finished + done.undecided > 0) this.logger.log({ msg: 'completer run', ...done });
    return done;
  }
}
