import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { SqlTransaction } from '../database/sql.js';
import {
  ApiIdParam,
  ApiJsonBody,
  ApiProblems,
  ApiSuccess,
  AUTHENTICATED_PROBLEMS,
  BODY_PROBLEMS,
  IDEMPOTENCY_PROBLEMS,
  IdempotencyKeyHeader,
  recorded,
} from '../common/openapi.js';
import { exactJson } from '../common/exact-json.js';
import { ListOf, type ListPage } from '../common/pagination.js';
import { assertNoFields } from '../common/validation.js';
import { IdempotentPerItem, Items, KeyedCallOf, PhasedWhen, type PhasedAnswer } from '../idempotency/idempotency.decorators.js';
import type { KeyedCall } from '../idempotency/idempotency.types.js';
import { CardChargesService } from '../card-charges/card-charges.service.js';
import { ApiPending, assertCardCharge, isCardChargeBody } from '../card-charges/card-charge-requests.js';
import { MaybeTx, Tx } from '../database/tx.decorator.js';
import { RequiresScope } from '../api-keys/scopes.js';
import type { ItemRunner } from '../idempotency/item-runner.js';
import { BatchChargesService } from './batch-charges.service.js';
import { MerchantId } from '../common/auth.decorators.js';
import { ChargesService } from './charges.service.js';
import {
  BALANCE_EXAMPLE,
  BalanceDto,
  BATCH_EXAMPLE,
  BATCH_RESULT_EXAMPLE,
  BatchChargesDto,
  BatchResultDto,
  CancelChargeDto,
  CaptureChargeDto,
  CHARGE_EXAMPLE,
  ChargeDto,
  CREATE_CHARGE_EXAMPLE,
  CreateChargeDto,
  CreateRefundDto,
  ListChargesQueryDto,
  REFUND_EXAMPLE,
  RefundDto,
} from './dto/charge.dto.js';

const CHARGE_ID = ApiIdParam('The charge id (ch_...).', 'ch_Lx9T2mQv0aBn7pW4');
/** What every charge write can answer besides its own outcomes. */
const WRITE_PROBLEMS = ['validation_failed', ...IDEMPOTENCY_PROBLEMS, ...BODY_PROBLEMS, ...AUTHENTICATED_PROBLEMS] as const;
/** Every read: a bad query or path (a NUL, a malformed %-escape) is a 400. */
const READ_PROBLEMS = ['validation_failed', ...AUTHENTICATED_PROBLEMS] as const;

@ApiTags('charges')
@ApiBearerAuth('api_key')
@Controller('v1')
export class ChargesController {
  constructor(
    private readonly charges: ChargesService,
    private readonly batches: BatchChargesService,
    private readonly cards: CardChargesService,
  ) {}

  @Post('charges')
  @RequiresScope('charges:write')
  @PhasedWhen(isCardChargeBody)
  @ApiOperation({
    operationId: 'createCharge',
    summary: 'Charge an account, or a card through the acquirer.',
    description:
      "With `source`: moves `amount` from the source account to the merchant's balance (capture true, the default: status succeeded), or holds it on the source (capture false: status authorized, captured or canceled later). 402 insufficient_funds, 404 (the source) and 422 currency_mismatch are recorded against the Idempotency-Key and replayed, even if the account is topped up later.\n\nWith `payment_method` (pm_...): a card charge, captured by the acquirer in phases (docs/API.md, Card charges). 201 succeeded or 402 card_declined once the acquirer answered definitively, both recorded. 202 with the pending charge (not recorded) when no definitive answer came within CHARGE_WAIT_MS: poll Location, or repeat the POST with the same key and body until it is 201 or 402. 409 idempotency_request_in_progress while another request drives the key. 503 acquirer_unavailable (not recorded) when the acquirer's circuit is open and nothing was sent.",
  })
  @IdempotencyKeyHeader()
  @ApiJsonBody({ type: CreateChargeDto, required: true, example: CREATE_CHARGE_EXAMPLE })
  @ApiSuccess({ status: 201, type: ChargeDto, description: 'The charge.', example: CHARGE_EXAMPLE, location: true, recorded: 'always' })
  @ApiPending()
  @ApiProblems(
    ...WRITE_PROBLEMS,
    recorded('insufficient_funds'),
    recorded('card_declined'),
    recorded('not_found'),
    recorded('currency_mismatch'),
    'acquirer_unavailable',
  )
  async create(
    @MaybeTx() tx: SqlTransaction | undefined,
    @KeyedCallOf() call: KeyedCall | undefined,
    @MerchantId() merchantId: string,
    @Body() body: CreateChargeDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ChargeDto | PhasedAnswer> {
    if (body.payment_method !== undefined) {
      if (!call) throw new Error('a card charge reached the handler without its key');
      assertCardCharge(body);
      return { phased: true, ...(await this.cards.create(call, body, body.payment_method)) };
    }
    if (!tx) throw new Error('a wallet charge reached the handler without its transaction');
    const charge = await this.charges.create(tx, merchantId, body);
    void reply.header('Location', `/v1/charges/${charge.id}`);
    return charge;
  }

  @Post('charges/batch')
  @RequiresScope('charges:write')
  @HttpCode(200)
  @IdempotentPerItem()
  @ApiOperation({
    operationId: 'createChargeBatch',
    summary: 'Up to 100 charges under one Idempotency-Key, each committed on its own.',
    description:
      "Each item is exactly a POST /v1/charges request and gets the status it would have had alone (201, or the recorded 402 / 404 / 422 with its problem). A failing item never undoes another. Each item's outcome is recorded with its effect, so a batch cut off part-way (crash, lost connection: 503/500) and retried with the same key runs only the items that had not committed; a replay of a finished batch is identical. An invalid item makes the whole batch 400 and nothing runs.",
  })
  @IdempotencyKeyHeader()
  @ApiJsonBody({ type: BatchChargesDto, required: true, example: BATCH_EXAMPLE })
  @ApiSuccess({
    status: 200,
    type: BatchResultDto,
    description: 'One result per item, in order.',
    example: BATCH_RESULT_EXAMPLE,
    recorded: 'always',
  })
  @ApiProblems(...WRITE_PROBLEMS)
  batch(@Items() items: ItemRunner, @MerchantId() merchantId: string, @Body() body: BatchChargesDto): Promise<BatchResultDto> {
    return this.batches.run(items, merchantId, body.charges);
  }

  @Post('charges/:id/capture')
  @RequiresScope('charges:write')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'captureCharge',
    summary: 'Capture an authorised charge, fully or partly.',
    description:
      'At most the authorised amount (default: all of it); the uncaptured rest is released. The body may be left out. Only an authorized charge can be captured (409 invalid_state).',
  })
  @CHARGE_ID
  @IdempotencyKeyHeader()
  @ApiJsonBody({ type: CaptureChargeDto, required: false, example: { amount: 1500 } })
  @ApiSuccess({
    status: 200,
    type: ChargeDto,
    description: 'The captured charge (status succeeded).',
    example: { ...CHARGE_EXAMPLE, amount_captured: 1500 },
    recorded: 'always',
  })
  @ApiProblems(...WRITE_PROBLEMS, recorded('not_found'), recorded('invalid_state'))
  capture(
    @Tx() tx: SqlTransaction,
    @MerchantId() merchantId: string,
    @Param('id') id: string,
    @Body() body: CaptureChargeDto,
  ): Promise<ChargeDto> {
    return this.charges.capture(tx, merchantId, id, body);
  }

  @Post('charges/:id/cancel')
  @RequiresScope('charges:write')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'cancelCharge',
    summary: 'Cancel an authorised charge, releasing the hold.',
    description: 'Takes no fields: the body may be left out or be {}. Only an authorized charge can be canceled (409 invalid_state).',
  })
  @CHARGE_ID
  @IdempotencyKeyHeader()
  @ApiJsonBody({ type: CancelChargeDto, required: false, description: 'No fields.', example: {} })
  @ApiSuccess({
    status: 200,
    type: ChargeDto,
    description: 'The canceled charge.',
    example: { ...CHARGE_EXAMPLE, status: 'canceled', captured: false, amount_captured: 0 },
    recorded: 'always',
  })
  @ApiProblems(...WRITE_PROBLEMS, recorded('not_found'), recorded('invalid_state'))
  cancel(@Tx() tx: SqlTransaction, @MerchantId() merchantId: string, @Param('id') id: string, @Body() body: unknown): Promise<ChargeDto> {
    assertNoFields(body);
    return this.charges.cancel(tx, merchantId, id);
  }

  @Post('charges/:id/refunds')
  @RequiresScope('charges:write')
  @ApiOperation({
    operationId: 'refundCharge',
    summary: 'Refund a captured charge, fully or partly; many refunds per charge.',
    description:
      'Default amount: all that is left; the body may be left out. Refunds never sum to more than amount_captured (409 invalid_state).',
  })
  @CHARGE_ID
  @IdempotencyKeyHeader()
  @ApiJsonBody({ type: CreateRefundDto, required: false, example: { amount: 500, reason: 'requested_by_customer' } })
  @ApiSuccess({ status: 201, type: RefundDto, description: 'The refund.', example: REFUND_EXAMPLE, recorded: 'always' })
  @ApiProblems(...WRITE_PROBLEMS, recorded('not_found'), recorded('invalid_state'), 'balance_limit_exceeded')
  refund(
    @Tx() tx: SqlTransaction,
    @MerchantId() merchantId: string,
    @Param('id') id: string,
    @Body() body: CreateRefundDto,
  ): Promise<RefundDto> {
    return this.charges.refund(tx, merchantId, id, body);
  }

  @Get('charges')
  @RequiresScope('charges:read')
  @ApiOperation({
    operationId: 'listCharges',
    summary: 'List charges, newest first.',
    description: "A page of the merchant's charges, optionally of one source account; starting_after an unknown id is 404.",
  })
  @ApiSuccess({
    status: 200,
    type: ListOf(ChargeDto),
    description: 'A page of charges.',
    example: { object: 'list', data: [CHARGE_EXAMPLE], has_more: false },
  })
  @ApiProblems(...READ_PROBLEMS, 'not_found')
  list(@MerchantId() merchantId: string, @Query() query: ListChargesQueryDto): Promise<ListPage<ChargeDto>> {
    return this.charges.list(merchantId, query);
  }

  @Get('charges/:id')
  @RequiresScope('charges:read')
  @ApiOperation({
    operationId: 'getCharge',
    summary: 'Retrieve a charge.',
    description: 'A charge of this merchant; any other id is 404.',
  })
  @CHARGE_ID
  @ApiSuccess({ status: 200, type: ChargeDto, description: 'The charge.', example: CHARGE_EXAMPLE })
  @ApiProblems(...READ_PROBLEMS, 'not_found')
  get(@MerchantId() merchantId: string, @Param('id') id: string): Promise<ChargeDto> {
    return this.charges.get(merchantId, id);
  }

  @Get('balance')
  @RequiresScope('balance:read')
  @ApiOperation({
    operationId: 'getBalance',
    summary: "The merchant's balance per currency.",
    description:
      'Available: captured charges net of refunds; pending: authorised, not yet captured. Totals are exact integers and may pass 2^53 - 1.',
  })
  @ApiSuccess({ status: 200, type: BalanceDto, description: 'Available and pending funds.', example: BALANCE_EXAMPLE })
  @ApiProblems(...READ_PROBLEMS)
  async balance(@MerchantId() merchantId: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    void reply.type('application/json; charset=utf-8');
    return exactJson(await this.charges.balance(merchantId));
  }
}
