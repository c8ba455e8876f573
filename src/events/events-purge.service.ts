import { Inject, Injectable, Logger } from '@nestjs/common';
import { BatchedPurge } from '../common/batched-purge.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { EventsRepository } from './events.repository.js';

/**
 * Removes events older than EVENT_RETENTION_SECONDS (30 days), with their deliveries, in small
 * batches, like the idempotency purge. GET /v1/events serves what is left.
 */
@Injectable()
export class EventsPurgeService extends BatchedPurge {
  constructor(
    private readonly events: EventsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super(new Logger(EventsPurgeService.name), 'old events');
  }

  protected removeBatch(size: number): Promise<number> {
    return this.events.purgeOlderThan(this.config.eventRetentionSeconds, size);
  }
}
