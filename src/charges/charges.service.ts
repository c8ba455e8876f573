import { Injectable } from '@nestjs/common';
import type { SqlTransaction } from '../database/sql.js';
import { DomainError, NotFoundError } from '../common/domain-error.js';
import { newId } from '../common/ids.js';
import { ListPage, listPage } from '../common/pagination.js';
import type { EventType } from '../events/event-types.js';
import { EventsService } from '../events/events.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { CurrencyMismatchError, InsufficientFundsError, InvalidStateError } from './charges.errors.js';
import { ChargeRow, ChargesRepository, type NewCharge, RefundRow } from './charges.repository.js';
export type { ChargeRow };
import type { CaptureChargeDto, ChargeDto, CreateChargeDto, CreateRefundDto, ListChargesQueryDto, RefundDto } from './dto/charge.dto.js';

export function toChargeDto(row: ChargeRow): ChargeDto {
  const amountCaptured = Number(row.amount_captured);
  const amountRefunded = Number(row.amount_refunded);
  // A card charge has its payment method (and decline code) instead of a source; a wallet charge's
  // answer is as it always was.
  const card = row.payment_method === null ? {} : { payment_method: row.payment_method, decline_code: row.decline_code };
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
    ...card,
  };
}

function toRefundDto(row: RefundRow): RefundDto {
  return {
    id: row.id,
    object: 'refund',
    charge: row.charge_id,
    amount: Number(row.amount),
    currency: row.currency,
    reason: row.reason,
    status: row.status,
    created_at: row.created_at.toISOString(),
  };
}

/** BalanceDto as the service computes it, with exact totals. */
export interface ExactBalance {
  object: 'balance';
  available: { currency: string; amount: bigint }[];
  pending: { currency: string; amount: bigint }[];
}

@Injectable()
export class ChargesService {
  constructor(
    private readonly charges: ChargesRepository,
    private readonly metrics: MetricsService,
    private readonly events: EventsService,
  ) {}

  /** One statement decides and does it all; an empty result is explained as 404, 422 or 402. */
  async create(tx: SqlTransaction, merchantId: string, body: CreateChargeDto): Promise<ChargeDto> {
    const started = performance.now();
    const capture = body.capture ?? true;
    let outcome = capture ? 'succeeded' : 'authorized';
    try {
      // Validation requires a source when there is no payment_method; a card charge never gets here.
      if (body.source === undefined) throw new Error('a wallet charge without a source');
      const charge: NewCharge = {
        id: newId('ch'),
        sourceAccountId: body.source,
        amount: body.amount,
        currency: body.currency,
        description: body.description ?? null,
        metadata: body.metadata ?? {},
      };
      const attempt = capture
        ? await this.charges.createCaptured(tx, merchantId, charge, [newId('ent'), newId('ent')])
        : await this.charges.createAuthorized(tx, merchantId, charge);
      if (attempt.charge) {
        const created = toChargeDto(attempt.charge);
        this.events.record(tx, merchantId, capture ? 'charge.succeeded' : 'charge.authorized', created);
        return created;
      }
      if (attempt.sourceCurrency === null) throw new NotFoundError('account', charge.sourceAccountId);
      if (attempt.sourceCurrency !== body.currency) throw new CurrencyMismatchError(body.currency, attempt.sourceCurrency);
      throw new InsufficientFundsError(body.amount, body.currency);
    } catch (error) {
      outcome = error instanceof DomainError ? error.code : 'error';
      throw error;
    } finally {
      this.metrics.observeCharge(outcome, (performance.now() - started) / 1000);
    }
  }

  /** authorized -> succeeded: take all or part of the hold, release the rest. */
  async capture(tx: SqlTransaction, merchantId: string, id: string, body: CaptureChargeDto): Promise<ChargeDto> {
    const attempt = await this.charges.capture(tx, merchantId, id, body.amount ?? null, [newId('ent'), newId('ent')]);
    if (attempt.result) return this.recorded(tx, merchantId, 'charge.captured', toChargeDto(attempt.result));
    if (!attempt.found) throw new NotFoundError('charge', id);
    if (attempt.found.status !== 'authorized') {
      throw new InvalidStateError(`Only an authorized charge can be captured; this one is ${attempt.found.status}.`);
    }
    throw new InvalidStateError(`Cannot capture ${body.amount}: only ${attempt.found.amount} was authorised.`);
  }

  /** authorized -> canceled: release the hold. */
  async cancel(tx: SqlTransaction, merchantId: string, id: string): Promise<ChargeDto> {
    const attempt = await this.charges.cancel(tx, merchantId, id);
    if (attempt.result) return this.recorded(tx, merchantId, 'charge.canceled', toChargeDto(attempt.result));
    if (!attempt.found) throw new NotFoundError('charge', id);
    throw new InvalidStateError(`Only an authorized charge can be canceled; this one is ${attempt.found.status}.`);
  }

  /** Give back part or all of what is left of a captured charge. */
  async refund(tx: SqlTransaction, merchantId: string, chargeId: string, body: CreateRefundDto): Promise<RefundDto> {
    const attempt = await this.charges.refund(tx, merchantId, chargeId, {
      id: newId('re'),
      amount: body.amount ?? null,
      reason: body.reason ?? null,
      entryIds: [newId('ent'), newId('ent')],
    });
    if (attempt.result) return this.recorded(tx, merchantId, 'charge.refunded', toRefundDto(attempt.result));
    const found = attempt.found;
    if (!found) throw new NotFoundError('charge', chargeId);
    if (found.status !== 'succeeded') throw new InvalidStateError(`Only a captured charge can be refunded; this one is ${found.status}.`);
    const left = found.amountCaptured - found.amountRefunded;
    if (left === 0) throw new InvalidStateError('This charge is already fully refunded.');
    // The amount fits, so the statement refused a card charge: its refund would go through the acquirer.
    if ((body.amount ?? left) <= left) throw new InvalidStateError('A card charge cannot be refunded through this API yet.');
    throw new InvalidStateError(`Cannot refund ${body.amount}: only ${left} of the captured amount is left to refund.`);
  }

  /** The effect's event, with its commit; the object as answered. */
  private recorded<T extends object>(tx: SqlTransaction, merchantId: string, type: EventType, object: T): T {
    this.events.record(tx, merchantId, type, object);
    return object;
  }

  async get(merchantId: string, id: string): Promise<ChargeDto> {
    const row = await this.charges.find(merchantId, id);
    if (!row) throw new NotFoundError('charge', id);
    return toChargeDto(row);
  }

  async list(merchantId: string, query: ListChargesQueryDto): Promise<ListPage<ChargeDto>> {
    return listPage(
      query,
      {
        what: 'charge',
        positionOf: (id) => this.charges.seqOf(merchantId, id),
        rows: (limit, afterSeq) => this.charges.list(merchantId, limit, afterSeq, query.source),
      },
      toChargeDto,
    );
  }

  /**
   * Totals are bigints: a merchant's total can pass 2^53, where a JavaScript number would round
   * it. The controller writes them as exact JSON integers (exactJson).
   */
  async balance(merchantId: string): Promise<ExactBalance> {
    const { available, pending } = await this.charges.balances(merchantId);
    const amounts = (rows: { currency: string; amount: string }[]) =>
      rows.map((row) => ({ currency: row.currency, amount: BigInt(row.amount) }));
    return { object: 'balance', available: amounts(available), pending: amounts(pending) };
  }
}
