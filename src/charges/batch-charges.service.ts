import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DomainError } from '../common/domain-error.js';
import { problemOf, type ProblemBody } from '../common/problem.js';
import { runTransaction } from '../database/transaction.js';
import { BatchItemsRepository } from '../idempotency/batch-items.repository.js';
import { IdempotencyKeyReusedError } from '../idempotency/idempotency.errors.js';
import { ChargesService } from './charges.service.js';
import type { BatchItemResultDto, BatchResultDto, ChargeDto, CreateChargeDto } from './dto/charge.dto.js';

export interface BatchKey {
  merchantId: string;
  key: string;
  fingerprint: string;
}

/**
 * POST /v1/charges/batch: each item is a charge committed on its own, in its own transaction, with
 * its outcome recorded in that transaction. A failing item never undoes another; a batch cut off
 * part-way and retried with the same key runs only the items that have no record yet.
 */
@Injectable()
export class BatchChargesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly charges: ChargesService,
    private readonly items: BatchItemsRepository,
  ) {}

  async run(batch: BatchKey, requests: CreateChargeDto[]): Promise<BatchResultDto> {
    const results: BatchItemResultDto[] = [];
    // One after the other: each item's transaction is short, and the order of effects is the
    // order of the request, whatever the retries.
    for (const [index, request] of requests.entries()) {
      results.push(await this.runItem(batch, index, request));
    }
    return { object: 'batch', results };
  }

  private runItem(batch: BatchKey, index: number, request: CreateChargeDto): Promise<BatchItemResultDto> {
    return runTransaction(this.dataSource, async (tx) => {
      const recorded = await this.items.lockAndFind(tx, batch.merchantId, batch.key, index);
      if (recorded) {
        if (recorded.fingerprint !== batch.fingerprint) throw new IdempotencyKeyReusedError();
        return { index, ...(JSON.parse(recorded.body) as Omit<BatchItemResultDto, 'index'>) };
      }
      let outcome: { status: number; charge?: ChargeDto; error?: ProblemBody };
      try {
        outcome = { status: 201, charge: await this.charges.create(tx, batch.merchantId, request) };
      } catch (error) {
        // A business outcome (402, 404, 422) is this item's answer; anything else stops the batch.
        if (!(error instanceof DomainError) || !error.recorded) throw error;
        outcome = { status: error.status, error: problemOf(error) };
      }
      await this.items.save(tx, batch.merchantId, batch.key, index, {
        fingerprint: batch.fingerprint,
        status: outcome.status,
        body: JSON.stringify(outcome),
      });
      return { index, ...outcome };
    });
  }
}
