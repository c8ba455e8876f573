import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { DomainError, NotFoundError } from '../common/domain-error.js';
import { newId } from '../common/ids.js';
import { DEFAULT_LIMIT, ListPage, toPage } from '../common/pagination.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { CurrencyMismatchError, InsufficientFundsError } from './charges.errors.js';
import { ChargeRow, ChargesRepository } from './charges.repository.js';
import type { BalanceDto, ChargeDto, CreateChargeDto, ListChargesQueryDto } from './dto/charge.dto.js';

export function toChargeDto(row: ChargeRow): ChargeDto {
  const amountCaptured = Number(row.amount_captured);
  const amountRefunded = Number(row.amount_refunded);
  return {
    id: row.id,
    object: 'charge',
    amount: Number(row.amount),
    currency: row.currency,
    source: row.source_account_id,
    status: row.status,
    captured: amountCaptured > 0,
    amount_captured: amountCaptured,
    amount_refunded: amountRefunded,
    refunded: amountCaptured > 0 && amountRefunded === amountCaptured,
    description: row.description,
    metadata: row.metadata,
    created_at: row.created_at.toISOString(),
  };
}

@Injectable()
export class ChargesService {
  constructor(
    private readonly charges: ChargesRepository,
    private readonly metrics: MetricsService,
  ) {}

  /** One statement decides and does it all; an empty result is explained as 404, 422 or 402. */
  async create(tx: EntityManager, merchantId: string, body: CreateChargeDto): Promise<ChargeDto> {
    const started = performance.now();
    const capture = body.capture ?? true;
    let outcome = capture ? 'succeeded' : 'authorized';
    try {
      const attempt = await this.charges.create(
        tx,
        merchantId,
        {
          id: newId('ch'),
          sourceAccountId: body.source,
          amount: body.amount,
          currency: body.currency,
          description: body.description ?? null,
          metadata: body.metadata ?? {},
          entryIds: [newId('ent'), newId('ent')],
        },
        capture,
      );
      if (attempt.charge) return toChargeDto(attempt.charge);
      if (attempt.sourceCurrency === null) throw new NotFoundError('account', body.source);
      if (attempt.sourceCurrency !== body.currency) throw new CurrencyMismatchError(body.currency, attempt.sourceCurrency);
      throw new InsufficientFundsError(body.amount, body.currency);
    } catch (error) {
      outcome = error instanceof DomainError ? error.code : 'error';
      throw error;
    } finally {
      this.metrics.observeCharge(outcome, (performance.now() - started) / 1000);
    }
  }

  async get(merchantId: string, id: string): Promise<ChargeDto> {
    const row = await this.charges.find(merchantId, id);
    if (!row) throw new NotFoundError('charge', id);
    return toChargeDto(row);
  }

  async list(merchantId: string, query: ListChargesQueryDto): Promise<ListPage<ChargeDto>> {
    const limit = query.limit ?? DEFAULT_LIMIT;
    let afterSeq: string | undefined;
    if (query.starting_after !== undefined) {
      afterSeq = await this.charges.seqOf(merchantId, query.starting_after);
      if (afterSeq === undefined) throw new NotFoundError('charge', query.starting_after);
    }
    return toPage(await this.charges.list(merchantId, limit, afterSeq, query.source), limit, toChargeDto);
  }

  async balance(merchantId: string): Promise<BalanceDto> {
    const { available, pending } = await this.charges.balances(merchantId);
    const amounts = (rows: { currency: string; amount: string }[]) => rows.map((row) => ({ currency: row.currency, amount: Number(row.amount) }));
    return { object: 'balance', available: amounts(available), pending: amounts(pending) };
  }
}
