import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { inSpan } from '../telemetry/spans.js';
import type { SqlTransaction } from '../database/sql.js';
import { IdempotencyRepository, type KeyedCall, type KeyRef, type RecordedResponse } from './idempotency.repository.js';
import type { ClaimAnswer, IdempotencyStore, OpenedKey } from './idempotency.service.js';

/** The idempotency store of the service: PostgreSQL, through IdempotencyRepository. */
@Injectable()
export class PostgresIdempotencyStore implements IdempotencyStore<SqlTransaction> {
  constructor(
    private readonly repository: IdempotencyRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async open(call: KeyedCall): Promise<OpenedKey<SqlTransaction>> {
    const tx = await this.repository.open(call);
    const claim = tx.opened.then(
      (): ClaimAnswer => ({ claimed: true }),
      async (error: unknown): Promise<ClaimAnswer> => {
        if (!IdempotencyRepository.refusedKey(error)) throw error;
        return { claimed: false, stored: IdempotencyRepository.foundAtOpening(await tx.before) };
      },
    );
    return {
      transaction: tx,
      claim,
      recordAndCommit: (response: RecordedResponse) =>
        inSpan('idempotency.record', {}, () => this.repository.recordAndCommit(tx, call, response, this.config.idempotencyTtlSeconds)),
      end: () => tx.end(),
    };
  }

  find(key: KeyRef) {
    return this.repository.find(key);
  }

  look(key: KeyRef) {
    return this.repository.look(key);
  }

  complete(call: KeyedCall, response: RecordedResponse) {
    return this.repository.complete(call, response);
  }

  confirmOnStandby() {
    return this.repository.confirmOnStandby();
  }
}
