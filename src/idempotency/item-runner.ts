import { DomainError } from '../common/domain-error.js';
import { problemOf, type ProblemBody } from '../common/problem.js';
import type { Sql, SqlTransaction } from '../database/sql.js';
import { BatchItemsRepository } from './batch-items.repository.js';
import { IdempotencyKeyReusedError } from './idempotency.errors.js';
import { IdempotencyRepository, type KeyedCall } from './idempotency.repository.js';

/** One item's answer: its success value, or the business problem it was refused with. */
export type ItemOutcome<T> =
  { status: number; value: T; problem?: undefined } | { status: number; value?: undefined; problem: ProblemBody };

/**
 * Runs the items of a request that commits item by item (POST /v1/charges/batch), each at most
 * once for its Idempotency-Key, however often or however concurrently the request is retried.
 *
 * Each item runs in a transaction of its own that also
 * - claims the request's key, until one such transaction has committed: the claim commits with the
 *   first effect, so the key belongs to this request before any effect of it is visible, and a
 *   request with the key that took it first (a single charge, another batch) makes this one 422
 *   before anything ran;
 * - takes the item's lock and replays its record when it has one (a retry of a batch that was cut
 *   off part-way, or a twin run of the same batch), or runs it and records its outcome with it.
 *
 * A business outcome (402, 404, 422) is the item's answer and is recorded; any other error stops
 * the request, leaving the items that committed recorded for its retry.
 */
export class ItemRunner {
  private claimCommitted = false;

  constructor(
    private readonly sql: Sql,
    private readonly keys: IdempotencyRepository,
    private readonly items: BatchItemsRepository,
    private readonly call: KeyedCall,
    private readonly ttlSeconds: number,
  ) {}

  async run<T>(index: number, successStatus: number, effect: (tx: SqlTransaction) => Promise<T>): Promise<ItemOutcome<T>> {
    const outcome = await this.sql.transaction(async (tx): Promise<ItemOutcome<T>> => {
      if (!this.claimCommitted && (await this.keys.claim(tx, this.call, this.ttlSeconds)) === 'taken') {
        throw new IdempotencyKeyReusedError();
      }
      const recorded = await this.items.lockAndFind(tx, this.call, index);
      if (recorded) return JSON.parse(recorded) as ItemOutcome<T>;
      let outcome: ItemOutcome<T>;
      try {
        outcome = { status: successStatus, value: await effect(tx) };
      } catch (error) {
        if (!(error instanceof DomainError) || !error.recorded) throw error;
        outcome = { status: error.status, problem: problemOf(error) };
      }
      await this.items.save(tx, this.call, index, {
        fingerprint: this.call.fingerprint,
        status: outcome.status,
        body: JSON.stringify(outcome),
      });
      return outcome;
    });
    this.claimCommitted = true;
    return outcome;
  }
}
