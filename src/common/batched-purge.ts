import type { Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';

const PURGE_EVERY_MS = 60_000;
const BATCH_SIZE = 1_000;
/** Batches per run: bounded, so one run never holds the database for long. */
const MAX_BATCHES_PER_RUN = 50;

/**
 * A purge that runs every minute in every instance and removes what has outlived its time in
 * batches of 1 000 (at most 50 a run): the idempotency records' and the events'. A subclass says
 * how to remove one batch; runs never overlap, a failed run is logged and the next one retries, and
 * shutdown waits for the run in hand.
 */
export abstract class BatchedPurge implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  protected constructor(
    private readonly logger: Logger,
    /** What the log lines call what is removed ("expired idempotency keys", "old events"). */
    private readonly what: string,
  ) {}

  /** Removes up to `size` rows; returns how many it removed. */
  protected abstract removeBatch(size: number): Promise<number>;

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.purgeOnce(), PURGE_EVERY_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One run: batches until one is not full or the run's bound is reached. Returns rows removed. */
  purgeOnce(): Promise<number> {
    this.running ??= this.purge().finally(() => (this.running = undefined));
    return this.running;
  }

  private async purge(): Promise<number> {
    let removed = 0;
    try {
      for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
        const count = await this.removeBatch(BATCH_SIZE);
        removed += count;
        if (count < BATCH_SIZE) break;
      }
    } catch (error) {
      this.logger.warn({ msg: `purge of ${this.what} failed; will retry`, err: String(error) });
    }
    if (removed > 0) this.logger.log({ msg: `purged ${this.what}`, removed });
    return removed;
  }
}
