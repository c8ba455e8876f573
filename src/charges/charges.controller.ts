import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { EntityManager } from 'typeorm';
import { ApiProblems, ApiSuccess, IdempotentOperation } from '../common/openapi.js';
import { exactJson } from '../common/exact-json.js';
import { ListOf, type ListPage } from '../common/pagination.js';
import { assertNoFields } from '../common/validation.js';
import { IdempotentPerItem, Items } from '../idempotency/idempotency.decorators.js';
import { Tx } from '../database/tx.decorator.js';
import type { ItemRunner } from '../idempotency/item-runner.js';
import { BatchChargesService } from './batch-charges.service.js';
import { MerchantId } from '../common/auth.decorators.js';
import { ChargesService } from './charges.service.js';
import {
  BalanceDto,
  BatchChargesDto,
  BatchResultDto,
  CaptureChargeDto,
  ChargeDto,
  CreateChargeDto,
  CreateRefundDto,
  ListChargesQueryDto,
  RefundDto,
} from './dto/charge.dto.js';

@ApiTags('charges')
@ApiBearerAuth('api_key')
@ApiProblems(401, 429, 503)
@Controller('v1')
export class ChargesController {
  constructor(
    private readonly charges: ChargesService,
    private readonly batches: BatchChargesService,
  ) {}

  @Post('charges')
  @ApiOperation({
    summary: 'Charge an account.',
    description:
      "Moves `amount` from the `source` account to the merchant's balance (capture: true, status succeeded), or holds it on the source (capture: false, status authorized). 402, 404 (source) and 422 currency_mismatch are recorded against the Idempotency-Key and replayed, even if the account is topped up later.",
  })
  @IdempotentOperation()
  @ApiSuccess({ status: 201, type: ChargeDto, description: 'The charge.', location: true, recorded: true })
  @ApiProblems(402, 404, 413, 415)
  async create(
    @Tx() tx: EntityManager,
    @MerchantId() merchantId: string,
    @Body() body: CreateChargeDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ChargeDto> {
    const charge = await this.charges.create(tx, merchantId, body);
    void reply.header('Location', `/v1/charges/${charge.id}`);
    return charge;
  }

  @Post('charges/batch')
  @HttpCode(200)
  @IdempotentPerItem()
  @ApiOperation({
    summary: 'Up to 100 charges under one Idempotency-Key, each committed on its own.',
    description:
      "Each item is exactly a POST /v1/charges request and gets the status it would have had alone (201, or the recorded 402 / 404 / 422 with its problem). A failing item never undoes another. Each item's outcome is recorded with its effect, so a batch cut off part-way (crash, lost connection: 503/500) and retried with the same key runs only the items that had not committed; a replay of a finished batch is identical. An invalid item makes the whole batch 400 and nothing runs.",
  })
  @IdempotentOperation()
  @ApiSuccess({ status: 200, type: BatchResultDto, description: 'One result per item, in order.', recorded: true })
  @ApiProblems(413, 415)
  batch(@Items() items: ItemRunner, @MerchantId() merchantId: string, @Body() body: BatchChargesDto): Promise<BatchResultDto> {
    return this.batches.run(items, merchantId, body.charges);
  }

  @Post('charges/:id/capture')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Capture an authorised charge, fully or partly.',
    description:
      'At most the authorised amount (default: all of it); the uncaptured rest is released. Only an authorized charge can be captured (409 invalid_state).',
  })
  @IdempotentOperation()
  @ApiSuccess({ status: 200, type: ChargeDto, description: 'The captured charge (status succeeded).', recorded: true })
  @ApiProblems(404, 413, 415)
  capture(
    @Tx() tx: EntityManager,
    @MerchantId() merchantId: string,
    @Param('id') id: string,
    @Body() body: CaptureChargeDto,
  ): Promise<ChargeDto> {
    return this.charges.capture(tx, merchantId, id, body);
  }

  @Post('charges/:id/cancel')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Cancel an authorised charge, releasing the hold.',
    description: 'The body may be empty or absent. Only an authorized charge can be canceled (409 invalid_state).',
  })
  @IdempotentOperation()
  @ApiBody({ required: false, description: 'No fields.', schema: { type: 'object', additionalProperties: false } })
  @ApiSuccess({ status: 200, type: ChargeDto, description: 'The canceled charge.', recorded: true })
  @ApiProblems(404, 413, 415)
  cancel(@Tx() tx: EntityManager, @MerchantId() merchantId: string, @Param('id') id: string, @Body() body: unknown): Promise<ChargeDto> {
    assertNoFields(body);
    return this.charges.cancel(tx, merchantId, id);
  }

  @Post('charges/:id/refunds')
  @ApiOperation({
    summary: 'Refund a captured charge, fully or partly; many refunds per charge.',
    description: 'Default amount: all that is left. Refunds never sum to more than amount_captured (409 invalid_state).',
  })
  @IdempotentOperation()
  @ApiSuccess({ status: 201, type: RefundDto, description: 'The refund.', recorded: true })
  @ApiProblems(404, 413, 415)
  refund(
    @Tx() tx: EntityManager,
    @MerchantId() merchantId: string,
    @Param('id') id: string,
    @Body() body: CreateRefundDto,
  ): Promise<RefundDto> {
    return this.charges.refund(tx, merchantId, id, body);
  }

  @Get('charges')
  @ApiOperation({ summary: 'List charges, newest first.' })
  @ApiSuccess({ status: 200, type: ListOf(ChargeDto), description: 'A page of charges.' })
  @ApiProblems(400, 404)
  list(@MerchantId() merchantId: string, @Query() query: ListChargesQueryDto): Promise<ListPage<ChargeDto>> {
    return this.charges.list(merchantId, query);
  }

  @Get('charges/:id')
  @ApiOperation({ summary: 'Retrieve a charge.' })
  @ApiSuccess({ status: 200, type: ChargeDto, description: 'The charge.' })
  @ApiProblems(404)
  get(@MerchantId() merchantId: string, @Param('id') id: string): Promise<ChargeDto> {
    return this.charges.get(merchantId, id);
  }

  @Get('balance')
  @ApiOperation({ summary: "The merchant's balance per currency." })
  @ApiSuccess({ status: 200, type: BalanceDto, description: 'Available and pending funds.' })
  async balance(@MerchantId() merchantId: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    void reply.type('application/json; charset=utf-8');
    return exactJson(await this.charges.balance(merchantId));
  }
}
