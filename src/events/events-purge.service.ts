import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { EventsRepository } from './events.repository.js';

const PURGE_EVERY_MS = 60_000;
const BATCH_SIZE = 1_000;
/** Batches per run: bounded, so one run never holds the database for long. */
const MAX_BATCHES_PER_RUN = 50;

/**
 * Removes events older than EVENT_RETENTION_SECONDS (30 days), with their deliveries, in small
 * batches, like the idempotency purge. GET /v1/events serves what is left.
 */
@Injectable()
export class EventsPurgeService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EventsPurgeService.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly events: EventsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.purgeOnce(), PURGE_EVERY_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One run: batches until none is full or the run's bound is reached. Returns events removed. */
  purgeOnce(): Promise<number> {
    this.running ??= this.purge().finally(() => (this.running = undefined));
    return this.running;
  }

  private async purge(): Promise<number> {
    let removed = 0;
    try {
      for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
        const count = await this.events.purgeOlderThan(this.config.eventRetentionSeconds, BATCH_SIZE);
        removed += count;
        if (count < BATCH_SIZE) break;
      }
    } catch (error) {
      this.logger.warn({ msg: 'event purge failed; will retry', err: String(error) });
    }
    if (removed > 0) this.logger.log({ msg: 'purged old events', removed });
    return removed;
  }
}
