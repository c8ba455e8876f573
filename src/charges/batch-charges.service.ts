import { Injectable } from '@nestjs/common';
import { ValidationFailedError } from '../common/domain-error.js';
import type { ItemRunner } from '../idempotency/item-runner.js';
import { ChargesService } from './charges.service.js';
import type { BatchItemResultDto, BatchResultDto, ChargeDto, CreateChargeDto } from './dto/charge.dto.js';

/**
 * POST /v1/charges/batch: each item is exactly a POST /v1/charges, committed on its own. The
 * ItemRunner makes each run at most once for the batch's key (see idempotency/item-runner.ts).
 */
@Injectable()
export class BatchChargesService {
  constructor(private readonly charges: ChargesService) {}

  async run(items: ItemRunner, merchantId: string, requests: CreateChargeDto[]): Promise<BatchResultDto> {
    const cards = requests.flatMap((request, index) => (request.payment_method === undefined ? [] : [index]));
    if (cards.length > 0) {
      // A card charge has phases of its own (card-charges/), which an item's one transaction cannot hold.
      throw new ValidationFailedError(
        cards.map((index) => ({ field: `charges.${index}.payment_method`, message: 'a batch takes wallet charges (source) only' })),
      );
    }
    const results: BatchItemResultDto[] = [];
    // One after the other: each item's transaction is short, and the order of effects is the
    // order of the request, whatever the retries.
    for (const [index, request] of requests.entries()) {
      const outcome = await items.run<ChargeDto>(index, 201, (tx) => this.charges.create(tx, merchantId, request));
      results.push(
        outcome.problem
          ? { index, status: outcome.status, error: outcome.problem }
          : { index, status: outcome.status, charge: outcome.value },
      );
    }
    return { object: 'batch', results };
  }
}
